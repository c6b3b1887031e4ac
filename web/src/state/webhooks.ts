//! Incoming-webhook helpers for the channel details: what the server
//! answers is a path; people need the full URL to paste elsewhere.

import type { Webhook } from '../api/types';

/** The full URL of a hook path (`/hooks/{token}`) on the server at `origin`. */
export function webhookUrl(origin: string, path: string): string {
  if (/^https?:\/\//.test(path)) return path;
  return `${origin.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Whether `userId` may revoke `hook`: its creator, or an owner or admin. */
export function canRevokeWebhook(hook: Webhook, userId: number | undefined, role: string | undefined): boolean {
  return hook.creator_id === userId || role === 'owner' || role === 'admin';
}
