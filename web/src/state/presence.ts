//! Which people's presence this client watches besides its conversation
//! partners (the server pushes those anyway): the members of the open
//! channel and of the visible member list. The server takes at most 500
//! ids per `presence_subscribe`, and each one replaces the previous set.

import type { UserId } from '../api/types';

export const MAX_PRESENCE_WATCH = 500;

/** The ids to watch: unique, without me, sorted, capped at the server's limit. */
export function presenceTargets(me: UserId | null, ...groups: (readonly UserId[] | undefined)[]): UserId[] {
  const ids = new Set<UserId>();
  for (const group of groups) for (const id of group ?? []) if (id !== me) ids.add(id);
  return [...ids].sort((a, b) => a - b).slice(0, MAX_PRESENCE_WATCH);
}

/**
 * Sends `presence_subscribe` only when the watched set changes, and again
 * after every reconnect (a new socket starts with an empty set).
 */
export class PresenceWatch {
  private sentKey: string | null = null;
  watched: UserId[] = [];

  constructor(private readonly send: (ids: UserId[]) => boolean) {}

  /** Call with the current targets whenever the view may have changed. */
  update(ids: UserId[]): void {
    const key = ids.join(',');
    if (key === this.sentKey) return;
    if (this.sentKey === null && ids.length === 0) {
      // A fresh socket watches nobody already.
      this.sentKey = key;
      this.watched = ids;
      return;
    }
    if (this.send(ids)) {
      this.sentKey = key;
      this.watched = ids;
    }
  }

  /** The socket was replaced: the server forgot the set. */
  reset(): void {
    this.sentKey = null;
    this.watched = [];
  }

  /** Applies a `presence_snapshot`: every watched id is online or offline. */
  applySnapshot(online: readonly UserId[], presence: Map<UserId, 'online' | 'offline'>): void {
    const set = new Set(online);
    for (const id of this.watched) presence.set(id, set.has(id) ? 'online' : 'offline');
    for (const id of online) presence.set(id, 'online');
  }
}
