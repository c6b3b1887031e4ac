//! Guests are marked as such wherever their name appears. WhatsApp
//! customers are stored as guest accounts too, but they are customers, so
//! they are marked as such instead.

import type { Role } from '../api/types';

/** "Guest" (or "WhatsApp" for a customer) next to a name, wherever people are listed. */
export function GuestBadge({ user }: { user: { role?: Role; email?: string } | undefined }) {
  if (user?.role !== 'guest') return null;
  if (user.email?.endsWith('@whatsapp.invalid')) return <span class="guest-badge customer-badge">WhatsApp</span>;
  return <span class="guest-badge">Guest</span>;
}
