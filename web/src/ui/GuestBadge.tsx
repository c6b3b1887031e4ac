//! Guests are marked as such wherever their name appears.

import type { Role } from '../api/types';

/** "Guest" next to a name, wherever people are listed. */
export function GuestBadge({ user }: { user: { role?: Role } | undefined }) {
  if (user?.role !== 'guest') return null;
  return <span class="guest-badge">Guest</span>;
}
