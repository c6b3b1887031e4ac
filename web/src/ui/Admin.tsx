//! The admin console: people (search, role, deactivate/reactivate, invite a
//! guest with an expiry) for owners and admins, and the audit log (in
//! AuditLog.tsx) for admins, owners and compliance officers. Role changes
//! and deactivation wait for a confirmation that says what will happen, and
//! a toast says what did, with Undo. Per-user tools, Security settings and
//! the Directory live in AdminExtras.tsx.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { AdminUser, Channel, Role } from '../api/types';
import { assignableRoles, deactivationConfirmation, endOfDay, isExternalContact, mayToggleActive, ROLE_NAMES, roleChangeConfirmation, type Confirmation } from '../state/admin';
import { errorText } from '../state/app';
import { formatDateTime } from '../util/format';
import { Avatar } from './Avatar';
import { GuestBadge } from './GuestBadge';
import { Directory, SecuritySettings, UserTools } from './AdminExtras';
import { useApp } from './context';
import { ConfirmDialog, Modal } from './Dialogs';
import { AuditLog } from './AuditLog';
import { ResetPasswordButton } from './Passwords';
import { isErased } from '../state/accounts';


export function AdminConsole() {
  const app = useApp();
  const me = app.me;
  const managesPeople = me?.role === 'owner' || me?.role === 'admin';
  const [tab, setTab] = useState<Tab>(managesPeople ? 'people' : 'audit');
  const tabs: [Tab, string][] = managesPeople
    ? [
        ['people', 'People'],
        ['security', 'Security'],
        ['directory', 'Directory'],
        ['audit', 'Audit log'],
      ]
    : [['audit', 'Audit log']];
  const onKeyDown = (event: KeyboardEvent) => {
    const index = tabs.findIndex(([key]) => key === tab);
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    event.preventDefault();
    const next = tabs[(index + step + tabs.length) % tabs.length]![0];
    setTab(next);
    (document.getElementById(`tab-${next}`) as HTMLElement | null)?.focus();
  };
  return (
    <Modal title="Administration" onClose={() => app.setModal(null)} className="admin-dialog">
      <div class="tabs" role="tablist" aria-label="Administration sections" onKeyDown={onKeyDown}>
        {tabs.map(([key, label]) => (
          <button type="button" role="tab" key={key} id={`tab-${key}`} aria-controls={`panel-${key}`} aria-selected={tab === key} tabIndex={tab === key ? 0 : -1} class="tab" onClick={() => setTab(key)}>
            {label}
          </button>
        ))}
      </div>
      <div class="modal-body" role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === 'people' ? <People /> : tab === 'security' ? <SecuritySettings /> : tab === 'directory' ? <Directory /> : <AuditLog />}
      </div>
    </Modal>
  );
}

type Tab = 'people' | 'security' | 'directory' | 'audit';

