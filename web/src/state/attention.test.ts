import { describe, expect, it } from 'vitest';
import type { ChannelSummary } from '../api/types';
import { documentTitle, unreadForTitle } from './attention';
import { formatMegabytes, limitFromRefusal, oversizedFiles, voiceNoteName, voiceNoteSeconds } from '../util/format';

function summary(id: number, kind: 'public' | 'direct', unread: number, mentions: number): ChannelSummary {
  return {
    channel: { id, kind, name: `c${id}`, topic: '', archived: false, read_only: false } as ChannelSummary['channel'],
    member_ids: [1, 2],
    last_read_message_id: 0,
    last_message_id: 10,
    unread_count: unread,
    mention_count: mentions,
  };
}

describe('the tab title', () => {
  const summaries = [summary(1, 'public', 7, 0), summary(2, 'public', 4, 2), summary(3, 'direct', 3, 0)];
  it('counts direct messages and channel mentions, like the sidebar badges', () => {
    expect(unreadForTitle(summaries, null)).toBe(5);
  });
  it('leaves out the conversation being looked at', () => {
    expect(unreadForTitle(summaries, 3)).toBe(2);
  });
  it.each([
    [0, 'Conclave'],
    [3, '(3) Conclave'],
    [250, '(99+) Conclave'],
  ])('%i unread reads %j', (count, title) => {
    expect(documentTitle(count)).toBe(title);
  });
});

describe('upload limits and voice notes', () => {
  it.each([
    [100 * 1024 * 1024, '100 MB'],
    [2.5 * 1024 * 1024, '2.5 MB'],
    [1_000_000, '1 MB'],
  ])('%i bytes read %j', (bytes, text) => {
    expect(formatMegabytes(bytes)).toBe(text);
  });
  it('reads the limit from the server refusal', () => {
    expect(limitFromRefusal('files may be at most 1048576 bytes')).toBe(1_048_576);
    expect(limitFromRefusal('the file is empty')).toBeNull();
  });
  it('finds files over the limit, none while the limit is unknown', () => {
    const files = [{ name: 'a', size: 10 }, { name: 'b', size: 2000 }];
    expect(oversizedFiles(files, 1000).map((file) => file.name)).toEqual(['b']);
    expect(oversizedFiles(files, null)).toEqual([]);
  });
  it('carries the recording length in the voice note name', () => {
    const name = voiceNoteName('2026-01-05T09-00-00-000Z', 7300.4, 'webm');
    expect(name).toBe('voice-note-2026-01-05T09-00-00-000Z-7300ms.webm');
    expect(voiceNoteSeconds(name)).toBe(7.3);
    expect(voiceNoteSeconds('voice-note-2026-01-05T09-00-00-000Z.webm')).toBeNull();
    expect(voiceNoteSeconds('report.pdf')).toBeNull();
  });
});
