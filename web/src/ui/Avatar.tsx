//! Round avatars: the person's photo when they set one, else initials; with
//! an optional presence dot.

import type { User } from '../api/types';
import { avatarPath } from '../api/accounts';
import { avatarHue, initials } from '../util/format';
import { useBlobUrl } from './blobs';
import { useApp } from './context';

export function Avatar({ user, size = 36, presence }: { user: User | undefined; size?: number; presence?: 'online' | 'offline' | undefined }) {
  const app = useApp();
  const name = user?.name ?? '…';
  const hue = avatarHue(user?.id ?? 0);
  const photo = useBlobUrl(app.api, user ? avatarPath(app.profiles.get(user.id)) : null);
  const showPhoto = photo.status === 'ready' && photo.url;
  return (
    <span
      class={`avatar${showPhoto ? ' has-photo' : ''}`}
      data-initials={showPhoto ? '' : initials(name)}
      style={{ width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.4)}px`, '--hue': String(hue) }}
      aria-hidden="true"
    >
      {showPhoto && <img class="avatar-photo" src={photo.url ?? ''} alt="" width={size} height={size} />}
      {presence && <span class={`presence presence-${presence}`} />}
    </span>
  );
}

export function PresenceDot({ status }: { status: 'online' | 'offline' | undefined }) {
  return <span class={`presence-inline presence-${status ?? 'offline'}`} aria-label={status === 'online' ? 'online' : 'offline'} role="img" />;
}
