//! What the browser tab says: the number of conversations waiting for the
//! user, counted as the sidebar's badges count them, in the tab title.

import type { ChannelId, ChannelSummary } from '../api/types';
import { isConversation } from './channels';

export const APP_NAME = 'Conclave';

/**
 * The unread count for the tab title: every unread message in direct and
 * group conversations and every mention in channels, except in the channel
 * the user is looking at.
 */
export function unreadForTitle(summaries: Iterable<ChannelSummary>, viewing: ChannelId | null): number {
  let total = 0;
  for (const summary of summaries) {
    if (summary.channel.id === viewing) continue;
    total += isConversation(summary.channel) ? Math.max(summary.unread_count, summary.mention_count) : summary.mention_count;
  }
  return total;
}

/** "(3) Conclave", or just "Conclave" with nothing waiting. */
export function documentTitle(unread: number): string {
  if (unread <= 0) return APP_NAME;
  return `(${unread > 99 ? '99+' : unread}) ${APP_NAME}`;
}
