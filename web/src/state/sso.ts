//! Single sign-on return: the server redirects to `/#sso_token=…` or
//! `/#sso_error=CODE`; the client reads and removes the fragment.

export type SsoReturn = { token: string } | { error: string } | null;

export function readSsoFragment(hash: string): SsoReturn {
  const fragment = hash.startsWith('#') ? hash.slice(1) : hash;
  if (!fragment) return null;
  const params = new URLSearchParams(fragment);
  const token = params.get('sso_token');
  if (token) return { token };
  const error = params.get('sso_error');
  if (error) return { error };
  return null;
}

const SSO_ERRORS: Record<string, string> = {
  invalid_state: 'The single sign-on attempt expired or was started in another browser. Please try again.',
  provider_refused: 'The identity provider refused the sign-in.',
  provider_unavailable: 'The identity provider could not be reached. Please try again later.',
  code_refused: 'The identity provider did not accept the sign-in. Please try again.',
  invalid_id_token: 'The identity provider answered with an invalid token.',
  invalid_nonce: 'The sign-in could not be verified. Please try again.',
  no_email: 'Your identity provider did not share a verified email address.',
  unknown_user: 'There is no Conclave account for you yet. Ask an administrator.',
  account_deactivated: 'Your account is deactivated.',
  sso_not_configured: 'Single sign-on is not configured.',
};

export function ssoErrorText(code: string): string {
  return SSO_ERRORS[code] ?? `Single sign-on failed (${code}).`;
}

/** "Try again in 15 minutes" from a Retry-After in milliseconds. */
export function retryAfterText(ms: number | null): string {
  if (ms === null) return '';
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return ` Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;
  const minutes = Math.ceil(seconds / 60);
  return ` Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}
