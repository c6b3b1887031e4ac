/// <reference types="vitest/config" />
// Build configuration for the web client. The output in dist/ is embedded in
// the conclave binary, so everything it needs must be inside it: no CDN.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';

/** Files from public/ that belong to the app shell. */
const PUBLIC_SHELL_FILES = [
  '/manifest.webmanifest',
  '/icons/icon.svg',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/maskable-512.png',
];

/**
 * Emits sw.js with the exact list of built files to precache, so the service
 * worker caches the app shell (and only it) and its cache name changes with
 * every build.
 */
function serviceWorker(): Plugin {
  return {
    name: 'conclave-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const built = Object.keys(bundle)
        .filter((name) => !name.endsWith('.map'))
        .map((name) => `/${name}`)
        .sort();
      const shell = ['/', ...PUBLIC_SHELL_FILES, ...built];
      const version = createHash('sha256').update(shell.join('\n')).digest('hex').slice(0, 12);
      const template = readFileSync(new URL('./sw/service-worker.js', import.meta.url), 'utf8');
      const source = template
        .replace('__SHELL_FILES__', JSON.stringify(shell))
        .replace('__CACHE_VERSION__', JSON.stringify(version));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [serviceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
      '/readyz': 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
