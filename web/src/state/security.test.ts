import { describe, expect, it } from 'vitest';
import { sessionEffect } from '../api/client';
import { PresenceWatch, presenceTargets } from './presence';
import { readSsoFragment, retryAfterText, ssoErrorText } from './sso';

describe('sessionEffect', () => {
  it('signs out only when the session is over', () => {
    expect(sessionEffect(401, 'unauthenticated')).toBe('sign_out');
    expect(sessionEffect(403, 'account_deactivated')).toBe('sign_out');
    expect(sessionEffect(401, 'invalid_totp')).toBeNull();
    expect(sessionEffect(401, 'mfa_required')).toBeNull();
    expect(sessionEffect(401, 'invalid_credentials')).toBeNull();
    expect(sessionEffect(423, 'account_locked')).toBeNull();
    expect(sessionEffect(403, 'forbidden')).toBeNull();
  });
  it('names the restriction of a restricted session', () => {
    expect(sessionEffect(403, 'mfa_enrolment_required')).toBe('mfa_enrolment');
    expect(sessionEffect(403, 'policy_acceptance_required')).toBe('policy');
  });
});

describe('presence subscription', () => {
  it('dedupes, drops me, sorts and caps at 500', () => {
    expect(presenceTargets(1, [3, 1, 2], [2, 5], undefined)).toEqual([2, 3, 5]);
    const many = Array.from({ length: 700 }, (_, index) => index + 2);
    expect(presenceTargets(1, many)).toHaveLength(500);
  });
  it('sends only changes, and again after a reconnect', () => {
    const sent: number[][] = [];
    const watch = new PresenceWatch((ids) => (sent.push(ids), true));
    watch.update([]);
    expect(sent).toEqual([]);
    watch.update([2, 3]);
    watch.update([2, 3]);
    expect(sent).toEqual([[2, 3]]);
    watch.update([4]);
    expect(sent).toEqual([[2, 3], [4]]);
    watch.reset();
    watch.update([4]);
    expect(sent).toEqual([[2, 3], [4], [4]]);
  });
  it('retries when the socket could not send', () => {
    let open = false;
    const sent: number[][] = [];
    const watch = new PresenceWatch((ids) => (open ? (sent.push(ids), true) : false));
    watch.update([7]);
    open = true;
    watch.update([7]);
    expect(sent).toEqual([[7]]);
  });
  it('applies a snapshot to the watched people', () => {
    const watch = new PresenceWatch(() => true);
    watch.update([2, 3]);
    const presence = new Map<number, 'online' | 'offline'>([[3, 'online'], [9, 'online']]);
    watch.applySnapshot([2], presence);
    expect(presence.get(2)).toBe('online');
    expect(presence.get(3)).toBe('offline');
    expect(presence.get(9)).toBe('online');
  });
});

describe('single sign-on return', () => {
  it('reads a token or an error from the fragment', () => {
    expect(readSsoFragment('#sso_token=abc.def')).toEqual({ token: 'abc.def' });
    expect(readSsoFragment('#sso_error=invalid_state')).toEqual({ error: 'invalid_state' });
    expect(readSsoFragment('')).toBeNull();
    expect(readSsoFragment('#other=1')).toBeNull();
  });
  it('explains errors and lockouts', () => {
    expect(ssoErrorText('unknown_user')).toMatch(/no Conclave account/);
    expect(ssoErrorText('weird')).toMatch(/weird/);
    expect(retryAfterText(900_000)).toBe(' Try again in 15 minutes.');
    expect(retryAfterText(30_000)).toBe(' Try again in 30 seconds.');
    expect(retryAfterText(null)).toBe('');
  });
});
