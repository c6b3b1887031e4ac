//! Pure rules behind the compliance console: validating retention days, hold
//! and export forms, the typed confirmation of an erasure, reading the hold's
//! name out of a refusal, and turning policies, holds and manifests into rows
//! for display. No requests and no DOM here, so all of it is unit-tested.

import type { ExportManifest, LegalHold, PurgeReport, RetentionPolicy, SetRetention } from '../api/compliance';
import { ApiError } from '../api/client';
import type { ChannelId } from '../api/types';

/** Whether someone with this role may open the compliance console (the server enforces the same). */
export function mayUseCompliance(role: string | undefined): boolean {
  return role === 'compliance' || role === 'owner';
}

/** A failure as the console shows it: the server's message and its stable code (null when the request never got an answer or failed locally). */
export interface Failure {
  message: string;
  code: string | null;
}

export function describeFailure(error: unknown): Failure {
  if (error instanceof ApiError) return { message: error.message || 'The request failed.', code: error.isNetwork ? null : error.code };
  if (error instanceof Error) return { message: error.message, code: null };
  return { message: 'Something went wrong.', code: null };
}

export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 36_500;

/** A number of days from a text field, or why it cannot be used. Mirrors the server's check (1–36500 whole days). */
export function parseRetentionDays(text: string): { days: number } | { problem: string } {
  const trimmed = text.trim();
  if (!trimmed) return { problem: 'Enter a number of days, or choose to keep forever.' };
  if (!/^\d+$/.test(trimmed)) return { problem: 'Enter whole days as digits, for example 365.' };
  const days = Number(trimmed);
  if (days < MIN_RETENTION_DAYS || days > MAX_RETENTION_DAYS) return { problem: `Retention must be between ${MIN_RETENTION_DAYS} and ${MAX_RETENTION_DAYS} days.` };
  return { days };
}

export interface RetentionForm {
  scope: RetentionPolicy['scope'];
  team: string;
  /** A channel id as the select holds it ('' when none is chosen). */
  channelId: string;
  days: string;
  forever: boolean;
}

/** The request a retention form stands for, or why it cannot be sent. */
export function retentionRequest(form: RetentionForm): { request: SetRetention } | { problem: string } {
  let days: number | null = null;
  if (!form.forever) {
    const parsed = parseRetentionDays(form.days);
    if ('problem' in parsed) return parsed;
    days = parsed.days;
  }
  if (form.scope === 'global') return { request: { scope: 'global', days } };
  if (form.scope === 'team') {
    const team = form.team.trim();
    if (!team) return { problem: 'Enter the team’s name.' };
    return { request: { scope: 'team', team, days } };
  }
  if (!/^\d+$/.test(form.channelId)) return { problem: 'Choose a channel.' };
  return { request: { scope: 'channel', channel_id: Number(form.channelId), days } };
}

export interface RetentionRow {
  key: string;
  scopeLabel: string;
  targetLabel: string;
  daysLabel: string;
  policy: RetentionPolicy;
}

/** How long a policy keeps messages, in words. */
export function daysLabel(days: number | null): string {
  if (days === null) return 'Kept forever';
  return days === 1 ? '1 day' : `${days.toLocaleString('en-US')} days`;
}

/** Policies as rows: the global one first, then teams, then channels, each by name. */
export function retentionRows(policies: RetentionPolicy[], channelNames: Map<ChannelId, string>): RetentionRow[] {
  const order = { global: 0, team: 1, channel: 2 } as const;
  return policies
    .map((policy) => {
      const channelName = policy.channel_id === null ? undefined : channelNames.get(policy.channel_id);
      const targetLabel =
        policy.scope === 'global' ? 'Every channel without its own policy' : policy.scope === 'team' ? `Team ${policy.team ?? ''}` : channelName !== undefined ? `#${channelName}` : `Channel ${policy.channel_id}`;
      return {
        key: policy.scope === 'global' ? 'global' : policy.scope === 'team' ? `team:${policy.team}` : `channel:${policy.channel_id}`,
        scopeLabel: policy.scope === 'global' ? 'Global' : policy.scope === 'team' ? 'Team' : 'Channel',
        targetLabel,
        daysLabel: daysLabel(policy.days),
        policy,
      };
    })
    .sort((a, b) => order[a.policy.scope] - order[b.policy.scope] || a.targetLabel.localeCompare(b.targetLabel));
}

/** What a retention run did, in one sentence. */
export function purgeSummary(report: PurgeReport): string {
  const parts = [
    plural(report.messages, 'message'),
    plural(report.versions, 'earlier version'),
    plural(report.reactions, 'reaction'),
    plural(report.attachments, 'attachment'),
  ];
  const held = report.held > 0 ? ` ${plural(report.held, 'expired message')} kept because a legal hold covers ${report.held === 1 ? 'it' : 'them'}.` : '';
  return `Removed ${parts.join(', ')}; ${plural(report.events_redacted, 'journal entry', 'journal entries')} redacted.${held}`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}

