//! The event store for messages. It merges history pages (REST) and live
//! events (WebSocket) into one view per channel and per thread, keyed by
//! message id so nothing shows twice, and tracks optimistic sends by their
//! client_id until the server confirms them. Pure logic: no network, no DOM.

import type { Attachment, ChannelId, EventPayload, Message, MessageId, MessagePage, UserId } from '../api/types';

/** A message the user sent that the server has not confirmed yet. */
export interface PendingSend {
  clientId: string;
  channelId: ChannelId;
  threadId: MessageId | null;
  authorId: UserId;
  text: string;
  attachments: Attachment[];
  createdAt: number;
  status: 'sending' | 'failed';
  error?: string;
  /** Whether the failure was the network (worth retrying on reconnect) rather than a refusal. */
  retryable?: boolean;
}

/** One ordered list of message ids: a channel's top-level messages or a thread's replies. */
export interface Timeline {
  /** Ascending message ids. */
  ids: MessageId[];
  /** Whether older messages exist on the server that are not loaded. */
  hasMoreBefore: boolean;
  /** Whether a page has been merged (live events alone do not make a timeline loaded). */
  loaded: boolean;
}

export type TimelineItem = { kind: 'message'; message: Message } | { kind: 'pending'; pending: PendingSend };

export class MessageStore {
  readonly messages = new Map<MessageId, Message>();
  readonly channels = new Map<ChannelId, Timeline>();
  /** Replies of each thread, keyed by the root message id (the root itself is not in the list). */
  readonly threads = new Map<MessageId, Timeline>();
  readonly pending = new Map<string, PendingSend>();
  /** Incremented on every change; views compare it to know when to re-read. */
  version = 0;
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Merges one page of channel history (`thread` unset) or of a thread (`thread` = root id). */
  mergePage(channelId: ChannelId, page: MessagePage, options: { thread?: MessageId; older?: boolean } = {}): void {
    for (const message of page.messages) {
      // A thread page carries its root, which belongs to the channel's
      // timeline only if it falls inside the loaded range.
      const isThreadRoot = options.thread !== undefined && message.id === options.thread;
      this.upsert(message, isThreadRoot ? 'update' : 'page');
    }
    const timeline = options.thread !== undefined ? this.threadTimeline(options.thread) : this.channelTimeline(channelId);
    // The oldest page tells whether anything older remains; a page of newer
    // messages says nothing about that.
    if (!timeline.loaded || options.older) timeline.hasMoreBefore = page.has_more_before;
    timeline.loaded = true;
    this.changed();
  }

  /** Applies one live event. Answers whether it changed anything. */
  applyEvent(event: EventPayload): boolean {
    switch (event.kind) {
      case 'message_created': {
        const isNew = !this.messages.has(event.message.id);
        this.upsert(event.message, 'created');
        if (isNew) this.countReply(event.message);
        break;
      }
      case 'message_edited':
        this.upsert(event.message, 'update');
        break;
      case 'message_deleted': {
        const existing = this.messages.get(event.message_id);
        if (!existing) return false;
        this.messages.set(event.message_id, tombstone(existing, Date.now()));
        break;
      }
      case 'reaction_added':
      case 'reaction_removed': {
        const existing = this.messages.get(event.message_id);
        if (!existing) return false;
        const reactions = toggleReaction(existing.reactions, event.emoji, event.user_id, event.kind === 'reaction_added');
        this.messages.set(event.message_id, { ...existing, reactions });
        break;
      }
      case 'message_pinned': {
        const existing = this.messages.get(event.message_id);
        if (!existing) return false;
        this.messages.set(event.message_id, { ...existing, pinned: event.pinned });
        break;
      }
      default:
        return false;
    }
    this.changed();
    return true;
  }

  /** Puts one message in place, as answered by a REST call: `created` for a send, `update` for an edit or a fetch. */
  put(message: Message, mode: 'created' | 'update' = 'update'): void {
    const isNew = !this.messages.has(message.id);
    this.upsert(message, mode);
    if (isNew && mode === 'created') this.countReply(message);
    this.changed();
  }

  addPending(pending: PendingSend): void {
    this.pending.set(pending.clientId, pending);
    this.changed();
  }

  /** The server confirmed a send: the pending entry becomes the real message. */
  confirmSend(clientId: string, message: Message): void {
    this.put(message, 'created');
    this.pending.delete(clientId);
    this.changed();
  }

  failSend(clientId: string, error: string, retryable: boolean): void {
    const pending = this.pending.get(clientId);
    if (!pending) return;
    this.pending.set(clientId, { ...pending, status: 'failed', error, retryable });
    this.changed();
  }

  markSending(clientId: string): PendingSend | undefined {
    const pending = this.pending.get(clientId);
    if (!pending) return undefined;
    const next: PendingSend = { ...pending, status: 'sending', error: undefined };
    this.pending.set(clientId, next);
    this.changed();
    return next;
  }

  discardPending(clientId: string): void {
    if (this.pending.delete(clientId)) this.changed();
  }

