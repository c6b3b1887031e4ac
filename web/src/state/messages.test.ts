import { describe, expect, it } from 'vitest';
import type { Message } from '../api/types';
import { MessageStore, type PendingSend } from './messages';

function message(id: number, overrides: Partial<Message> = {}): Message {
  return {
    id,
    channel_id: 1,
    author_id: 10,
    thread_id: null,
    text: `message ${id}`,
    mentions: [],
    created_at: 1_700_000_000_000 + id * 1000,
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

function ids(store: MessageStore, channelId = 1): (number | string)[] {
  return store.channelItems(channelId).map((item) => (item.kind === 'message' ? item.message.id : item.pending.clientId));
}

function pending(clientId: string, overrides: Partial<PendingSend> = {}): PendingSend {
  return { clientId, channelId: 1, threadId: null, authorId: 10, text: 'hi', attachments: [], createdAt: 1, status: 'sending', ...overrides };
}

describe('MessageStore', () => {
  it('merges overlapping history pages in id order without duplicates', () => {
    const store = new MessageStore();
    store.mergePage(1, { messages: [message(5), message(6), message(7)], has_more_before: true, has_more_after: false });
    store.mergePage(1, { messages: [message(3), message(4), message(5)], has_more_before: false, has_more_after: true }, { older: true });
    expect(ids(store)).toEqual([3, 4, 5, 6, 7]);
    expect(store.channelTimeline(1).hasMoreBefore).toBe(false);
    expect(store.channelTimeline(1).loaded).toBe(true);
  });

  it('merges live events with pages by id, in either order', () => {
    const store = new MessageStore();
    store.applyEvent({ kind: 'message_created', message: message(9) });
    store.mergePage(1, { messages: [message(7), message(8), message(9)], has_more_before: false, has_more_after: false });
    store.applyEvent({ kind: 'message_created', message: message(8) });
    store.applyEvent({ kind: 'message_created', message: message(10) });
    expect(ids(store)).toEqual([7, 8, 9, 10]);
  });

  it('keeps channels and threads apart and counts new replies once', () => {
    const store = new MessageStore();
    store.mergePage(1, { messages: [message(1)], has_more_before: false, has_more_after: false });
    store.mergePage(2, { messages: [message(2, { channel_id: 2 })], has_more_before: false, has_more_after: false });
    const reply = message(3, { thread_id: 1 });
    store.applyEvent({ kind: 'message_created', message: reply });
    store.applyEvent({ kind: 'message_created', message: reply });
    store.put(reply);
    expect(ids(store, 1)).toEqual([1]);
    expect(ids(store, 2)).toEqual([2]);
    expect(store.threadItems(1).map((item) => item.kind === 'message' && item.message.id)).toEqual([3]);
    expect(store.messages.get(1)?.reply_count).toBe(1);
    expect(store.messages.get(1)?.last_reply_at).toBe(reply.created_at);
  });

  it('applies edits, deletes, reactions and pins', () => {
    const store = new MessageStore();
    store.mergePage(1, { messages: [message(1, { attachments: [{ id: 4, name: 'a.png', content_type: 'image/png', size: 3 }] })], has_more_before: false, has_more_after: false });
    store.applyEvent({ kind: 'message_edited', message: message(1, { text: 'changed', edited_at: 5 }), previous_text: 'message 1' });
    expect(store.messages.get(1)?.text).toBe('changed');
    expect(store.messages.get(1)?.edited_at).toBe(5);

    store.applyEvent({ kind: 'reaction_added', channel_id: 1, message_id: 1, user_id: 10, emoji: '👍' });
    store.applyEvent({ kind: 'reaction_added', channel_id: 1, message_id: 1, user_id: 11, emoji: '👍' });
    store.applyEvent({ kind: 'reaction_added', channel_id: 1, message_id: 1, user_id: 11, emoji: '👍' });
    store.applyEvent({ kind: 'reaction_added', channel_id: 1, message_id: 1, user_id: 11, emoji: '🎉' });
    expect(store.messages.get(1)?.reactions).toEqual([
      { emoji: '👍', user_ids: [10, 11] },
      { emoji: '🎉', user_ids: [11] },
    ]);
    store.applyEvent({ kind: 'reaction_removed', channel_id: 1, message_id: 1, user_id: 11, emoji: '🎉' });
    expect(store.messages.get(1)?.reactions).toEqual([{ emoji: '👍', user_ids: [10, 11] }]);

    store.applyEvent({ kind: 'message_pinned', channel_id: 1, message_id: 1, pinned: true, actor_id: 10 });
    expect(store.messages.get(1)?.pinned).toBe(true);

    store.applyEvent({ kind: 'message_deleted', channel_id: 1, message_id: 1, thread_id: null, deleted_by: 10 });
    const deleted = store.messages.get(1)!;
    expect(deleted.deleted_at).not.toBeNull();
    expect(deleted.text).toBe('');
    expect(deleted.attachments).toEqual([]);
    expect(deleted.reactions).toEqual([]);
    expect(ids(store)).toEqual([1]);
  });

  it('does not let a stale page undo a newer edit or delete', () => {
    const store = new MessageStore();
    store.applyEvent({ kind: 'message_edited', message: message(1, { text: 'new', edited_at: 50 }), previous_text: 'old' });
    store.mergePage(1, { messages: [message(1, { text: 'old' })], has_more_before: false, has_more_after: false });
    expect(store.messages.get(1)?.text).toBe('new');

    store.applyEvent({ kind: 'message_created', message: message(2) });
    store.applyEvent({ kind: 'message_deleted', channel_id: 1, message_id: 2, thread_id: null, deleted_by: 10 });
    store.mergePage(1, { messages: [message(2)], has_more_before: false, has_more_after: false });
    expect(store.messages.get(2)?.deleted_at).not.toBeNull();
  });

  it('never places an old message outside the loaded range', () => {
    const store = new MessageStore();
    store.mergePage(1, { messages: [message(50), message(51)], has_more_before: true, has_more_after: false });
    // An edit to an old, unloaded message and a thread page whose root is old.
    store.applyEvent({ kind: 'message_edited', message: message(3, { text: 'x', edited_at: 9 }), previous_text: '' });
    store.mergePage(1, { messages: [message(4), message(60, { thread_id: 4 })], has_more_before: false, has_more_after: false }, { thread: 4 });
    expect(ids(store)).toEqual([50, 51]);
    expect(store.threadItems(4).map((item) => item.kind === 'message' && item.message.id)).toEqual([60]);
    // Once older pages reach it, it appears, with the edit kept.
    store.mergePage(1, { messages: [message(3), message(4)], has_more_before: false, has_more_after: true }, { older: true });
    expect(ids(store)).toEqual([3, 4, 50, 51]);
    expect(store.messages.get(3)?.text).toBe('x');
  });

  it('turns an optimistic send into the confirmed message exactly once', () => {
    const store = new MessageStore();
    store.mergePage(1, { messages: [message(1)], has_more_before: false, has_more_after: false });
    store.addPending(pending('c-1', { createdAt: 1 }));
    store.addPending(pending('c-2', { createdAt: 2 }));
    expect(ids(store)).toEqual([1, 'c-1', 'c-2']);

    // The live event can come before the REST answer...
    const confirmed = message(2, { client_id: 'c-1' });
    store.applyEvent({ kind: 'message_created', message: confirmed });
    expect(ids(store)).toEqual([1, 2, 'c-2']);
    store.confirmSend('c-1', confirmed);
    expect(ids(store)).toEqual([1, 2, 'c-2']);

    // ...or after it.
    const second = message(3, { client_id: 'c-2' });
    store.confirmSend('c-2', second);
    store.applyEvent({ kind: 'message_created', message: second });
    expect(ids(store)).toEqual([1, 2, 3]);
  });

  it('keeps failed sends visible until retried', () => {
    const store = new MessageStore();
    store.addPending(pending('c-9'));
    store.failSend('c-9', 'Cannot reach the server.', true);
    const [item] = store.channelItems(1);
    expect(item?.kind === 'pending' && item.pending.status).toBe('failed');
    expect(item?.kind === 'pending' && item.pending.retryable).toBe(true);
    store.markSending('c-9');
    const [again] = store.channelItems(1);
    expect(again?.kind === 'pending' && again.pending.status).toBe('sending');
  });

  it('notifies subscribers on every change', () => {
    const store = new MessageStore();
    let calls = 0;
    const unsubscribe = store.subscribe(() => (calls += 1));
    store.applyEvent({ kind: 'message_created', message: message(1) });
    expect(store.applyEvent({ kind: 'reaction_added', channel_id: 1, message_id: 99, user_id: 1, emoji: 'x' })).toBe(false);
    unsubscribe();
    store.applyEvent({ kind: 'message_created', message: message(2) });
    expect(calls).toBe(1);
  });
});
