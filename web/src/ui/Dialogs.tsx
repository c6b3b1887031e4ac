//! Modal dialogs built on the native <dialog> element (focus trapping and
//! Escape for free): create channel, browse channels, new direct message,
//! the quick switcher and confirmations.

import { GuestBadge } from './GuestBadge';
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { BrowseEntry, User } from '../api/types';
import { errorText } from '../state/app';
import { isExternalContact } from '../state/admin';
import { Avatar } from './Avatar';
import { useApp } from './context';
import { Icon } from './icons';
import { InsideModal, ModalToasts } from './Toasts';

let modalSequence = 0;

export function Modal({ title, onClose, children, className }: { title: string; onClose: () => void; children: ComponentChildren; className?: string }) {
  const app = useApp();
  const dialog = useRef<HTMLDialogElement>(null);
  // Dialogs may be nested (a confirmation over the admin console): each needs its own title id.
  const titleId = useMemo(() => `modal-title-${++modalSequence}`, []);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return app.modalOpened();
  }, []);
  return (
    <dialog
      ref={dialog}
      class={`modal ${className ?? ''}`}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
      onClick={(event) => {
        if (event.target === dialog.current) onClose();
      }}
    >
      <div class="modal-inner">
        <header class="modal-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" class="icon-button" aria-label="Close" onClick={onClose}>
            <Icon name="x" />
          </button>
        </header>
        <InsideModal.Provider value={true}>{children}</InsideModal.Provider>
      </div>
      <ModalToasts />
    </dialog>
  );
}

export function ConfirmDialog({ title, body, confirmLabel, onConfirm, onCancel }: { title: string; body: string; confirmLabel: string; onConfirm: () => void; onCancel: () => void }) {
  return (
    <Modal title={title} onClose={onCancel} className="small">
      <p class="modal-text">{body}</p>
      <div class="modal-actions">
        <button type="button" class="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="button danger" onClick={onConfirm} autoFocus>
          {confirmLabel}
        </button>
      </div>
    </Modal>
  );
}

