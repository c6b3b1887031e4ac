//! The sign-in screen: email and password, then a one-time code when the
//! server answers `mfa_required`; a single sign-on button when configured.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { SsoConfig } from '../api/types';
import { retryAfterText } from '../state/sso';
import { ApiError } from '../api/client';
import { errorText } from '../state/app';
import { useApp } from './context';
import { Logo } from './icons';
import { RedeemResetForm } from './Passwords';
import { resetCodeFromLocation, signedOutText } from '../state/accounts';

export function SignIn() {
  const app = useApp();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needsCode, setNeedsCode] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(app.ssoError);
  const [sso, setSso] = useState<SsoConfig | null>(null);
  useEffect(() => {
    app.api
      .ssoConfig()
      .then((config) => setSso(config?.enabled && config.start_url ? config : null))
      .catch(() => setSso(null));
  }, [app]);
  const codeInput = useRef<HTMLInputElement>(null);
  // A reset link (/reset-password?code=…) opens the reset form at once.
  const [resetCode, setResetCode] = useState<string | null>(() => resetCodeFromLocation(location.pathname, location.search));
  const [forgot, setForgot] = useState(false);
  const [notice, setNotice] = useState<string | null>(() => signedOutText(app.signedOutReason));
  const leaveReset = (done?: string) => {
    setResetCode(null);
    setForgot(false);
    if (location.pathname === '/reset-password') history.replaceState(null, '', '/');
    if (done) {
      setEmail(done);
      setPassword('');
      setNotice('Your new password is set, and you were signed out everywhere else. Sign in with it now.');
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await app.signIn(email.trim(), password, needsCode ? totp.trim() : undefined);
    } catch (failure) {
      if (failure instanceof ApiError && (failure.code === 'mfa_required' || failure.code === 'totp_required')) {
        setNeedsCode(true);
        setTimeout(() => codeInput.current?.focus(), 0);
      } else if (failure instanceof ApiError && failure.code === 'invalid_credentials') {
        setError('That email and password do not match.');
      } else if (failure instanceof ApiError && failure.code === 'invalid_totp') {
        setError('That code is not valid. Check your authenticator app and try again.');
      } else if (failure instanceof ApiError && failure.code === 'account_locked') {
        setError(`${failure.message || 'Too many failed sign-ins: the account is locked for now.'}${retryAfterText(failure.retryAfterMs)}`);
      } else {
        setError(errorText(failure));
      }
    } finally {
      setBusy(false);
    }
  };

  if (resetCode !== null) {
    return (
      <main class="signin">
        <RedeemResetForm initialCode={resetCode} onDone={(doneEmail) => leaveReset(doneEmail)} onCancel={() => leaveReset()} />
      </main>
    );
  }

  return (
    <main class="signin">
      <form class="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div class="signin-brand">
          <Logo size={48} />
          <h1 id="signin-title">Sign in to Conclave</h1>
          <p class="muted">Your team's messages, kept safe.</p>
        </div>
        <label class="field">
          <span>Email</span>
          <input type="email" name="email" autoComplete="username" required value={email} onInput={(event) => setEmail(event.currentTarget.value)} autoFocus />
        </label>
        <label class="field">
          <span>Password</span>
          <input type="password" name="password" autoComplete="current-password" required value={password} onInput={(event) => setPassword(event.currentTarget.value)} />
        </label>
        {needsCode && (
          <label class="field">
            <span>Authentication code</span>
            <input
              ref={codeInput}
              name="totp"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9 ]{6,8}"
              required
              value={totp}
              onInput={(event) => setTotp(event.currentTarget.value)}
            />
            <small class="muted">Enter the 6-digit code from your authenticator app.</small>
          </label>
        )}
        {notice && (
          <p class="signin-notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <button class="button primary wide" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {!forgot ? (
          <button type="button" class="link-button" aria-expanded={false} onClick={() => setForgot(true)}>
            Forgot your password?
          </button>
        ) : (
          <div class="signin-notice stack" role="region" aria-label="Forgot your password">
            <p>
              Ask an administrator of your workspace to reset your password. They will give you a one-time reset code (or a link) that works for 24 hours; with it you choose
              a new password yourself.
            </p>
            <button type="button" class="button wide" onClick={() => setResetCode('')}>
              I have a reset code
            </button>
          </div>
        )}
        {sso && (
          <>
            <div class="divider" role="separator">
              <span>or</span>
            </div>
            <a class="button wide" href={sso.start_url}>
              {sso.button_label || 'Sign in with single sign-on'}
            </a>
          </>
        )}
      </form>
    </main>
  );
}
