import { describe, expect, it } from 'vitest';
import type { Channel, ChannelSummary, Message } from '../api/types';
import { ChannelStore } from './channels';

const ME = 1;
const OTHER = 2;

function channel(id: number, kind: Channel['kind'] = 'public', name = `c${id}`): Channel {
  return { id, kind, name, topic: '', archived: false, read_only: false, created_by: OTHER, created_at: 0 };
}

function summary(id: number, overrides: Partial<ChannelSummary> = {}): ChannelSummary {
  return { channel: channel(id), member_ids: [ME, OTHER], last_read_message_id: 0, last_message_id: 0, unread_count: 0, mention_count: 0, ...overrides };
}

function message(id: number, channelId: number, overrides: Partial<Message> = {}): Message {
  return {
    id,
    channel_id: channelId,
    author_id: OTHER,
    thread_id: null,
    text: 'x',
    mentions: [],
    created_at: 0,
    edited_at: null,
    deleted_at: null,
    pinned: false,
    reply_count: 0,
    last_reply_at: null,
    reactions: [],
    attachments: [],
    client_id: null,
    ...overrides,
  };
}

describe('ChannelStore', () => {
  it('counts unread messages and mentions from others, once each', () => {
    const store = new ChannelStore();
    store.setAll([summary(1)]);
    const context = { me: ME, viewing: null };
    store.applyEvent({ kind: 'message_created', message: message(10, 1) }, context);
    store.applyEvent({ kind: 'message_created', message: message(11, 1, { mentions: [ME] }) }, context);
    // A replayed event (same id) must not count again.
    store.applyEvent({ kind: 'message_created', message: message(11, 1, { mentions: [ME] }) }, context);
    // A thread reply mentioning me counts as a mention but not as channel unread.
    store.applyEvent({ kind: 'message_created', message: message(12, 1, { thread_id: 10, mentions: [ME] }) }, context);
    const result = store.summaries.get(1)!;
    expect(result.unread_count).toBe(2);
    expect(result.mention_count).toBe(2);
    expect(result.last_message_id).toBe(12);
  });

  it('counts a customer\'s thread replies in a customer conversation, and nobody else\'s', () => {
    const CUSTOMER = 7;
    const COLLEAGUE = 3;
    const store = new ChannelStore();
    // Channel 1 is a customer conversation with CUSTOMER; channel 2 is ordinary.
    store.setAll([summary(1, { last_message_id: 10, last_read_message_id: 10 }), summary(2, { last_message_id: 10, last_read_message_id: 10 })]);
    const context = { me: ME, viewing: null, customerOf: (channelId: number) => (channelId === 1 ? CUSTOMER : undefined) };
    store.applyEvent({ kind: 'message_created', message: message(11, 1, { author_id: CUSTOMER, thread_id: 10 }) }, context);
    // A colleague's note in a thread of the conversation is not customer traffic.
    store.applyEvent({ kind: 'message_created', message: message(12, 1, { author_id: COLLEAGUE, thread_id: 10 }) }, context);
    // The same author replying in a thread of an ordinary channel does not count.
    store.applyEvent({ kind: 'message_created', message: message(13, 2, { author_id: CUSTOMER, thread_id: 10 }) }, context);
    expect(store.summaries.get(1)).toMatchObject({ unread_count: 1, last_message_id: 12 });
    expect(store.summaries.get(2)).toMatchObject({ unread_count: 0 });
    // A replayed event does not count twice; without the inbox's knowledge it does not count at all.
    store.applyEvent({ kind: 'message_created', message: message(11, 1, { author_id: CUSTOMER, thread_id: 10 }) }, context);
    store.applyEvent({ kind: 'message_created', message: message(14, 1, { author_id: CUSTOMER, thread_id: 10 }) }, { me: ME, viewing: null });
    expect(store.summaries.get(1)!.unread_count).toBe(1);
    // Opening the conversation and reading to its newest message clears the badge.
    store.markRead(1, 14);
    expect(store.summaries.get(1)).toMatchObject({ unread_count: 0, last_read_message_id: 14 });
    // While the staff member looks at it, nothing is counted.
    store.applyEvent({ kind: 'message_created', message: message(15, 1, { author_id: CUSTOMER, thread_id: 10 }) }, { ...context, viewing: 1 });
    expect(store.summaries.get(1)!.unread_count).toBe(0);
  });

  it('does not count what the user is looking at or wrote', () => {
    const store = new ChannelStore();
    store.setAll([summary(1, { unread_count: 3 })]);
    store.applyEvent({ kind: 'message_created', message: message(5, 1) }, { me: ME, viewing: 1 });
    expect(store.summaries.get(1)!.unread_count).toBe(3);
    store.applyEvent({ kind: 'message_created', message: message(6, 1, { author_id: ME }) }, { me: ME, viewing: null });
    expect(store.summaries.get(1)).toMatchObject({ unread_count: 0, mention_count: 0, last_read_message_id: 6 });
  });

  it('clears counts on a read marker at the newest message, and asks for a refresh otherwise', () => {
    const store = new ChannelStore();
    store.setAll([summary(1, { last_message_id: 9, unread_count: 4, mention_count: 1 })]);
    expect(store.applyEvent({ kind: 'read_marker', channel_id: 1, message_id: 7 }, { me: ME, viewing: null })).toEqual({ kind: 'fetch_summary', channelId: 1 });
    expect(store.applyEvent({ kind: 'read_marker', channel_id: 1, message_id: 9 }, { me: ME, viewing: null })).toBeNull();
    expect(store.summaries.get(1)).toMatchObject({ unread_count: 0, mention_count: 0, last_read_message_id: 9 });
  });

  it('follows membership: new conversations appear, left channels disappear', () => {
    const store = new ChannelStore();
    store.setAll([summary(1)]);
    store.applyEvent({ kind: 'channel_created', channel: channel(2, 'direct', ''), member_ids: [ME, OTHER] }, { me: ME, viewing: null });
    store.applyEvent({ kind: 'channel_created', channel: channel(3), member_ids: [OTHER] }, { me: ME, viewing: null });
    expect([...store.summaries.keys()].sort()).toEqual([1, 2]);
    expect(store.applyEvent({ kind: 'message_created', message: message(20, 4) }, { me: ME, viewing: null })).toEqual({ kind: 'fetch_summary', channelId: 4 });
    expect(store.applyEvent({ kind: 'member_left', channel_id: 1, user_id: ME, actor_id: ME }, { me: ME, viewing: null })).toEqual({ kind: 'removed', channelId: 1 });
    store.applyEvent({ kind: 'member_joined', channel_id: 2, user_id: 3, actor_id: OTHER }, { me: ME, viewing: null });
    expect(store.summaries.get(2)!.member_ids).toEqual([ME, OTHER, 3]);
    expect(store.conversationList().map((entry) => entry.channel.id)).toEqual([2]);
    expect(store.channelList()).toEqual([]);
  });
});