export function CreateChannel() {
  const app = useApp();
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [isPrivate, setPrivate] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const slug = name.trim().toLowerCase().replace(/\s+/g, '-').replace(/[^a-z0-9_-]/g, '');
  return (
    <Modal title="Create a channel" onClose={() => app.setModal(null)}>
      <form
        class="modal-form"
        onSubmit={async (event) => {
          event.preventDefault();
          if (!slug) return;
          setBusy(true);
          setError(null);
          try {
            await app.createChannel(slug, isPrivate ? 'private' : 'public', topic.trim(), []);
          } catch (failure) {
            setError(errorText(failure));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label class="field">
          <span>Name</span>
          <div class="input-prefix">
            <Icon name={isPrivate ? 'lock' : 'hash'} size={16} />
            <input name="channel-name" required maxLength={80} placeholder="e.g. marketing" value={name} onInput={(event) => setName(event.currentTarget.value)} autoFocus />
          </div>
          {name && slug !== name && <small class="muted">Will be created as #{slug}</small>}
        </label>
        <label class="field">
          <span>Topic (optional)</span>
          <input name="channel-topic" maxLength={250} value={topic} onInput={(event) => setTopic(event.currentTarget.value)} placeholder="What is this channel about?" />
        </label>
        <label class="checkbox">
          <input type="checkbox" checked={isPrivate} onChange={(event) => setPrivate(event.currentTarget.checked)} />
          <span>
            <strong>Make private</strong>
            <small class="muted">Only invited people can find and read it.</small>
          </span>
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="modal-actions">
          <button type="button" class="button" onClick={() => app.setModal(null)}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={!slug || busy}>
            Create
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function BrowseChannels() {
  const app = useApp();
  const [entries, setEntries] = useState<BrowseEntry[] | null>(null);
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    app.api.browseChannels().then(setEntries, (failure) => setError(errorText(failure)));
  }, [app]);
  const query = filter.trim().toLowerCase();
  const shown = (entries ?? []).filter((entry) => !query || entry.channel.name.includes(query) || entry.channel.topic.toLowerCase().includes(query));
  return (
    <Modal title="Browse channels" onClose={() => app.setModal(null)}>
      <input
        class="modal-search"
        type="search"
        placeholder="Search channels"
        aria-label="Search channels"
        value={filter}
        onInput={(event) => setFilter(event.currentTarget.value)}
        onKeyDown={(event) => {
          // Enter opens (or joins) the only channel that matches.
          const only = shown.length === 1 && query ? shown[0]! : null;
          if (event.key !== 'Enter' || !only) return;
          event.preventDefault();
          if (only.joined) {
            app.setModal(null);
            void app.openChannel(only.channel.id);
          } else void app.joinChannel(only.channel.id).catch((failure) => setError(errorText(failure)));
        }}
        autoFocus
      />
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <ul class="browse-list" role="list">
        {entries === null && !error && <li class="muted">Loading…</li>}
        {entries !== null && shown.length === 0 && <li class="muted">No channels match.</li>}
        {shown.map((entry) => (
          <li key={entry.channel.id} class="browse-row">
            <div class="browse-text">
              <span class="browse-name">
                <Icon name="hash" size={14} /> {entry.channel.name}
              </span>
              <span class="muted">
                {entry.member_count} {entry.member_count === 1 ? 'member' : 'members'}
                {entry.channel.topic ? ` · ${entry.channel.topic}` : ''}
              </span>
            </div>
            {entry.joined ? (
              <button
                type="button"
                class="button"
                onClick={() => {
                  app.setModal(null);
                  void app.openChannel(entry.channel.id);
                }}
              >
                Open
              </button>
            ) : (
              <button type="button" class="button primary" aria-label={`Join ${entry.channel.name}`} onClick={() => void app.joinChannel(entry.channel.id).catch((failure) => setError(errorText(failure)))}>
                Join
              </button>
            )}
          </li>
        ))}
      </ul>
    </Modal>
  );
}

/**
 * People matching `query`, as the server's directory answers. A guest may
 * only write to people who share a channel with them, so for guests the
 * answer is narrowed to those, whatever the directory returned.
 */
function useUserSearch(query: string): User[] {
  const app = useApp();
  const [results, setResults] = useState<User[]>([]);
  const guest = app.me?.role === 'guest';
  const reachable = guest ? new Set([...app.channels.summaries.values()].flatMap((summary) => summary.member_ids)) : null;
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      app.api.searchUsers(query, 12).then(
        (users) => {
          if (!live) return;
          for (const user of users) app.users.set(user.id, user);
          setResults(users);
        },
        () => live && setResults([]),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [query]);
  // WhatsApp customers are answered from the customer inbox, not messaged like staff.
  const staff = results.filter((user) => !isExternalContact(user));
  return reachable ? staff.filter((user) => reachable.has(user.id)) : staff;
}

export function NewMessage() {
  const app = useApp();
  const [query, setQuery] = useState('');
  const [chosen, setChosen] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const results = useUserSearch(query.trim()).filter((user) => user.id !== app.me?.id && !chosen.some((picked) => picked.id === user.id));
  const start = async () => {
    if (chosen.length === 0) return;
    try {
      await app.openConversation(chosen.map((user) => user.id));
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <Modal title="New message" onClose={() => app.setModal(null)}>
      <div class="chips" aria-label="Recipients">
        {chosen.map((user) => (
          <span class="chip" key={user.id}>
            {user.name}
            <button type="button" aria-label={`Remove ${user.name}`} onClick={() => setChosen(chosen.filter((picked) => picked.id !== user.id))}>
              <Icon name="x" size={12} />
            </button>
          </span>
        ))}
      </div>
      <input
        class="modal-search"
        type="search"
        placeholder="Type a name or email"
        aria-label="Find people"
        value={query}
        onInput={(event) => setQuery(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key !== 'Enter') return;
          event.preventDefault();
          // Enter picks the only match; with the box empty it starts the conversation.
          if (results.length === 1 && query.trim()) {
            setChosen([...chosen, results[0]!]);
            setQuery('');
          } else if (!query.trim()) void start();
        }}
        autoFocus
      />
      {app.me?.role === 'guest' && <p class="muted">You can message people who share a channel with you.</p>}
      <ul class="user-results" role="list">
        {results.map((user) => (
          <li key={user.id}>
            <button
              type="button"
              class="member-row"
              onClick={() => {
                setChosen([...chosen, user]);
                setQuery('');
              }}
            >
              <Avatar user={user} size={32} presence={app.presence.get(user.id)} />
              <span class="member-text">
                <span>
                  {user.name} <GuestBadge user={user} />
                </span>
                <span class="muted">
                  @{user.handle} · {user.email}
                </span>
              </span>
            </button>
          </li>
        ))}
      </ul>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="modal-actions">
        <span class="muted">{chosen.length > 1 ? 'Starts a group conversation.' : ''}</span>
        <button type="button" class="button primary" disabled={chosen.length === 0} onClick={() => void start()}>
          {chosen.length > 1 ? 'Start group' : 'Start conversation'}
        </button>
      </div>
    </Modal>
  );
}

export function QuickSwitcher() {
  const app = useApp();
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState(0);
  const people = useUserSearch(query.trim());
  const options = useMemo(() => {
    const needle = query.trim().toLowerCase();
    const summaries = [...app.channels.channelList(), ...app.channels.conversationList()];
    const channelOptions = summaries
      .map((summary) => ({ key: `c${summary.channel.id}`, label: app.title(summary), kind: summary.channel.kind, unread: summary.unread_count, run: () => void app.openChannel(summary.channel.id) }))
      .filter((option) => !needle || option.label.toLowerCase().includes(needle))
      .sort((a, b) => (b.unread > 0 ? 1 : 0) - (a.unread > 0 ? 1 : 0));
    const personOptions = needle
      ? people
          .filter((user) => user.id !== app.me?.id)
          .map((user) => ({ key: `u${user.id}`, label: user.name, kind: 'person' as const, unread: 0, run: () => void app.openConversation([user.id]) }))
      : [];
    return [...channelOptions, ...personOptions].slice(0, 12);
  }, [query, people, app.channels.version]);
  const choose = (index: number) => {
    const option = options[index];
    if (!option) return;
    app.setModal(null);
    option.run();
  };
  return (
    <Modal title="Jump to a conversation" onClose={() => app.setModal(null)} className="switcher">
      <input
        class="modal-search"
        type="search"
        placeholder="Channel or person"
        aria-label="Channel or person"
        aria-controls="switcher-list"
        aria-activedescendant={options[selected] ? `switcher-${options[selected]!.key}` : undefined}
        value={query}
        autoFocus
        onInput={(event) => {
          setQuery(event.currentTarget.value);
          setSelected(0);
        }}
        onKeyDown={(event) => {
          if (event.key === 'ArrowDown') {
            event.preventDefault();
            setSelected(Math.min(options.length - 1, selected + 1));
          } else if (event.key === 'ArrowUp') {
            event.preventDefault();
            setSelected(Math.max(0, selected - 1));
          } else if (event.key === 'Enter') {
            event.preventDefault();
            choose(selected);
          }
        }}
      />
      <ul class="switcher-list" id="switcher-list" role="listbox" aria-label="Matches">
        {options.map((option, index) => (
          <li
            key={option.key}
            id={`switcher-${option.key}`}
            role="option"
            aria-selected={index === selected}
            class={index === selected ? 'selected' : undefined}
            onMouseEnter={() => setSelected(index)}
            onClick={() => choose(index)}
          >
            <Icon name={option.kind === 'private' ? 'lock' : option.kind === 'public' ? 'hash' : 'users'} size={16} />
            <span>{option.label}</span>
            {option.unread > 0 && <span class="badge">{option.unread}</span>}
          </li>
        ))}
        {options.length === 0 && <li class="muted">No matches</li>}
      </ul>
    </Modal>
  );
}