function People() {
  const app = useApp();
  const me = app.me!;
  const [query, setQuery] = useState('');
  const [users, setUsers] = useState<AdminUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [inviting, setInviting] = useState(false);
  const [adding, setAdding] = useState(false);
  const [managing, setManaging] = useState<number | null>(null);
  // A role change or deactivation waits here for the admin to confirm it.
  const [pending, setPending] = useState<{ confirmation: Confirmation; run: () => Promise<void> } | null>(null);

  // Reloads (after an action, or as the search changes) may answer out of
  // order: only the latest request's answer is shown, and a reload always
  // searches for what the box holds now, never a query captured earlier.
  const currentQuery = useRef(query);
  currentQuery.current = query;
  const latestRequest = useRef(0);
  const load = (q = currentQuery.current) => {
    const request = ++latestRequest.current;
    return app.api
      .adminUsers({ q })
      .then((list) => {
        if (request !== latestRequest.current) return;
        setUsers(list);
        for (const user of list) app.users.set(user.id, user);
      })
      .catch((failure) => request === latestRequest.current && setError(errorText(failure)));
  };
  useEffect(() => {
    const timer = setTimeout(() => void load(query), 200);
    return () => clearTimeout(timer);
  }, [query]);

  const act = async (work: () => Promise<unknown>, done?: string, undo?: { run: () => Promise<unknown>; done: string }) => {
    setError(null);
    try {
      await work();
      await load();
      if (done) app.toast(done, undo && { label: 'Undo', run: () => act(undo.run, undo.done) });
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  const changeRole = (user: AdminUser, role: Role) => {
    const previous = user.role;
    setPending({
      confirmation: roleChangeConfirmation(user.name, previous, role),
      run: () =>
        act(() => app.api.setRole(user.id, role), `${user.name} is now ${roleWithArticle(role)}.`, {
          run: () => app.api.setRole(user.id, previous),
          done: `${user.name} is ${roleWithArticle(previous)} again.`,
        }),
    });
  };

  const deactivate = (user: AdminUser) =>
    setPending({
      confirmation: deactivationConfirmation(user.name),
      run: () =>
        act(() => app.api.setActive(user.id, false), `${user.name} was deactivated and signed out everywhere.`, {
          run: () => app.api.setActive(user.id, true),
          done: `${user.name} was reactivated.`,
        }),
    });

  return (
    <div class="stack">
      <div class="admin-toolbar">
        <input class="modal-search" type="search" aria-label="Search people" placeholder="Search by name or email" value={query} onInput={(event) => setQuery(event.currentTarget.value)} />
        <button type="button" class="button" onClick={() => setAdding(!adding)} aria-expanded={adding}>
          Add person
        </button>
        <button type="button" class="button primary" onClick={() => setInviting(!inviting)} aria-expanded={inviting}>
          Invite guest
        </button>
      </div>
      {adding && <PersonForm onDone={() => (setAdding(false), void load())} />}
      {inviting && <GuestForm onDone={() => (setInviting(false), void load())} />}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {!users ? (
        <p class="muted">Loading…</p>
      ) : (
        <ul class="admin-users" role="list">
          {/* WhatsApp customers are contacts, not staff: they are not listed among people. */}
          {users.filter((user) => !isExternalContact(user)).map((user) => {
            const roles = assignableRoles(me, user);
            return (
              <li key={user.id} class={`admin-user${user.active ? '' : ' inactive'}`}>
                <Avatar user={user} size={32} />
                <span class="member-text">
                  <span>
                    {user.name} <GuestBadge user={user} />
                    {!user.active && <span class="pill">Deactivated</span>}
                    {user.locked_until && user.locked_until > Date.now() && <span class="pill">Locked</span>}
                  </span>
                  <span class="muted">
                    {user.email}
                    {user.expires_at ? ` · until ${formatDateTime(user.expires_at)}` : ''}
                  </span>
                </span>
                <span class="admin-user-actions">
                  {roles.length > 0 ? (
                    <select
                      aria-label={`Role of ${user.name}`}
                      value={user.role}
                      onChange={(event) => {
                        const role = event.currentTarget.value as Role;
                        // Nothing is saved until confirmed: the list keeps showing the current role.
                        event.currentTarget.value = user.role;
                        if (role !== user.role) changeRole(user, role);
                      }}
                    >
                      {(roles.includes(user.role) ? roles : [user.role, ...roles]).map((role) => (
                        <option key={role} value={role}>
                          {ROLE_NAMES[role]}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <span class="capitalize muted">{user.role}</span>
                  )}
                  {mayToggleActive(me, user) && user.locked_until && user.locked_until > Date.now() && (
                    <button type="button" class="button small" onClick={() => void act(() => app.api.unlock(user.id))}>
                      Unlock<span class="sr-only"> {user.name}</span>
                    </button>
                  )}
                  {mayToggleActive(me, user) && isErased(user) && <span class="pill">Erased</span>}
                  {mayToggleActive(me, user) && user.active && <ResetPasswordButton user={user} />}
                  {mayToggleActive(me, user) && !isErased(user) && (
                    <button
                      type="button"
                      class={`button small${user.active ? ' danger' : ''}`}
                      onClick={() => (user.active ? deactivate(user) : void act(() => app.api.setActive(user.id, true), `${user.name} was reactivated.`))}
                    >
                      {user.active ? 'Deactivate' : 'Reactivate'}
                      <span class="sr-only"> {user.name}</span>
                    </button>
                  )}
                  {mayToggleActive(me, user) && (
                    <button type="button" class="button small" aria-expanded={managing === user.id} onClick={() => setManaging(managing === user.id ? null : user.id)}>
                      Manage<span class="sr-only"> {user.name}</span>
                    </button>
                  )}
                </span>
                {managing === user.id && <UserTools user={user} onChanged={() => void load()} />}
              </li>
            );
          })}
        </ul>
      )}
      {pending && (
        <ConfirmDialog
          title={pending.confirmation.title}
          body={pending.confirmation.body}
          confirmLabel={pending.confirmation.confirmLabel}
          onCancel={() => setPending(null)}
          onConfirm={() => {
            const run = pending.run;
            setPending(null);
            void run();
          }}
        />
      )}
    </div>
  );
}

function GuestForm({ onDone }: { onDone: () => void }) {
  const app = useApp();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [until, setUntil] = useState(() => new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10));
  const [channelIds, setChannelIds] = useState<number[]>([]);
  const [error, setError] = useState<string | null>(null);
  // The guest's channels: the admin's own channels and every public one.
  const [channels, setChannels] = useState<Channel[]>(() => app.channels.channelList().map((summary) => summary.channel));
  useEffect(() => {
    app.api
      .browseChannels()
      .then((entries) => {
        const known = new Map(app.channels.channelList().map((summary) => [summary.channel.id, summary.channel] as const));
        for (const entry of entries) known.set(entry.channel.id, entry.channel);
        setChannels([...known.values()].filter((channel) => !channel.archived).sort((a, b) => a.name.localeCompare(b.name)));
      })
      .catch(() => undefined);
  }, [app]);
  const submit = async (event: Event) => {
    event.preventDefault();
    const expires = endOfDay(until);
    if (expires === null || expires <= Date.now()) return setError('Choose a day in the future.');
    if (channelIds.length === 0) return setError('Choose at least one channel for the guest.');
    try {
      await app.api.createGuest({ name: name.trim(), email: email.trim(), password: password || undefined, expires_at: expires, channel_ids: channelIds });
      app.toast(`${name.trim()} was invited as a guest.`);
      onDone();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <form class="guest-form stack" onSubmit={submit} aria-label="Invite a guest">
      <label class="field">
        <span>Name</span>
        <input name="guest-name" required value={name} onInput={(event) => setName(event.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Email</span>
        <input name="guest-email" type="email" required value={email} onInput={(event) => setEmail(event.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Password (optional)</span>
        <input name="guest-password" type="password" autoComplete="new-password" value={password} onInput={(event) => setPassword(event.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Access until</span>
        <input name="guest-until" type="date" required value={until} onInput={(event) => setUntil(event.currentTarget.value)} />
      </label>
      <fieldset class="channel-picks">
        <legend>Channels the guest sees</legend>
        {channels.map((channel) => (
          <label class="checkbox" key={channel.id}>
            <input
              type="checkbox"
              checked={channelIds.includes(channel.id)}
              onChange={(event) => setChannelIds(event.currentTarget.checked ? [...channelIds, channel.id] : channelIds.filter((id) => id !== channel.id))}
            />
            <span>#{channel.name}</span>
          </label>
        ))}
      </fieldset>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="row-actions">
        <button type="submit" class="button primary">
          Create guest
        </button>
      </div>
    </form>
  );
}

/** Adds a colleague with a temporary password they change after signing in. */
function PersonForm({ onDone }: { onDone: () => void }) {
  const app = useApp();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const roles: Role[] = app.me?.role === 'owner' ? ['member', 'compliance', 'admin', 'owner'] : ['member', 'compliance', 'admin'];
  const submit = async (event: Event) => {
    event.preventDefault();
    if (password.length < 10) return setError('The temporary password needs at least 10 characters.');
    try {
      await app.api.createUser({ name: name.trim(), email: email.trim(), role, password });
      app.toast(`${name.trim()} can now sign in.`);
      onDone();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <form class="guest-form stack" onSubmit={submit} aria-label="Add a person">
      <label class="field">
        <span>Name</span>
        <input name="person-name" required value={name} onInput={(event) => setName(event.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Email</span>
        <input name="person-email" type="email" required value={email} onInput={(event) => setEmail(event.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Role</span>
        <select name="person-role" value={role} onChange={(event) => setRole(event.currentTarget.value as Role)}>
          {roles.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>Temporary password</span>
        <input name="person-password" type="password" autoComplete="new-password" required value={password} onInput={(event) => setPassword(event.currentTarget.value)} />
      </label>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="row-actions">
        <button type="submit" class="button primary">
          Add person
        </button>
      </div>
    </form>
  );
}

function roleWithArticle(role: Role): string {
  const name = ROLE_NAMES[role];
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
}
