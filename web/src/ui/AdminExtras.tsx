//! The admin console's extra pages: per-user tools (reset MFA, sessions,
//! guest expiry), Security settings (MFA policy, acceptable-use policy, SSO
//! status, SCIM tokens) and Directory (departments, teams, auto-membership rules).

import { useEffect, useState } from 'preact/hooks';
import { adminApi, type AutoRule, type MfaPolicy, type OrgUnit, type OrgUnitDetail, type PolicyAcceptance, type ScimToken, type UnitKind } from '../api/adminExtras';
import type { AdminUser, Channel, Policy, Session, SsoConfig } from '../api/types';
import { endOfDay } from '../state/admin';
import { dayValue, deviceLabel, ruleRows, sortScimTokens, unitNameProblem } from '../state/adminExtras';
import { errorText } from '../state/app';
import { formatDateTime } from '../util/format';
import { useApp } from './context';

function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p class="form-error" role="alert">
      {error}
    </p>
  ) : null;
}

/** Runs an action, reporting failures in `setError`, then `after`. */
function useAction(after?: () => unknown) {
  const [error, setError] = useState<string | null>(null);
  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      await after?.();
      return true;
    } catch (failure) {
      setError(errorText(failure));
      return false;
    }
  };
  return { error, setError, act };
}

// ---- per user ------------------------------------------------------------

export function UserTools({ user, onChanged }: { user: AdminUser; onChanged: () => void }) {
  const app = useApp();
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [confirmReset, setConfirmReset] = useState(false);
  const [until, setUntil] = useState(dayValue(user.expires_at));
  const load = () =>
    adminApi
      .userSessions(app.api, user.id)
      .then(setSessions)
      .catch((failure) => (setSessions([]), setError(errorText(failure))));
  const { error, setError, act } = useAction(load);
  useEffect(() => void load(), [user.id]);
  const labelId = `user-tools-${user.id}`;
  return (
    <section class="user-tools stack" aria-labelledby={labelId}>
      <h3 id={labelId}>Manage {user.name}</h3>
      <ErrorLine error={error} />
      <div class="row-actions">
        {confirmReset ? (
          <>
            <span>Remove {user.name}’s two-factor authentication and sign them out everywhere?</span>
            <button
              type="button"
              class="button small danger"
              onClick={() =>
                void act(async () => {
                  await adminApi.resetMfa(app.api, user.id);
                  setConfirmReset(false);
                  app.toast(`Two-factor authentication was reset for ${user.name}.`);
                })
              }
            >
              Confirm reset
            </button>
            <button type="button" class="button small" onClick={() => setConfirmReset(false)}>
              Cancel
            </button>
          </>
        ) : (
          <button type="button" class="button small" onClick={() => setConfirmReset(true)}>
            Reset two-factor authentication
          </button>
        )}
      </div>
      <h4>Sessions</h4>
      {!sessions ? (
        <p class="muted">Loading…</p>
      ) : sessions.length === 0 ? (
        <p class="muted">No active sessions.</p>
      ) : (
        <>
          <ul class="admin-sessions" role="list">
            {sessions.map((session) => (
              <li key={session.id} class="admin-session">
                <span class="member-text">
                  <span>{deviceLabel(session.user_agent)}</span>
                  <span class="muted">
                    {session.address ? `${session.address} · ` : ''}
                    {session.last_used_at ? `last used ${formatDateTime(session.last_used_at)}` : session.created_at ? `signed in ${formatDateTime(session.created_at)}` : ''}
                  </span>
                </span>
                <button type="button" class="button small" onClick={() => void act(() => adminApi.revokeUserSession(app.api, user.id, session.id))}>
                  Sign out<span class="sr-only"> session {session.id}</span>
                </button>
              </li>
            ))}
          </ul>
          <div class="row-actions">
            <button type="button" class="button small danger" onClick={() => void act(() => adminApi.revokeUserSessions(app.api, user.id))}>
              Sign out of all sessions
            </button>
          </div>
        </>
      )}
      {(user.role === 'guest' || user.expires_at) && (
        <form
          class="expiry-form row-actions"
          onSubmit={(event) => {
            event.preventDefault();
            const expires = until ? endOfDay(until) : null;
            if (until && (expires === null || expires <= Date.now())) return setError('Choose a day in the future.');
            void act(async () => {
              await adminApi.setExpiry(app.api, user.id, expires);
              app.toast(expires ? `${user.name}’s access now ends ${formatDateTime(expires)}.` : `${user.name}’s access no longer expires.`);
              onChanged();
            });
          }}
        >
          <label class="field compact">
            <span>Access until</span>
            <input type="date" name="expiry" value={until} onInput={(event) => setUntil(event.currentTarget.value)} />
          </label>
          <button type="submit" class="button small primary">
            Save expiry
          </button>
        </form>
      )}
    </section>
  );
}

