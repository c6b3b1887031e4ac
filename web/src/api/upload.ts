//! File uploads with progress. fetch() cannot report upload progress, so
//! this is the one place that uses XMLHttpRequest.

import { API_PREFIX, ApiError } from './client';
import type { Attachment, ChannelId } from './types';

export interface UploadHandle {
  promise: Promise<Attachment>;
  abort: () => void;
}

export function uploadFile(
  token: string,
  channelId: ChannelId,
  file: Blob,
  name: string,
  onProgress: (fraction: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<Attachment>((resolve, reject) => {
    const url = `${API_PREFIX}/files?channel_id=${channelId}&name=${encodeURIComponent(name)}`;
    xhr.open('POST', url);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    if (file.type) xhr.setRequestHeader('Content-Type', file.type);
    else xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        try {
          resolve(JSON.parse(xhr.responseText) as Attachment);
        } catch {
          reject(new ApiError(xhr.status, 'invalid_response', 'The server answered something unexpected.'));
        }
        return;
      }
      let code = `http_${xhr.status}`;
      let message = xhr.statusText || 'Upload failed.';
      try {
        const body = JSON.parse(xhr.responseText) as { code?: string; message?: string };
        code = body.code ?? code;
        message = body.message ?? message;
      } catch {
        // Keep the status text.
      }
      reject(new ApiError(xhr.status, code, message));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Cannot reach the server.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}
