//! Pure rules for a person's own account on the client: erased accounts,
//! what an erasure removes from open screens, why someone was signed out,
//! reset codes in links, new-password checks, and the square crop of a
//! profile photo.

import type { Message, User, UserId } from '../api/types';
import { tombstone } from './messages';

/** Mirrors the server: an erased account's address is erased-ID@erased.invalid. */
export function isErased(user: Pick<User, 'id' | 'email'>): boolean {
  return user.email === `erased-${user.id}@erased.invalid`;
}

/** The messages an erasure of `userId` blanks, as they should now read. */
export function erasedMessages(messages: Iterable<Message>, userId: UserId, now: number): Message[] {
  const changed: Message[] = [];
  for (const message of messages) {
    if (message.author_id === userId && (message.text !== '' || message.attachments.length > 0 || message.deleted_at === null)) {
      changed.push(tombstone(message, now));
    }
  }
  return changed;
}

export type SignedOutReason = 'deactivated' | 'password_reset' | null;

/** What the sign-in screen says to someone who was signed out, or null. */
export function signedOutText(reason: SignedOutReason): string | null {
  switch (reason) {
    case 'deactivated':
      return 'Your account was deactivated by an administrator, so you were signed out. If you think this is a mistake, ask your administrator.';
    case 'password_reset':
      return 'Your password was changed. Sign in with the new one.';
    default:
      return null;
  }
}

/** The reset code in a link such as /reset-password?code=K7QM-2XRT-PW9A-HZ3C, or null. */
export function resetCodeFromLocation(pathname: string, search: string): string | null {
  if (pathname !== '/reset-password') return null;
  const code = new URLSearchParams(search).get('code');
  return code && code.trim() ? code.trim() : '';
}

/** A problem with a new password before it is sent, or null. The server checks its full policy. */
export function newPasswordProblem(password: string, repeated: string): string | null {
  if ([...password].length < 10) return 'Use at least 10 characters.';
  if (password !== repeated) return 'The two passwords differ.';
  return null;
}

export interface Crop {
  /** Source square, in image pixels. */
  x: number;
  y: number;
  size: number;
}

/**
 * The square of a `width` × `height` image a photo keeps: `zoom` ≥ 1 narrows
 * it, `panX`/`panY` in [-1, 1] move it from the centre to an edge.
 */
export function squareCrop(width: number, height: number, zoom: number, panX: number, panY: number): Crop {
  const size = Math.max(1, Math.floor(Math.min(width, height) / Math.max(1, zoom)));
  const clamp = (value: number) => Math.max(-1, Math.min(1, value));
  const x = Math.round(((width - size) / 2) * (1 + clamp(panX)));
  const y = Math.round(((height - size) / 2) * (1 + clamp(panY)));
  return { x, y, size };
}
