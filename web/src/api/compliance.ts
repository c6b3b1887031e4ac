//! REST calls for the compliance console: retention policies, legal holds,
//! eDiscovery exports, erasure and the journal (docs/api.md, "Compliance").
//! Only compliance officers and owners may call these; the server answers
//! 403 `forbidden` to anyone else. Kept beside client.ts (as functions over an
//! ApiClient) so the URLs live in one file.

import type { ApiClient } from './client';
import type { Channel, ChannelId, Millis, UserId } from './types';

export type RetentionScope = 'global' | 'team' | 'channel';

export interface RetentionPolicy {
  scope: RetentionScope;
  team: string | null;
  channel_id: ChannelId | null;
  /** Days kept; null keeps forever. */
  days: number | null;
  updated_at: Millis;
}

export interface SetRetention {
  scope: RetentionScope;
  team?: string;
  channel_id?: ChannelId;
  days: number | null;
}

export interface PurgeReport {
  messages: number;
  versions: number;
  reactions: number;
  attachments: number;
  events_redacted: number;
  /** Expired messages kept because a legal hold (or a kept thread) covers them. */
  held: number;
  oldest: Millis | null;
  newest: Millis | null;
}

export interface LegalHold {
  id: number;
  name: string;
  custodian_ids: UserId[];
  channel_ids: ChannelId[];
  from: Millis | null;
  to: Millis | null;
  created_at: Millis;
  released_at: Millis | null;
  active: boolean;
}

export interface NewHold {
  name: string;
  custodian_ids: UserId[];
  channel_ids: ChannelId[];
  /** YYYY-MM-DD (UTC), messages at or after the day's start. */
  from?: string;
  /** YYYY-MM-DD (UTC), the whole day included. */
  to?: string;
}

export interface Erasure {
  user_id: UserId;
  messages: number;
  versions: number;
  attachments: number;
  events_redacted: number;
  /** Data keys destroyed: copies in backups can no longer be opened. */
  keys_destroyed: number;
}

export const EXPORT_FORMATS = ['jsonl', 'eml', 'actiance', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface NewExport {
  format: ExportFormat;
  custodian_ids: UserId[];
  channel_ids: ChannelId[];
  from?: string;
  to?: string;
}

export interface ManifestFile {
  /** Relative to the export, with `/` separators. */
  name: string;
  bytes: number;
  sha256: string;
}

export interface ManifestCounts {
  channels: number;
  messages: number;
  versions: number;
  edits: number;
  deletions: number;
  attachments: number;
  missing_attachments: number;
  membership_changes: number;
  files: number;
}

export interface ExportManifest {
  format: ExportFormat;
  /** RFC 3339. */
  created_at: string;
  filters: { from: string | null; to: string | null; custodians: string[]; channels: string[] };
  counts: ManifestCounts;
  files: ManifestFile[];
}

export interface ExportRecord {
  id: string;
  manifest: ExportManifest;
}

export interface JournalCheckpoint {
  position: number;
  hash: string;
  /** RFC 3339. */
  at: string;
}

export interface JournalVerdict {
  intact: boolean;
  checked: number | null;
  broken_position: number | null;
  problem: string | null;
}

/** The download path of one export file; each segment is encoded, the slashes kept. */
export function exportFilePath(exportId: string, name: string): string {
  const encoded = name.split('/').map(encodeURIComponent).join('/');
  return `/compliance/exports/${encodeURIComponent(exportId)}/files/${encoded}`;
}

export const complianceApi = {
  /** Every public and private channel, member or not (officers only). */
  channels: (api: ApiClient) => api.request<{ channel: Channel; member_count: number }[]>('GET', '/compliance/channels'),
  retention: (api: ApiClient) => api.request<RetentionPolicy[]>('GET', '/compliance/retention'),
  setRetention: (api: ApiClient, policy: SetRetention) => api.request<RetentionPolicy>('PUT', '/compliance/retention', policy),
  runRetention: (api: ApiClient) => api.request<PurgeReport>('POST', '/compliance/retention/run'),

  holds: (api: ApiClient, includeReleased: boolean) => api.request<LegalHold[]>('GET', `/compliance/holds${includeReleased ? '?include_released=true' : ''}`),
  createHold: (api: ApiClient, hold: NewHold) => api.request<LegalHold>('POST', '/compliance/holds', hold),
  releaseHold: (api: ApiClient, id: number) => api.request<LegalHold>('POST', `/compliance/holds/${id}/release`),

  erase: (api: ApiClient, userId: UserId) => api.request<Erasure>('POST', '/compliance/erasures', { user_id: userId }),

  exports: (api: ApiClient) => api.request<ExportRecord[]>('GET', '/compliance/exports'),
  createExport: (api: ApiClient, request: NewExport) => api.request<ExportRecord>('POST', '/compliance/exports', request),
  /** One file of an export (or `manifest.json`), fetched with the bearer token. */
  exportFile: (api: ApiClient, exportId: string, name: string) => api.fileBlob(exportFilePath(exportId, name)),

  checkpoint: (api: ApiClient) => api.request<JournalCheckpoint>('GET', '/compliance/journal/checkpoint'),
  verifyJournal: (api: ApiClient) => api.request<JournalVerdict>('GET', '/compliance/journal/verify'),
};
