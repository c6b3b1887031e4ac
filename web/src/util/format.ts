//! Formatting of times, sizes and names for display.

import type { ChannelSummary, User, UserId } from '../api/types';

export function formatTime(millis: number): string {
  return new Date(millis).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
}

export function formatDay(millis: number, now = Date.now()): string {
  const date = new Date(millis);
  const today = new Date(now);
  const yesterday = new Date(now - 86_400_000);
  if (sameDay(date, today)) return 'Today';
  if (sameDay(date, yesterday)) return 'Yesterday';
  const options: Intl.DateTimeFormatOptions = { weekday: 'long', month: 'long', day: 'numeric' };
  if (date.getFullYear() !== today.getFullYear()) options.year = 'numeric';
  return date.toLocaleDateString(undefined, options);
}

export function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '0:00';
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]![0], parts[parts.length - 1]![0]] : [parts[0]?.[0], parts[0]?.[1]];
  return letters.filter(Boolean).join('').toUpperCase() || '?';
}

/** A stable hue per user so avatars are told apart at a glance. */
export function avatarHue(id: number): number {
  return (id * 137) % 360;
}

/** The name a conversation shows: the channel's name, or the other people in it. */
export function channelTitle(summary: ChannelSummary, me: UserId, user: (id: UserId) => User | undefined): string {
  const channel = summary.channel;
  if (channel.kind === 'public' || channel.kind === 'private') return channel.name;
  const others = summary.member_ids.filter((id) => id !== me);
  if (others.length === 0) return `${user(me)?.name ?? 'You'} (you)`;
  return others.map((id) => user(id)?.name ?? '…').join(', ');
}

/** "22 Nov 2026, 14:05" in the reader's locale. */
export function formatDateTime(millis: number): string {
  return new Date(millis).toLocaleString(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** A size limit in megabytes, as people read them: "100 MB", "2.5 MB". */
export function formatMegabytes(bytes: number): string {
  const megabytes = bytes / (1024 * 1024);
  const rounded = megabytes >= 10 ? Math.round(megabytes) : Math.round(megabytes * 10) / 10;
  return `${rounded} MB`;
}

/** The byte limit named in the server's "files may be at most N bytes" refusal, if any. */
export function limitFromRefusal(message: string): number | null {
  const match = /at most (\d+) bytes/.exec(message);
  return match ? Number(match[1]) : null;
}

/** Files larger than `limit` bytes (none when the limit is unknown). */
export function oversizedFiles<T extends { size: number }>(files: T[], limit: number | null): T[] {
  return limit === null ? [] : files.filter((file) => file.size > limit);
}

/** The recording's length, carried in a voice note's file name ("voice-note-…-7300ms.webm"). */
export function voiceNoteName(stamp: string, durationMs: number, extension: string): string {
  return `voice-note-${stamp}-${Math.max(0, Math.round(durationMs))}ms.${extension}`;
}

/** Seconds of a voice note from its file name, or null for names without a length. */
export function voiceNoteSeconds(name: string): number | null {
  const match = /^voice-note-.*-(\d+)ms\.[a-z0-9]+$/i.exec(name);
  return match ? Number(match[1]) / 1000 : null;
}
