//! Authenticated media: <img>, <video> and <audio> cannot send the bearer
//! header, so files are fetched with it and shown through object URLs,
//! shared between views and revoked when the last view lets go.

import { useEffect, useState } from 'preact/hooks';
import type { ApiClient } from '../api/client';

interface Entry {
  users: number;
  promise: Promise<string>;
  url: string | null;
  controller: AbortController;
}

const cache = new Map<string, Entry>();

function acquire(api: ApiClient, path: string): Entry {
  let entry = cache.get(path);
  if (!entry) {
    const controller = new AbortController();
    const created: Entry = {
      users: 0,
      url: null,
      controller,
      promise: api.fileBlob(path, controller.signal).then((blob) => {
        created.url = URL.createObjectURL(blob);
        return created.url;
      }),
    };
    created.promise.catch(() => cache.delete(path));
    cache.set(path, created);
    entry = created;
  }
  entry.users += 1;
  return entry;
}

function release(path: string): void {
  const entry = cache.get(path);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users > 0) return;
  // Keep it briefly: a re-render often lets go and takes it again at once.
  setTimeout(() => {
    if (entry.users > 0 || cache.get(path) !== entry) return;
    cache.delete(path);
    if (entry.url) URL.revokeObjectURL(entry.url);
    else entry.controller.abort();
  }, 10_000);
}

export type BlobState = { status: 'loading' } | { status: 'ready'; url: string } | { status: 'error' };

/** An object URL for an API file path (for example /files/4/thumbnail), or null to skip. */
export function useBlobUrl(api: ApiClient, path: string | null): BlobState {
  const [state, setState] = useState<BlobState>(() => {
    const url = path ? cache.get(path)?.url : null;
    return url ? { status: 'ready', url } : { status: 'loading' };
  });
  useEffect(() => {
    if (!path) return;
    let live = true;
    const entry = acquire(api, path);
    if (entry.url) setState({ status: 'ready', url: entry.url });
    else setState({ status: 'loading' });
    entry.promise.then(
      (url) => live && setState({ status: 'ready', url }),
      () => live && setState({ status: 'error' }),
    );
    return () => {
      live = false;
      release(path);
    };
  }, [api, path]);
  return path ? state : { status: 'loading' };
}

/** Downloads a file through the authenticated fetch and hands it to the browser as a download. */
export async function downloadFile(api: ApiClient, path: string, name: string): Promise<void> {
  const blob = await api.fileBlob(path);
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
