//! Sign-in security screens: the blocking acceptable-use policy and MFA
//! enrolment screens of a restricted session, and the "Security" dialog
//! (MFA on/off, recovery codes, sessions with revoke).

import { ChangePasswordSection } from './Passwords';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { Policy, Session, TotpEnrolment } from '../api/types';
import { errorText } from '../state/app';
import { retryAfterText } from '../state/sso';
import { formatDateTime } from '../util/format';
import { useApp } from './context';
import { Modal } from './Dialogs';
import { Logo } from './icons';

/** Error text for security forms: wrong codes and lockouts say what to do. */
function securityErrorText(error: unknown): string {
  if (error instanceof ApiError && error.code === 'invalid_totp') return 'That code is not valid. Check your authenticator app and try again.';
  if (error instanceof ApiError && error.code === 'account_locked') return `${error.message}${retryAfterText(error.retryAfterMs)}`;
  return errorText(error);
}

/** Full-page screen of a restricted session: enrol MFA first, then accept the policy. */
export function RestrictedScreen() {
  const app = useApp();
  return (
    <main class="signin">
      <div class="signin-card wide-card">
        <div class="signin-brand">
          <Logo size={40} />
        </div>
        {app.restriction === 'mfa_enrolment' ? (
          <>
            <h1 class="screen-title">Set up two-factor authentication</h1>
            <p class="muted">Your organisation requires a second factor before you can continue.</p>
            <MfaEnrolment onDone={() => void app.refreshRestriction().catch((error) => app.toast(errorText(error)))} />
          </>
        ) : (
          <PolicyAcceptance />
        )}
        <button type="button" class="link-button" onClick={() => void app.signOut()}>
          Sign out
        </button>
      </div>
    </main>
  );
}

function PolicyAcceptance() {
  const app = useApp();
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    app.api
      .policy()
      .then(setPolicy)
      .catch((failure) => setError(errorText(failure)));
  }, [app]);
  const accept = async () => {
    if (!policy) return;
    setBusy(true);
    setError(null);
    try {
      await app.api.acceptPolicy(policy.version);
      await app.refreshRestriction();
    } catch (failure) {
      // A newer version was published meanwhile: show that one.
      if (failure instanceof ApiError && failure.code === 'conflict') app.api.policy().then(setPolicy).catch(() => undefined);
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="policy" aria-labelledby="policy-title">
      <h1 id="policy-title" class="screen-title">
        Acceptable use policy{policy ? ` (version ${policy.version})` : ''}
      </h1>
      <p class="muted">Please read and accept the policy to continue.</p>
      {policy ? (
        <div class="policy-text" tabIndex={0} role="document" aria-label="Policy text">
          {policy.text}
        </div>
      ) : (
        !error && <p class="muted">Loading…</p>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <button type="button" class="button primary wide" disabled={!policy || busy} onClick={() => void accept()}>
        {busy ? 'Accepting…' : 'Accept'}
      </button>
    </section>
  );
}

/** Starts TOTP enrolment, shows the secret, confirms a code, then shows the recovery codes once. */
export function MfaEnrolment({ onDone }: { onDone: () => void }) {
  const app = useApp();
  const [enrolment, setEnrolment] = useState<TotpEnrolment | null>(null);
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    app.api
      .startTotp()
      .then(setEnrolment)
      .catch((failure) => setError(errorText(failure)));
  }, [app]);
  if (recovery) return <RecoveryCodes codes={recovery} onDone={onDone} />;
  const confirm = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await app.api.confirmTotp(code.replace(/\s/g, ''));
      setRecovery(answer.recovery_codes);
    } catch (failure) {
      setError(securityErrorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="mfa-enrol" onSubmit={confirm}>
      <ol class="steps">
        <li>Add an account in your authenticator app with this setup key (or paste the link into it):</li>
      </ol>
      {enrolment ? (
        <dl class="secret-box">
          <dt>Setup key</dt>
          <dd>
            <code class="secret" data-testid="totp-secret">
              {enrolment.secret}
            </code>
          </dd>
          <dt>Link</dt>
          <dd>
            <code class="secret small">{enrolment.otpauth_uri}</code>
          </dd>
        </dl>
      ) : (
        !error && <p class="muted">Preparing…</p>
      )}
      <label class="field">
        <span>Code from your app</span>
        <input name="mfa-code" inputMode="numeric" autoComplete="one-time-code" required value={code} onInput={(event) => setCode(event.currentTarget.value)} />
      </label>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="button primary wide" disabled={!enrolment || busy}>
        {busy ? 'Checking…' : 'Turn on two-factor authentication'}
      </button>
    </form>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <section class="recovery" aria-labelledby="recovery-title">
      <h2 id="recovery-title">Your recovery codes</h2>
      <p class="muted">Each code signs you in once if you lose your device. Store them somewhere safe: they are shown only now.</p>
      <ul class="recovery-codes" role="list">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <button type="button" class="button primary wide" onClick={onDone}>
        I have saved my codes
      </button>
    </section>
  );
}