// ---- security settings ----------------------------------------------------

export function SecuritySettings() {
  return (
    <div class="stack">
      <MfaPolicySection />
      <PolicySection />
      <SsoSection />
      <ScimSection />
    </div>
  );
}

function MfaPolicySection() {
  const app = useApp();
  const [policy, setPolicy] = useState<MfaPolicy | null>(null);
  const { error, act } = useAction();
  useEffect(() => void act(async () => setPolicy(await adminApi.mfaPolicy(app.api))), []);
  return (
    <section class="settings-section stack" aria-labelledby="mfa-policy-title">
      <h3 id="mfa-policy-title">Two-factor authentication</h3>
      <ErrorLine error={error} />
      {policy && (
        <>
          <label class="checkbox">
            <input
              type="checkbox"
              checked={policy.required}
              disabled={policy.required_by_config}
              onChange={(event) => {
                const required = event.currentTarget.checked;
                void act(async () => setPolicy(await adminApi.setMfaPolicy(app.api, required)));
              }}
            />
            <span>Require two-factor authentication for everyone who signs in with a password</span>
          </label>
          {policy.required_by_config && <p class="muted">Required by <code>auth.mfa_required</code> in conclave.toml; it cannot be switched off here.</p>}
        </>
      )}
    </section>
  );
}

