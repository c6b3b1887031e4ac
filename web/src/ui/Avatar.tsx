//! Round initials avatars with an optional presence dot.

import type { User } from '../api/types';
import { avatarHue, initials } from '../util/format';

export function Avatar({ user, size = 36, presence }: { user: User | undefined; size?: number; presence?: 'online' | 'offline' | undefined }) {
  const name = user?.name ?? '…';
  const hue = avatarHue(user?.id ?? 0);
  return (
    <span
      class="avatar"
      data-initials={initials(name)}
      style={{ width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.4)}px`, '--hue': String(hue) }}
      aria-hidden="true"
    >
      {presence && <span class={`presence presence-${presence}`} />}
    </span>
  );
}

export function PresenceDot({ status }: { status: 'online' | 'offline' | undefined }) {
  return <span class={`presence-inline presence-${status ?? 'offline'}`} aria-label={status === 'online' ? 'online' : 'offline'} role="img" />;
}
