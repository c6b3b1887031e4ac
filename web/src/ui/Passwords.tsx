//! Passwords in the client: changing one's own (Security dialog), an
//! administrator's one-time reset code (Admin → People), and redeeming a
//! code on the sign-in page. Nobody ever chooses a password for someone
//! else.

import { useState } from 'preact/hooks';
import { changePassword, issuePasswordReset, redeemPasswordReset, type IssuedReset } from '../api/accounts';
import { ApiError } from '../api/client';
import type { AdminUser } from '../api/types';
import { errorText } from '../state/app';
import { newPasswordProblem } from '../state/accounts';
import { formatDateTime } from '../util/format';
import { useApp } from './context';

function passwordErrorText(failure: unknown): string {
  if (failure instanceof ApiError && failure.code === 'wrong_password') return 'Your current password is not right.';
  if (failure instanceof ApiError && failure.code === 'invalid_reset_code') return 'That code is wrong, already used or expired. Ask an administrator for a new one.';
  if (failure instanceof ApiError && failure.code === 'validation_failed') return `That password cannot be used: ${failure.message.replace(/^password:?\s*/i, '')}`;
  return errorText(failure);
}

/** Security dialog: change the password, optionally signing out elsewhere. */
export function ChangePasswordSection({ onSignedOutOthers }: { onSignedOutOthers?: () => void }) {
  const app = useApp();
  const [open, setOpen] = useState(false);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeated, setRepeated] = useState('');
  const [signOutOthers, setSignOutOthers] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const problem = newPasswordProblem(next, repeated);
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      const answer = await changePassword(app.api, current, next, signOutOthers);
      app.toast(
        answer.sessions_signed_out > 0
          ? `Password changed. ${answer.sessions_signed_out} other session${answer.sessions_signed_out === 1 ? ' was' : 's were'} signed out.`
          : 'Password changed.',
      );
      setOpen(false);
      setCurrent('');
      setNext('');
      setRepeated('');
      if (answer.sessions_signed_out > 0) onSignedOutOthers?.();
    } catch (failure) {
      setError(passwordErrorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="password-heading" class="stack">
      <h3 id="password-heading">Password</h3>
      {!open ? (
        <div class="account-row">
          <p class="muted">Change the password you sign in with.</p>
          <button type="button" class="button small" onClick={() => setOpen(true)}>
            Change password
          </button>
        </div>
      ) : (
        <form class="stack" onSubmit={submit} aria-label="Change password">
          <label class="field">
            <span>Current password</span>
            <input type="password" autoComplete="current-password" required value={current} onInput={(event) => setCurrent(event.currentTarget.value)} />
          </label>
          <div class="field">
            <label class="field">
              <span>New password</span>
              <input type="password" autoComplete="new-password" required minLength={10} aria-describedby="change-password-hint" value={next} onInput={(event) => setNext(event.currentTarget.value)} />
            </label>
            <small id="change-password-hint" class="muted">
              At least 10 characters; a few unrelated words work well.
            </small>
          </div>
          <label class="field">
            <span>Repeat the new password</span>
            <input type="password" autoComplete="new-password" required value={repeated} onInput={(event) => setRepeated(event.currentTarget.value)} />
          </label>
          <label class="checkbox">
            <input type="checkbox" checked={signOutOthers} onChange={(event) => setSignOutOthers(event.currentTarget.checked)} />
            <span>Sign out my other sessions (other browsers and phones)</span>
          </label>
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          <div class="account-actions">
            <button type="button" class="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit" class="button primary" disabled={busy}>
              {busy ? 'Saving…' : 'Change password'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

/** The full link to give someone, from what the server answered. */
export function resetLink(issued: Pick<IssuedReset, 'link'>, origin: string): string {
  return issued.link.startsWith('/') ? `${origin}${issued.link}` : issued.link;
}

/** Admin → People: issues a one-time reset code and shows it once. */
export function ResetPasswordButton({ user }: { user: AdminUser }) {
  const app = useApp();
  const [confirming, setConfirming] = useState(false);
  const [issued, setIssued] = useState<IssuedReset | null>(null);
  const [busy, setBusy] = useState(false);

  const issue = async () => {
    setBusy(true);
    try {
      setIssued(await issuePasswordReset(app.api, user.id));
      setConfirming(false);
      app.toast(`A reset code for ${user.name} was created; they were signed out everywhere.`);
    } catch (failure) {
      app.toast(passwordErrorText(failure));
    } finally {
      setBusy(false);
    }
  };
  const link = issued ? resetLink(issued, location.origin) : '';

  return (
    <>
      <button type="button" class="button small" aria-expanded={confirming || issued !== null} onClick={() => (issued ? setIssued(null) : setConfirming(!confirming))}>
        Reset password<span class="sr-only"> for {user.name}</span>
      </button>
      {confirming && !issued && (
        <div class="reset-panel stack" role="group" aria-label={`Reset the password of ${user.name}`}>
          <p>
            {user.name} will be signed out everywhere and gets a one-time code to choose a new password. The code works once, for 24 hours. Their current password keeps working until
            they use it.
          </p>
          <div class="account-actions">
            <button type="button" class="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
            <button type="button" class="button primary" disabled={busy} onClick={() => void issue()}>
              Create reset code
            </button>
          </div>
        </div>
      )}
      {issued && (
        <div class="reset-panel stack" role="group" aria-label={`Reset code for ${user.name}`}>
          <p>
            Give {user.name} this code or link in person or over a channel you trust. It is shown only now and works until {formatDateTime(issued.expires_at)}.
          </p>
          <p class="reset-code" data-testid="reset-code">
            {issued.code}
          </p>
          <input class="reset-link" readOnly value={link} aria-label="Reset link" onFocus={(event) => event.currentTarget.select()} />
          <div class="account-actions">
            <button type="button" class="button" onClick={() => void navigator.clipboard?.writeText(link).then(() => app.toast('Link copied.'), () => undefined)}>
              Copy link
            </button>
            <button type="button" class="button primary" onClick={() => setIssued(null)}>
              Done
            </button>
          </div>
        </div>
      )}
    </>
  );
}

/** Sign-in page: set a new password with a code from an administrator. */
export function RedeemResetForm({ initialCode, onDone, onCancel }: { initialCode: string; onDone: (email: string) => void; onCancel: () => void }) {
  const app = useApp();
  const [code, setCode] = useState(initialCode);
  const [next, setNext] = useState('');
  const [repeated, setRepeated] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const problem = newPasswordProblem(next, repeated);
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      const answer = await redeemPasswordReset(app.api, code.trim(), next);
      onDone(answer.user.email);
    } catch (failure) {
      setError(passwordErrorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="signin-card" onSubmit={submit} aria-labelledby="reset-title">
      <div class="signin-brand">
        <h1 id="reset-title">Choose a new password</h1>
        <p class="muted">Enter the reset code your administrator gave you.</p>
      </div>
      <label class="field">
        <span>Reset code</span>
        <input name="code" autoComplete="one-time-code" required value={code} placeholder="XXXX-XXXX-XXXX-XXXX" onInput={(event) => setCode(event.currentTarget.value)} />
      </label>
      <div class="field">
        <label class="field">
          <span>New password</span>
          <input type="password" name="new-password" autoComplete="new-password" required minLength={10} aria-describedby="reset-password-hint" value={next} onInput={(event) => setNext(event.currentTarget.value)} />
        </label>
        <small id="reset-password-hint" class="muted">
          At least 10 characters; a few unrelated words work well.
        </small>
      </div>
      <label class="field">
        <span>Repeat the new password</span>
        <input type="password" name="repeat-password" autoComplete="new-password" required value={repeated} onInput={(event) => setRepeated(event.currentTarget.value)} />
      </label>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <button class="button primary wide" type="submit" disabled={busy}>
        {busy ? 'Saving…' : 'Set new password'}
      </button>
      <button class="button wide" type="button" onClick={onCancel}>
        Back to sign in
      </button>
    </form>
  );
}