// ---- dates -----------------------------------------------------------------

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Why a from/to pair of YYYY-MM-DD days (either may be empty) is not a range, or null. The `to` day is included whole. */
export function dateRangeProblem(from: string, to: string): string | null {
  for (const [label, value] of [
    ['start', from],
    ['end', to],
  ] as const) {
    if (value && (!DAY.test(value) || !Number.isFinite(Date.parse(`${value}T00:00:00Z`)))) return `The ${label} date is not a date.`;
  }
  if (from && to && to < from) return 'The end date is before the start date.';
  return null;
}

// ---- legal holds -----------------------------------------------------------

export interface HoldForm {
  name: string;
  custodianIds: number[];
  channelIds: number[];
  from: string;
  to: string;
}

/** Why a hold cannot be placed as entered, or null. Mirrors the server's rules; a taken name is only known to the server (409). */
export function holdProblem(form: HoldForm): string | null {
  const name = form.name.trim();
  if (!name) return 'Name the hold, for example the matter or case number.';
  if ([...name].length > 100) return 'Use at most 100 characters for the name.';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'The name cannot contain control characters.';
  if (form.custodianIds.length === 0 && form.channelIds.length === 0) return 'Choose at least one custodian or channel.';
  return dateRangeProblem(form.from, form.to);
}

/** Active holds first, each group newest first. */
export function sortHolds(holds: LegalHold[]): LegalHold[] {
  return [...holds].sort((a, b) => Number(b.active) - Number(a.active) || b.created_at - a.created_at);
}

/**
 * The hold named in an erasure refusal. The server answers 409 with
 * `the legal hold "NAME" covers this person; …`, the name quoted as Rust's
 * Debug quotes strings (backslash escapes).
 */
export function holdNameFromRefusal(message: string): string | null {
  const match = /legal hold "((?:[^"\\]|\\.)*)"/.exec(message);
  if (!match) return null;
  return match[1]!.replace(/\\(u\{[0-9a-fA-F]+\}|.)/g, (_, escape: string) => {
    if (escape.startsWith('u{')) return String.fromCodePoint(parseInt(escape.slice(2, -1), 16));
    return escape === 'n' ? '\n' : escape === 't' ? '\t' : escape === 'r' ? '\r' : escape === '0' ? '\0' : escape;
  });
}

// ---- erasure ---------------------------------------------------------------

/** Whether the typed confirmation matches the person's email (ignoring case and surrounding spaces). */
export function erasureConfirmed(typed: string, email: string): boolean {
  const expected = email.trim().toLowerCase();
  return expected.length > 0 && typed.trim().toLowerCase() === expected;
}

// ---- exports ---------------------------------------------------------------

export const FORMAT_LABELS = {
  jsonl: 'JSON Lines',
  eml: 'Email (EML)',
  actiance: 'Actiance XML',
  csv: 'CSV',
} as const;

/** The manifest's counts worth showing, in words. */
export function manifestCounts(manifest: ExportManifest): string {
  const counts = manifest.counts;
  const parts = [plural(counts.messages, 'message'), plural(counts.channels, 'channel'), plural(counts.attachments, 'attachment'), plural(counts.files, 'file')];
  if (counts.edits) parts.push(plural(counts.edits, 'edit'));
  if (counts.deletions) parts.push(plural(counts.deletions, 'deletion'));
  if (counts.membership_changes) parts.push(plural(counts.membership_changes, 'membership change'));
  if (counts.missing_attachments) parts.push(`${plural(counts.missing_attachments, 'attachment')} missing`);
  return parts.join(' · ');
}

/** The filters an export was made with, in words. */
export function manifestFilters(manifest: ExportManifest): string {
  const { from, to, custodians, channels } = manifest.filters;
  const parts: string[] = [];
  if (custodians.length) parts.push(`custodians ${custodians.join(', ')}`);
  if (channels.length) parts.push(`channels ${channels.map((name) => (name.startsWith('conversation ') ? name : `#${name}`)).join(', ')}`);
  if (from && to) parts.push(`${from} to ${to}`);
  else if (from) parts.push(`from ${from}`);
  else if (to) parts.push(`until ${to}`);
  return parts.length ? parts.join('; ') : 'everything';
}

/** The name to save a downloaded export file under: the export id, then the file's own name. */
export function downloadName(exportId: string, fileName: string): string {
  const base = fileName.split('/').pop() || 'file';
  return `${exportId}-${base}`;
}

/** Why an export cannot be requested as entered, or null. */
export function exportProblem(form: { format: string; from: string; to: string }): string | null {
  if (!(form.format in FORMAT_LABELS)) return 'Choose a format.';
  return dateRangeProblem(form.from, form.to);
}

/** An RFC 3339 time as milliseconds, or null. */
export function rfc3339Millis(text: string | null | undefined): number | null {
  if (!text) return null;
  const millis = Date.parse(text);
  return Number.isFinite(millis) ? millis : null;
}
