//! Channel details: rename, edit the topic, archive or unarchive, add and
//! remove members, manage incoming webhooks, and leave. Every failure is
//! shown in the dialog.

import { useEffect, useState } from 'preact/hooks';
import type { ChannelId, User } from '../api/types';
import { errorText } from '../state/app';
import { Avatar } from './Avatar';
import { ChannelWebhooks } from './ChannelWebhooks';
import { useApp } from './context';
import { ConfirmDialog, Modal } from './Dialogs';

export function ChannelSettings({ channelId, onClose }: { channelId: ChannelId; onClose: () => void }) {
  const app = useApp();
  const summary = app.channels.summaries.get(channelId);
  const channel = summary?.channel;
  const [name, setName] = useState(channel?.name ?? '');
  const [topic, setTopic] = useState(channel?.topic ?? '');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [members, setMembers] = useState<User[] | null>(null);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<User[]>([]);
  const [confirmLeave, setConfirmLeave] = useState(false);
  const leave = async () => {
    setConfirmLeave(false);
    setBusy(true);
    setError(null);
    onClose();
    const failure = await app.leaveChannel(channelId);
    if (failure) setError(`Could not leave the channel: ${failure}`);
    setBusy(false);
  };

  const refresh = async () => {
    const [fresh, users] = await Promise.all([app.api.channel(channelId), app.api.members(channelId)]);
    app.channels.upsert(fresh);
    setMembers(users);
  };
  useEffect(() => {
    app.api.members(channelId).then(setMembers, (failure) => setError(`Could not load members: ${errorText(failure)}`));
  }, [channelId]);
  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults([]);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      app.api.searchUsers(q, 8).then(
        (users) => live && setResults(users),
        (failure) => live && setError(`Could not search people: ${errorText(failure)}`),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [query]);

  const act = async (what: string, action: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await action();
      await refresh().catch(() => undefined);
      if (done) setNotice(done);
    } catch (failure) {
      setError(`Could not ${what}: ${errorText(failure)}`);
    } finally {
      setBusy(false);
    }
  };

  if (!channel) return null;
  const memberIds = new Set((members ?? []).map((user) => user.id));
  return (
    <Modal title={`#${channel.name} details`} onClose={onClose}>
      <form
        class="modal-form channel-settings"
        onSubmit={(event) => {
          event.preventDefault();
          const patch: { name?: string; topic?: string } = {};
          if (name.trim() !== channel.name) patch.name = name.trim();
          if (topic.trim() !== (channel.topic ?? '')) patch.topic = topic.trim();
          if (Object.keys(patch).length === 0) return;
          void act('save the channel', () => app.api.updateChannel(channelId, patch), 'Saved.');
        }}
      >
        <label>
          Channel name
          <input value={name} onInput={(event) => setName(event.currentTarget.value)} disabled={busy} />
        </label>
        <label>
          Topic
          <input value={topic} onInput={(event) => setTopic(event.currentTarget.value)} disabled={busy} />
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        {notice && (
          <p class="muted" role="status">
            {notice}
          </p>
        )}
        <div class="modal-actions">
          <button type="button" class="button" disabled={busy} onClick={() => void act(channel.archived ? 'unarchive the channel' : 'archive the channel', () => app.api.updateChannel(channelId, { archived: !channel.archived }), channel.archived ? 'Channel unarchived.' : 'Channel archived.')}>
            {channel.archived ? 'Unarchive channel' : 'Archive channel'}
          </button>
          <button type="submit" class="button primary" disabled={busy}>
            Save
          </button>
        </div>
      </form>
      <section class="channel-members" aria-label="Channel members">
        <h3>Members</h3>
        <label>
          Add people
          <input type="search" placeholder="Search by name or email" value={query} onInput={(event) => setQuery(event.currentTarget.value)} disabled={busy} />
        </label>
        {results.filter((user) => !memberIds.has(user.id)).length > 0 && (
          <ul class="member-list" role="list" aria-label="People to add">
            {results
              .filter((user) => !memberIds.has(user.id))
              .map((user) => (
                <li key={user.id} class="member-manage-row">
                  <Avatar user={user} size={24} />
                  <span class="member-text">{user.name}</span>
                  <button type="button" class="button small" disabled={busy} aria-label={`Add ${user.name}`} onClick={() => void act(`add ${user.name}`, () => app.api.addMember(channelId, user.id), `${user.name} was added.`).then(() => setQuery(''))}>
                    Add
                  </button>
                </li>
              ))}
          </ul>
        )}
        {!members && <p class="muted">Loading members…</p>}
        <ul class="member-list" role="list" aria-label="Current members">
          {(members ?? []).map((user) => (
            <li key={user.id} class="member-manage-row">
              <Avatar user={user} size={24} />
              <span class="member-text">
                {user.name}
                {user.id === app.me?.id ? ' (you)' : ''}
              </span>
              {user.id !== app.me?.id && (
                <button type="button" class="button small" disabled={busy} aria-label={`Remove ${user.name}`} onClick={() => void act(`remove ${user.name}`, () => app.api.removeMember(channelId, user.id), `${user.name} was removed.`)}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
        <div class="modal-actions">
          <button
            type="button"
            class="button danger"
            disabled={busy}
            onClick={() => (channel.kind === 'private' ? setConfirmLeave(true) : void leave())}
          >
            Leave channel
          </button>
          {confirmLeave && <LeaveChannelConfirm name={channel.name} onCancel={() => setConfirmLeave(false)} onConfirm={() => void leave()} />}
        </div>
      </section>
      {app.me && app.me.role !== 'guest' && <ChannelWebhooks channel={channel} />}
    </Modal>
  );
}

/** Leaving a private channel has no way back: only a member can add you again. */
export function LeaveChannelConfirm({ name, onConfirm, onCancel }: { name: string; onConfirm: () => void; onCancel: () => void }) {
  return (
    <ConfirmDialog
      title={`Leave #${name}?`}
      body={`#${name} is private: once you leave, you cannot see it or rejoin it yourself. Only one of its members can add you back.`}
      confirmLabel="Leave channel"
      onCancel={onCancel}
      onConfirm={onConfirm}
    />
  );
}
