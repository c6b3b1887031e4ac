import { describe, expect, it } from 'vitest';
import type { Message } from '../api/types';
import type { TimelineItem } from '../state/messages';
import { buildRows } from './MessageList';

const DAY = 86_400_000;
const START = new Date(2026, 0, 5, 9, 0).getTime();

function item(id: number, author: number, at: number, overrides: Partial<Message> = {}): TimelineItem {
  return {
    kind: 'message',
    message: {
      id,
      channel_id: 1,
      author_id: author,
      thread_id: null,
      text: `m${id}`,
      mentions: [],
      created_at: at,
      edited_at: null,
      deleted_at: null,
      pinned: false,
      reply_count: 0,
      last_reply_at: null,
      reactions: [],
      attachments: [],
      client_id: null,
      ...overrides,
    },
  };
}

function shape(rows: ReturnType<typeof buildRows>): string[] {
  return rows.map((row) => (row.kind === 'day' ? 'day' : row.kind === 'new' ? 'new' : `${row.item?.kind === 'message' ? row.item.message.id : 'p'}${row.grouped ? '+' : ''}`));
}

describe('buildRows', () => {
  it('groups consecutive messages by one author within five minutes', () => {
    const rows = buildRows([item(1, 7, START), item(2, 7, START + 60_000), item(3, 8, START + 120_000), item(4, 8, START + 120_000 + 6 * 60_000)], null, START + DAY * 30);
    expect(shape(rows)).toEqual(['day', '1', '2+', '3', '4']);
  });

  it('puts a separator at each new day and never groups across it', () => {
    const rows = buildRows([item(1, 7, START), item(2, 7, START + DAY)], null, START + DAY * 30);
    expect(shape(rows)).toEqual(['day', '1', 'day', '2']);
  });

  it('draws the new-messages line above the given message and breaks the group there', () => {
    const rows = buildRows([item(1, 7, START), item(2, 7, START + 1000), item(3, 7, START + 2000)], 2, START + DAY * 30);
    expect(shape(rows)).toEqual(['day', '1', 'new', '2', '3+']);
  });

  it('does not group after a deleted message', () => {
    const rows = buildRows([item(1, 7, START, { deleted_at: START + 5 }), item(2, 7, START + 1000)], null, START + DAY * 30);
    expect(shape(rows)).toEqual(['day', '1', '2']);
  });
});