/** The Security dialog from the user menu. */
export function SecurityDialog() {
  const app = useApp();
  const security = app.security;
  const [mode, setMode] = useState<'view' | 'enrol' | 'disable' | 'regenerate'>('view');
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [busy, setBusy] = useState(false);
  const close = () => app.setModal(null);

  const loadSessions = () =>
    app.api
      .sessions()
      .then(setSessions)
      .catch((failure) => setError(errorText(failure)));
  useEffect(() => {
    void app.loadSecurity();
    void loadSessions();
  }, [app]);

  const submitCode = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'disable') {
        await app.api.disableTotp(code.replace(/\s/g, ''));
        app.toast('Two-factor authentication is off.');
      } else {
        const answer = await app.api.regenerateRecoveryCodes(code.replace(/\s/g, ''));
        setCodes(answer.recovery_codes);
      }
      setMode('view');
      setCode('');
      await app.loadSecurity();
    } catch (failure) {
      setError(securityErrorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (session: Session) => {
    try {
      await app.api.revokeSession(session.id);
      if (session.current) return app.signOutLocally();
      await loadSessions();
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  return (
    <Modal title="Security" onClose={close} className="security-dialog">
      <div class="modal-body stack">
        <section aria-labelledby="mfa-heading" class="stack">
          <h3 id="mfa-heading">Two-factor authentication</h3>
          {codes ? (
            <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />
          ) : mode === 'enrol' ? (
            <MfaEnrolment
              onDone={() => {
                setMode('view');
                void app.loadSecurity();
              }}
            />
          ) : !security ? (
            <p class="muted">Loading…</p>
          ) : security.mfa_enabled ? (
            <>
              <p class="status-line">
                <span class="pill on">On</span> {security.recovery_codes_left} recovery code{security.recovery_codes_left === 1 ? '' : 's'} left
              </p>
              {mode === 'view' ? (
                <div class="row-actions">
                  <button type="button" class="button" onClick={() => (setMode('regenerate'), setError(null))}>
                    New recovery codes
                  </button>
                  {!security.mfa_required && (
                    <button type="button" class="button danger" onClick={() => (setMode('disable'), setError(null))}>
                      Turn off
                    </button>
                  )}
                </div>
              ) : (
                <form class="stack" onSubmit={submitCode}>
                  <label class="field">
                    <span>{mode === 'disable' ? 'Code to turn off two-factor authentication' : 'Code to replace your recovery codes'}</span>
                    <input name="security-code" autoComplete="one-time-code" required value={code} onInput={(event) => setCode(event.currentTarget.value)} />
                    <small class="muted">A code from your app or a recovery code.</small>
                  </label>
                  <div class="row-actions">
                    <button type="button" class="button" onClick={() => (setMode('view'), setError(null))}>
                      Cancel
                    </button>
                    <button type="submit" class={`button ${mode === 'disable' ? 'danger' : 'primary'}`} disabled={busy}>
                      {mode === 'disable' ? 'Turn off' : 'Replace codes'}
                    </button>
                  </div>
                </form>
              )}
            </>
          ) : (
            <>
              <p class="status-line">
                <span class="pill">Off</span> Protect your account with a code from an authenticator app.
              </p>
              <div class="row-actions">
                <button type="button" class="button primary" onClick={() => (setMode('enrol'), setError(null))}>
                  Set up two-factor authentication
                </button>
              </div>
            </>
          )}
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
        </section>
        <ChangePasswordSection onSignedOutOthers={() => void loadSessions()} />
        <section aria-labelledby="sessions-heading" class="stack">
          <h3 id="sessions-heading">Where you're signed in</h3>
          {!sessions ? (
            <p class="muted">Loading…</p>
          ) : (
            <ul class="session-list" role="list">
              {sessions.map((session) => (
                <li key={session.id} class="session-row">
                  <span class="session-text">
                    <span>
                      {describeAgent(session.user_agent)}
                      {session.current && <span class="pill on">This device</span>}
                    </span>
                    <span class="muted">
                      {session.address ?? 'unknown address'}
                      {session.created_at ? ` · since ${formatDateTime(session.created_at)}` : ''}
                    </span>
                  </span>
                  <button type="button" class="button small" aria-label={`Sign out session ${session.id}${session.current ? ' (this device)' : ''}`} onClick={() => void revoke(session)}>
                    Sign out
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </Modal>
  );
}

export function describeAgent(agent: string | null | undefined): string {
  if (!agent) return 'Unknown device';
  const browser = /Edg\//.test(agent) ? 'Edge' : /Firefox\//.test(agent) ? 'Firefox' : /Chrom(e|ium)\//.test(agent) ? 'Chrome' : /Safari\//.test(agent) ? 'Safari' : /curl|node|undici/i.test(agent) ? 'Script' : 'Browser';
  const system = /Android/.test(agent) ? 'Android' : /iPhone|iPad/.test(agent) ? 'iOS' : /Windows/.test(agent) ? 'Windows' : /Mac OS X/.test(agent) ? 'macOS' : /Linux/.test(agent) ? 'Linux' : '';
  return system ? `${browser} on ${system}` : browser;
}
