//! A person's own account over REST: password change, administrators'
//! one-time reset codes and their redemption, profiles and photos.

import { API_PREFIX, ApiError, type ApiClient } from './client';
import type { User, UserId } from './types';

export interface Profile {
  user_id: UserId;
  /** A short line such as "On leave until Monday"; empty for none. */
  status: string;
  /** Changes with the photo; null without one. */
  avatar_version: number | null;
}

export interface IssuedReset {
  user_id: UserId;
  code: string;
  /** A path on this server (or a full link when the server knows its address). */
  link: string;
  expires_at: number;
  sessions_signed_out: number;
}

export function changePassword(api: ApiClient, currentPassword: string, newPassword: string, signOutOthers: boolean): Promise<{ sessions_signed_out: number }> {
  return api.request('POST', '/me/password', { current_password: currentPassword, new_password: newPassword, sign_out_others: signOutOthers });
}

export function issuePasswordReset(api: ApiClient, userId: UserId): Promise<IssuedReset> {
  return api.request('POST', `/admin/users/${userId}/password-reset`);
}

export function redeemPasswordReset(api: ApiClient, code: string, newPassword: string): Promise<{ user: User }> {
  return api.request('POST', '/auth/password-reset', { code, new_password: newPassword });
}

export function profiles(api: ApiClient): Promise<Profile[]> {
  return api.request('GET', '/profiles');
}

export function myProfile(api: ApiClient): Promise<{ user: User; profile: Profile }> {
  return api.request('GET', '/users/me');
}

export function updateMyProfile(api: ApiClient, change: { name?: string; status?: string }): Promise<{ user: User; profile: Profile }> {
  return api.request('PATCH', '/users/me', change);
}

export function removeAvatar(api: ApiClient): Promise<Profile> {
  return api.request('DELETE', '/users/me/avatar');
}

/** Sends a (cropped) photo as the raw body; the server squares and scales it again. */
export async function uploadAvatar(api: ApiClient, image: Blob): Promise<Profile> {
  let response: Response;
  try {
    response = await fetch(`${API_PREFIX}/users/me/avatar`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${api.token ?? ''}`, 'Content-Type': image.type || 'application/octet-stream' },
      body: image,
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server.');
  }
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = response.status === 413 ? 'The photo is too large (at most 5 MB).' : 'The photo could not be saved.';
    try {
      const body = (await response.json()) as { code?: string; message?: string };
      code = body.code ?? code;
      message = body.message ?? message;
    } catch {
      // Keep the default text.
    }
    throw new ApiError(response.status, code, message);
  }
  return (await response.json()) as Profile;
}

/** Where a person's photo is read from (through the authenticated blob cache). */
export function avatarPath(profile: Profile | undefined): string | null {
  if (!profile || profile.avatar_version === null) return null;
  return `/users/${profile.user_id}/avatar?v=${profile.avatar_version}`;
}