  /** Top-level messages of a channel in order, then its pending sends. */
  channelItems(channelId: ChannelId): TimelineItem[] {
    return this.items(this.channels.get(channelId), (pending) => pending.channelId === channelId && pending.threadId === null);
  }

  /** Replies of a thread in order, then its pending replies (the root is not included). */
  threadItems(rootId: MessageId): TimelineItem[] {
    return this.items(this.threads.get(rootId), (pending) => pending.threadId === rootId);
  }

  channelTimeline(channelId: ChannelId): Timeline {
    let timeline = this.channels.get(channelId);
    if (!timeline) {
      timeline = { ids: [], hasMoreBefore: true, loaded: false };
      this.channels.set(channelId, timeline);
    }
    return timeline;
  }

  threadTimeline(rootId: MessageId): Timeline {
    let timeline = this.threads.get(rootId);
    if (!timeline) {
      timeline = { ids: [], hasMoreBefore: false, loaded: false };
      this.threads.set(rootId, timeline);
    }
    return timeline;
  }

  /** Forgets a channel's history (after leaving it). */
  forgetChannel(channelId: ChannelId): void {
    const timeline = this.channels.get(channelId);
    if (!timeline) return;
    for (const id of timeline.ids) this.messages.delete(id);
    this.channels.delete(channelId);
    this.changed();
  }

  private items(timeline: Timeline | undefined, pendingFilter: (pending: PendingSend) => boolean): TimelineItem[] {
    const items: TimelineItem[] = [];
    for (const id of timeline?.ids ?? []) {
      const message = this.messages.get(id);
      if (message) items.push({ kind: 'message', message });
    }
    const pending = [...this.pending.values()].filter(pendingFilter).sort((a, b) => a.createdAt - b.createdAt);
    for (const entry of pending) items.push({ kind: 'pending', pending: entry });
    return items;
  }

  /**
   * Stores a message and places it in its timeline. `page` and `created`
   * always place it (a page defines the loaded range; a new message is the
   * newest); `update` (an edit, a fetched root or pin) places it only inside
   * the loaded range, so an old message never shows up detached from its
   * neighbours.
   */
  private upsert(incoming: Message, mode: 'page' | 'created' | 'update'): void {
    const existing = this.messages.get(incoming.id);
    if (existing && isNewer(existing, incoming)) {
      // A page fetched (or an event replayed) from before a live edit or
      // delete must not undo it.
    } else {
      this.messages.set(incoming.id, incoming);
    }
    if (incoming.client_id) this.pending.delete(incoming.client_id);
    const isReply = incoming.thread_id !== null && incoming.thread_id !== incoming.id;
    const timeline = isReply ? this.threadTimeline(incoming.thread_id as MessageId) : this.channelTimeline(incoming.channel_id);
    if (mode === 'update' && !withinLoadedRange(timeline, incoming.id)) return;
    insertSorted(timeline.ids, incoming.id);
  }

  /** A new reply raises its root's reply count; pages carry the server's count. */
  private countReply(message: Message): void {
    if (message.thread_id === null || message.thread_id === message.id) return;
    const root = this.messages.get(message.thread_id);
    if (!root) return;
    this.messages.set(root.id, {
      ...root,
      reply_count: root.reply_count + 1,
      last_reply_at: Math.max(root.last_reply_at ?? 0, message.created_at),
    });
  }

  private changed(): void {
    this.version += 1;
    for (const listener of this.listeners) listener();
  }
}

function withinLoadedRange(timeline: Timeline, id: MessageId): boolean {
  if (!timeline.loaded) return false;
  if (!timeline.hasMoreBefore) return true;
  const oldest = timeline.ids[0];
  return oldest !== undefined && id > oldest;
}

/** Whether `existing` carries a later state than `incoming` (so a stale page must not replace it). */
function isNewer(existing: Message, incoming: Message): boolean {
  if (existing.deleted_at !== null && incoming.deleted_at === null) return true;
  return (existing.edited_at ?? 0) > (incoming.edited_at ?? 0);
}

export function tombstone(message: Message, now: number): Message {
  return {
    ...message,
    text: '',
    mentions: [],
    attachments: [],
    reactions: [],
    deleted_at: message.deleted_at ?? now,
  };
}

export function toggleReaction(reactions: Message['reactions'], emoji: string, userId: UserId, on: boolean): Message['reactions'] {
  const next = reactions.map((reaction) => ({ ...reaction, user_ids: [...reaction.user_ids] }));
  const index = next.findIndex((reaction) => reaction.emoji === emoji);
  if (on) {
    if (index === -1) next.push({ emoji, user_ids: [userId] });
    else if (!next[index]!.user_ids.includes(userId)) next[index]!.user_ids.push(userId);
  } else if (index !== -1) {
    next[index]!.user_ids = next[index]!.user_ids.filter((id) => id !== userId);
    if (next[index]!.user_ids.length === 0) next.splice(index, 1);
  }
  return next;
}

/** Inserts `id` into the ascending array unless present. */
export function insertSorted(ids: number[], id: number): void {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ids[middle]! < id) low = middle + 1;
    else high = middle;
  }
  if (ids[low] !== id) ids.splice(low, 0, id);
}