function PolicySection() {
  const app = useApp();
  const [current, setCurrent] = useState<Policy | null | undefined>(undefined);
  const [acceptances, setAcceptances] = useState<PolicyAcceptance[]>([]);
  const [draft, setDraft] = useState('');
  const [users, setUsers] = useState<Map<number, string>>(new Map());
  const load = async () => {
    let policy: Policy | null = null;
    // `GET /me/security` says whether any version is published; asking for
    // the policy when none is would only answer 404.
    const security = await app.api.security();
    if (security.policy_version !== null && security.policy_version > 0) {
      try {
        policy = await app.api.policy();
      } catch (failure) {
        if ((failure as { status?: number }).status !== 404) throw failure;
      }
    }
    setCurrent(policy);
    if (policy) {
      setAcceptances(await adminApi.acceptances(app.api, policy.version));
      const list = await app.api.adminUsers({ limit: 1000 });
      setUsers(new Map(list.map((user) => [user.id, user.name] as const)));
    }
  };
  const { error, setError, act } = useAction();
  useEffect(() => void act(load), []);
  return (
    <section class="settings-section stack" aria-labelledby="aup-title">
      <h3 id="aup-title">Acceptable use policy</h3>
      {current === undefined ? (
        <p class="muted">Loading…</p>
      ) : current === null ? (
        <p class="muted">No policy is published.</p>
      ) : (
        <>
          <p>
            Version <strong data-testid="policy-version">{current.version}</strong>, published {formatDateTime(current.published_at)}.
          </p>
          <pre class="policy-current">{current.text}</pre>
          <h4>Accepted by ({acceptances.length})</h4>
          {acceptances.length === 0 ? (
            <p class="muted">Nobody has accepted this version yet.</p>
          ) : (
            <ul class="acceptances" role="list">
              {acceptances.map((entry) => (
                <li key={`${entry.user_id}-${entry.accepted_at}`}>
                  {users.get(entry.user_id) ?? `User ${entry.user_id}`} <span class="muted">· {formatDateTime(entry.accepted_at)}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <form
        class="stack"
        onSubmit={(event) => {
          event.preventDefault();
          if (!draft.trim()) return setError('Write the policy text first.');
          void act(async () => {
            const published = await adminApi.publishPolicy(app.api, draft.trim());
            setDraft('');
            app.toast(`Version ${published.version} of the policy was published; everyone must accept it.`);
            await load();
          });
        }}
      >
        <label class="field">
          <span>New policy text</span>
          <textarea name="policy-text" rows={5} value={draft} onInput={(event) => setDraft(event.currentTarget.value)} />
        </label>
        <p class="muted">Publishing a new version asks everyone, you included, to accept it before they continue.</p>
        <ErrorLine error={error} />
        <div class="row-actions">
          <button type="submit" class="button primary">
            Publish new version
          </button>
        </div>
      </form>
    </section>
  );
}

function SsoSection() {
  const app = useApp();
  const [config, setConfig] = useState<SsoConfig | null>(null);
  const { error, act } = useAction();
  useEffect(() => void act(async () => setConfig(await app.api.ssoConfig())), []);
  return (
    <section class="settings-section stack" aria-labelledby="sso-title">
      <h3 id="sso-title">Single sign-on</h3>
      <ErrorLine error={error} />
      {config && (
        <p>
          Status: <span class={`pill${config.enabled ? ' on' : ''}`}>{config.enabled ? 'On' : 'Off'}</span>
          {config.enabled && config.button_label ? ` · the sign-in button reads “${config.button_label}”` : ''}
        </p>
      )}
      <p class="muted">
        Single sign-on (OpenID Connect) is configured in the <code>[sso]</code> section of <code>conclave.toml</code>: issuer, client id and secret,
        redirect URL, scopes, just-in-time provisioning and the mapping of provider groups to departments and teams. Restart the server after changing it.
      </p>
    </section>
  );
}

function ScimSection() {
  const app = useApp();
  const [tokens, setTokens] = useState<ScimToken[] | null>(null);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const load = async () => setTokens(sortScimTokens(await adminApi.scimTokens(app.api)));
  const { error, setError, act } = useAction(load);
  useEffect(() => void act(async () => undefined), []);
  return (
    <section class="settings-section stack" aria-labelledby="scim-title">
      <h3 id="scim-title">SCIM provisioning tokens</h3>
      <p class="muted">
        Identity providers use these bearer tokens with <code>{`${location.origin}/scim/v2`}</code>.
      </p>
      <form
        class="admin-toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          if (!name.trim()) return setError('Name the token (for example, the identity provider).');
          void act(async () => {
            const created = await adminApi.createScimToken(app.api, name.trim());
            setSecret({ name: created.name, secret: created.secret });
            setCopied(false);
            setName('');
          });
        }}
      >
        <label class="field compact">
          <span>Token name</span>
          <input name="scim-token-name" value={name} onInput={(event) => setName(event.currentTarget.value)} />
        </label>
        <button type="submit" class="button primary">
          Create token
        </button>
      </form>
      {secret && (
        <div class="secret-box stack" role="status">
          <p>
            The token “{secret.name}”. Copy it now: it is not shown again.
          </p>
          <code class="secret" data-testid="scim-secret">
            {secret.secret}
          </code>
          <div class="row-actions">
            <button
              type="button"
              class="button small"
              onClick={() =>
                void navigator.clipboard
                  ?.writeText(secret.secret)
                  .then(() => setCopied(true))
                  .catch(() => setError('Copying failed; select the token and copy it yourself.'))
              }
            >
              {copied ? 'Copied' : 'Copy token'}
            </button>
            <button type="button" class="button small" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ErrorLine error={error} />
      {!tokens ? (
        <p class="muted">Loading…</p>
      ) : tokens.length === 0 ? (
        <p class="muted">No tokens yet.</p>
      ) : (
        <ul class="scim-tokens" role="list">
          {tokens.map((token) => (
            <li key={token.id} class="admin-session">
              <span class="member-text">
                <span>
                  {token.name} {token.revoked_at && <span class="pill">Revoked</span>}
                </span>
                <span class="muted">
                  created {formatDateTime(token.created_at)}
                  {token.last_used_at ? ` · last used ${formatDateTime(token.last_used_at)}` : ' · never used'}
                </span>
              </span>
              {!token.revoked_at && (
                <button type="button" class="button small danger" onClick={() => void act(() => adminApi.revokeScimToken(app.api, token.id))}>
                  Revoke<span class="sr-only"> token {token.name}</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

// ---- directory -------------------------------------------------------------

export function Directory() {
  const app = useApp();
  const [departments, setDepartments] = useState<OrgUnit[]>([]);
  const [teams, setTeams] = useState<OrgUnit[]>([]);
  const [rules, setRules] = useState<AutoRule[]>([]);
  const [users, setUsers] = useState<AdminUser[]>([]);
  const [channels, setChannels] = useState<Channel[]>([]);
  const load = async () => {
    const [d, t, r] = await Promise.all([adminApi.units(app.api, 'department'), adminApi.units(app.api, 'team'), adminApi.rules(app.api)]);
    setDepartments(d);
    setTeams(t);
    setRules(r);
  };
  const { error, act } = useAction();
  useEffect(() => {
    void act(async () => {
      await load();
      setUsers((await app.api.adminUsers({ limit: 1000 })).filter((user) => user.active));
      const known = new Map(app.channels.channelList().map((summary) => [summary.channel.id, summary.channel] as const));
      for (const entry of await app.api.browseChannels()) known.set(entry.channel.id, entry.channel);
      setChannels([...known.values()].filter((channel) => !channel.archived && (channel.kind === 'public' || channel.kind === 'private')).sort((a, b) => a.name.localeCompare(b.name)));
    });
  }, []);
  return (
    <div class="stack">
      <ErrorLine error={error} />
      <UnitList kind="department" units={departments} users={users} reload={load} />
      <UnitList kind="team" units={teams} users={users} reload={load} />
      <RuleSection rules={rules} units={[...departments, ...teams]} channels={channels} reload={load} />
    </div>
  );
}

function UnitList({ kind, units, users, reload }: { kind: UnitKind; units: OrgUnit[]; users: AdminUser[]; reload: () => Promise<void> }) {
  const app = useApp();
  const [name, setName] = useState('');
  const [open, setOpen] = useState<number | null>(null);
  const { error, setError, act } = useAction(reload);
  const plural = kind === 'department' ? 'Departments' : 'Teams';
  const titleId = `units-${kind}`;
  return (
    <section class="settings-section stack" aria-labelledby={titleId}>
      <h3 id={titleId}>{plural}</h3>
      <form
        class="admin-toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          const problem = unitNameProblem(name, units);
          if (problem) return setError(problem);
          void act(async () => {
            await adminApi.createUnit(app.api, kind, name.trim());
            setName('');
          });
        }}
      >
        <label class="field compact">
          <span>New {kind} name</span>
          <input name={`new-${kind}`} value={name} onInput={(event) => setName(event.currentTarget.value)} />
        </label>
        <button type="submit" class="button primary">
          Create {kind}
        </button>
      </form>
      <ErrorLine error={error} />
      {units.length === 0 ? (
        <p class="muted">No {plural.toLowerCase()} yet.</p>
      ) : (
        <ul class="admin-units" role="list">
          {units.map((unit) => (
            <li key={unit.id} class="admin-unit">
              <div class="admin-unit-head">
                <span class="member-text">
                  <span>{unit.name}</span>
                  <span class="muted">
                    {unit.member_count} {unit.member_count === 1 ? 'member' : 'members'}
                    {unit.external_id ? ' · from the identity provider' : ''}
                  </span>
                </span>
                <button type="button" class="button small" aria-expanded={open === unit.id} onClick={() => setOpen(open === unit.id ? null : unit.id)}>
                  {open === unit.id ? 'Close' : 'Edit'}
                  <span class="sr-only"> {kind} {unit.name}</span>
                </button>
              </div>
              {open === unit.id && <UnitEditor kind={kind} unit={unit} units={units} users={users} reload={reload} onDeleted={() => setOpen(null)} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function UnitEditor({ kind, unit, units, users, reload, onDeleted }: { kind: UnitKind; unit: OrgUnit; units: OrgUnit[]; users: AdminUser[]; reload: () => Promise<void>; onDeleted: () => void }) {
  const app = useApp();
  const [detail, setDetail] = useState<OrgUnitDetail | null>(null);
  const [name, setName] = useState(unit.name);
  const [adding, setAdding] = useState('');
  const [confirmDelete, setConfirmDelete] = useState(false);
  const loadDetail = async () => setDetail(await adminApi.unit(app.api, kind, unit.id));
  const { error, setError, act } = useAction(async () => {
    await reload();
    await loadDetail().catch(() => undefined);
  });
  useEffect(() => void act(async () => undefined), [unit.id]);
  const names = new Map(users.map((user) => [user.id, user.name] as const));
  const candidates = users.filter((user) => !detail?.member_ids.includes(user.id));
  return (
    <div class="unit-editor stack">
      <ErrorLine error={error} />
      <form
        class="admin-toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          const problem = unitNameProblem(name, units, unit.id);
          if (problem) return setError(problem);
          void act(() => adminApi.renameUnit(app.api, kind, unit.id, name.trim()));
        }}
      >
        <label class="field compact">
          <span>Name</span>
          <input name="unit-name" value={name} onInput={(event) => setName(event.currentTarget.value)} />
        </label>
        <button type="submit" class="button small">
          Rename
        </button>
      </form>
      <h4>Members</h4>
      {detail && detail.member_ids.length === 0 && <p class="muted">No members yet.</p>}
      {detail && detail.member_ids.length > 0 && (
        <ul class="unit-members" role="list">
          {detail.member_ids.map((id) => (
            <li key={id} class="admin-session">
              <span>{names.get(id) ?? `User ${id}`}</span>
              <button type="button" class="button small" onClick={() => void act(() => adminApi.removeMember(app.api, kind, unit.id, id))}>
                Remove<span class="sr-only"> {names.get(id) ?? `user ${id}`}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        class="admin-toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          if (!adding) return setError('Choose a person to add.');
          void act(async () => {
            await adminApi.addMember(app.api, kind, unit.id, Number(adding));
            setAdding('');
          });
        }}
      >
        <label class="field compact">
          <span>Add member</span>
          <select name="unit-add-member" aria-label="Add member" value={adding} onChange={(event) => setAdding(event.currentTarget.value)}>
            <option value="">Choose a person…</option>
            {candidates.map((user) => (
              <option key={user.id} value={String(user.id)}>
                {user.name} ({user.email})
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="button small primary">
          Add
        </button>
      </form>
      <div class="row-actions">
        {confirmDelete ? (
          <>
            <span>Delete {unit.name}? Its members stay in their channels.</span>
            <button type="button" class="button small danger" onClick={() => void act(async () => (await adminApi.deleteUnit(app.api, kind, unit.id), onDeleted()))}>
              Confirm delete
            </button>
            <button type="button" class="button small" onClick={() => setConfirmDelete(false)}>
              Cancel
            </button>
          </>
        ) : (
          <button type="button" class="button small danger" onClick={() => setConfirmDelete(true)}>
            Delete {kind}
          </button>
        )}
      </div>
    </div>
  );
}

function RuleSection({ rules, units, channels, reload }: { rules: AutoRule[]; units: OrgUnit[]; channels: Channel[]; reload: () => Promise<void> }) {
  const app = useApp();
  const [unitId, setUnitId] = useState('');
  const [channelId, setChannelId] = useState('');
  const { error, setError, act } = useAction(reload);
  const rows = ruleRows(rules, units, new Map(channels.map((channel) => [channel.id, channel.name] as const)));
  return (
    <section class="settings-section stack" aria-labelledby="rules-title">
      <h3 id="rules-title">Automatic channel membership</h3>
      <p class="muted">Members of a department or team join the channel now and whenever they join the unit; they leave it when they leave the unit.</p>
      <form
        class="admin-toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          if (!unitId || !channelId) return setError('Choose a department or team and a channel.');
          void act(async () => {
            await adminApi.createRule(app.api, Number(unitId), Number(channelId));
            setUnitId('');
            setChannelId('');
          });
        }}
      >
        <label class="field compact">
          <span>Department or team</span>
          <select name="rule-unit" aria-label="Department or team" value={unitId} onChange={(event) => setUnitId(event.currentTarget.value)}>
            <option value="">Choose…</option>
            {units.map((unit) => (
              <option key={unit.id} value={String(unit.id)}>
                {unit.kind === 'department' ? 'Department' : 'Team'}: {unit.name}
              </option>
            ))}
          </select>
        </label>
        <label class="field compact">
          <span>Channel</span>
          <select name="rule-channel" aria-label="Channel" value={channelId} onChange={(event) => setChannelId(event.currentTarget.value)}>
            <option value="">Choose…</option>
            {channels.map((channel) => (
              <option key={channel.id} value={String(channel.id)}>
                #{channel.name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="button primary">
          Add rule
        </button>
      </form>
      <ErrorLine error={error} />
      {rows.length === 0 ? (
        <p class="muted">No rules yet.</p>
      ) : (
        <ul class="admin-rules" role="list">
          {rows.map((row) => (
            <li key={row.id} class="admin-session">
              <span>
                {row.unitLabel} → {row.channelLabel}
              </span>
              <button type="button" class="button small danger" onClick={() => void act(() => adminApi.deleteRule(app.api, row.id))}>
                Delete rule<span class="sr-only"> {row.unitLabel} to {row.channelLabel}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
