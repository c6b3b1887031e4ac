// Renders public/icons/icon.svg to the PNG sizes the web manifest lists,
// using the system Chromium. Run with `npm run icons` after changing the SVG;
// the PNGs are committed so builds need no browser.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const svg = readFileSync(new URL('../public/icons/icon.svg', import.meta.url), 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  const targets = [
    { file: 'icon-192.png', size: 192, padding: 0 },
    { file: 'icon-512.png', size: 512, padding: 0 },
    // Maskable icons keep their content inside the central 80% safe zone.
    { file: 'maskable-512.png', size: 512, padding: 0.12, background: '#4f3fd1' },
  ];
  for (const target of targets) {
    await page.setViewportSize({ width: target.size, height: target.size });
    const inset = Math.round(target.size * target.padding);
    const inner = svg.replace('<svg ', `<svg width="${target.size - inset * 2}" height="${target.size - inset * 2}" `);
    await page.setContent(
      `<html><body style="margin:0;background:${target.background ?? 'transparent'};display:grid;place-items:center;width:${target.size}px;height:${target.size}px">${inner}</body></html>`,
    );
    await page.screenshot({ path: new URL(`../public/icons/${target.file}`, import.meta.url).pathname, omitBackground: !target.background });
    console.log(`wrote ${target.file}`);
  }
} finally {
  await browser.close();
}
