//! The sidebar's state: the caller's channels and conversations with unread
//! and mention counts, kept current by live events. Pure logic.

import type { Channel, ChannelId, ChannelSummary, EventPayload, UserId } from '../api/types';

export interface ChannelEventContext {
  me: UserId;
  /** The channel the user is looking at right now (visible tab), if any. */
  viewing: ChannelId | null;
  /**
   * The customer of a WhatsApp customer conversation (as the inbox knows
   * it), undefined for other channels. Their thread replies count as unread
   * like top-level messages: staff must see every message from the
   * customer. The server counts the same way.
   */
  customerOf?: (channelId: ChannelId) => UserId | undefined;
}

export type ChannelEffect =
  /** A channel the caller was added to that the store cannot describe yet: fetch its summary. */
  | { kind: 'fetch_summary'; channelId: ChannelId }
  /** The caller left or lost a channel. */
  | { kind: 'removed'; channelId: ChannelId }
  | null;

export class ChannelStore {
  readonly summaries = new Map<ChannelId, ChannelSummary>();
  version = 0;
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setAll(summaries: ChannelSummary[]): void {
    this.summaries.clear();
    for (const summary of summaries) this.summaries.set(summary.channel.id, summary);
    this.changed();
  }

  upsert(summary: ChannelSummary): void {
    this.summaries.set(summary.channel.id, summary);
    this.changed();
  }

  remove(channelId: ChannelId): void {
    if (this.summaries.delete(channelId)) this.changed();
  }

  /** The user read up to `messageId` locally (before the server's read_marker comes back). */
  markRead(channelId: ChannelId, messageId: number): void {
    const summary = this.summaries.get(channelId);
    if (!summary) return;
    if (summary.last_read_message_id >= messageId && summary.unread_count === 0 && summary.mention_count === 0) return;
    const caughtUp = messageId >= summary.last_message_id;
    this.summaries.set(channelId, {
      ...summary,
      last_read_message_id: Math.max(summary.last_read_message_id, messageId),
      unread_count: caughtUp ? 0 : summary.unread_count,
      mention_count: caughtUp ? 0 : summary.mention_count,
    });
    this.changed();
  }

  applyEvent(event: EventPayload, context: ChannelEventContext): ChannelEffect {
    switch (event.kind) {
      case 'message_created': {
        const message = event.message;
        const summary = this.summaries.get(message.channel_id);
        if (!summary) return { kind: 'fetch_summary', channelId: message.channel_id };
        // Anything at or below last_message_id is already counted in the summary.
        if (message.id <= summary.last_message_id) return null;
        const next = { ...summary, last_message_id: Math.max(summary.last_message_id, message.id) };
        const isReply = message.thread_id !== null && message.thread_id !== message.id;
        if (message.author_id === context.me) {
          // Posting means the author has read the channel up to here.
          next.last_read_message_id = Math.max(next.last_read_message_id, message.id);
          if (!isReply) {
            next.unread_count = 0;
            next.mention_count = 0;
          }
        } else if (context.viewing !== message.channel_id && message.id > summary.last_read_message_id) {
          const fromCustomer = message.author_id === context.customerOf?.(message.channel_id);
          if (!isReply || fromCustomer) next.unread_count += 1;
          if (message.mentions.includes(context.me)) next.mention_count += 1;
        }
        this.summaries.set(message.channel_id, next);
        break;
      }
      case 'channel_created':
        if (!event.member_ids.includes(context.me)) return null;
        this.summaries.set(event.channel.id, {
          channel: event.channel,
          member_ids: event.member_ids,
          last_read_message_id: 0,
          last_message_id: 0,
          unread_count: 0,
          mention_count: 0,
          ...stripUndefined(this.summaries.get(event.channel.id)),
        });
        break;
      case 'channel_updated': {
        const summary = this.summaries.get(event.channel.id);
        if (!summary) return null;
        this.summaries.set(event.channel.id, { ...summary, channel: event.channel });
        break;
      }
      case 'member_joined': {
        const summary = this.summaries.get(event.channel_id);
        if (!summary) return event.user_id === context.me ? { kind: 'fetch_summary', channelId: event.channel_id } : null;
        if (summary.member_ids.includes(event.user_id)) return null;
        this.summaries.set(event.channel_id, { ...summary, member_ids: [...summary.member_ids, event.user_id] });
        break;
      }
      case 'member_left': {
        if (event.user_id === context.me) {
          this.remove(event.channel_id);
          return { kind: 'removed', channelId: event.channel_id };
        }
        const summary = this.summaries.get(event.channel_id);
        if (!summary) return null;
        this.summaries.set(event.channel_id, { ...summary, member_ids: summary.member_ids.filter((id) => id !== event.user_id) });
        break;
      }
      case 'read_marker': {
        const summary = this.summaries.get(event.channel_id);
        if (!summary) return null;
        this.markRead(event.channel_id, event.message_id);
        // Counts below the newest message cannot be derived locally.
        if (event.message_id < summary.last_message_id) return { kind: 'fetch_summary', channelId: event.channel_id };
        return null;
      }
      default:
        return null;
    }
    this.changed();
    return null;
  }

  /** Public and private channels, by name. */
  channelList(): ChannelSummary[] {
    return [...this.summaries.values()]
      .filter((summary) => !isConversation(summary.channel))
      .sort((a, b) => a.channel.name.localeCompare(b.channel.name));
  }

  /** Direct and group conversations, most recently active first. */
  conversationList(): ChannelSummary[] {
    return [...this.summaries.values()]
      .filter((summary) => isConversation(summary.channel))
      .sort((a, b) => b.last_message_id - a.last_message_id || b.channel.id - a.channel.id);
  }

  private changed(): void {
    this.version += 1;
    for (const listener of this.listeners) listener();
  }
}

export function isConversation(channel: Channel): boolean {
  return channel.kind === 'direct' || channel.kind === 'group';
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  return value ?? {};
}
