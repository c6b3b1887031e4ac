//! The right-hand panel: a thread with its replies and composer, the pinned
//! messages, the member list, or a user's profile.

import { GuestBadge } from './GuestBadge';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import type { Message } from '../api/types';
import { formatDay, formatTime } from '../util/format';
import { Avatar, PresenceDot } from './Avatar';
import { Composer } from './Composer';
import { useApp } from './context';
import { TypingLine } from './Conversation';
import { Icon } from './icons';
import { MessageItem, PendingItem } from './MessageItem';
import { Markdown } from '../markdown/render';
import { buildRows } from './MessageList';

export function SidePanelView() {
  const app = useApp();
  const panel = app.panel;
  const close = () => app.setPanel(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus({ preventScroll: true }), [panel?.kind]);
  if (!panel) return null;
  const title = panel.kind === 'thread' ? 'Thread' : panel.kind === 'pins' ? 'Pinned messages' : panel.kind === 'members' ? 'Members' : 'Profile';
  return (
    <aside
      class="side-panel"
      aria-label={title}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && !(event.target instanceof HTMLTextAreaElement && event.target.value)) close();
      }}
    >
      <header class="panel-header">
        <h2 ref={heading} tabIndex={-1}>
          {title}
        </h2>
        <button class="icon-button" type="button" aria-label={`Close ${title.toLowerCase()}`} onClick={close}>
          <Icon name="x" />
        </button>
      </header>
      {panel.kind === 'thread' && <ThreadPanel rootId={panel.rootId} />}
      {panel.kind === 'pins' && <PinsPanel />}
      {panel.kind === 'members' && <MembersPanel />}
      {panel.kind === 'profile' && <ProfilePanel userId={panel.userId} />}
    </aside>
  );
}

function ThreadPanel({ rootId }: { rootId: number }) {
  const app = useApp();
  const root = app.messages.messages.get(rootId);
  const items = useMemo(() => app.messages.threadItems(rootId), [app.messages.version, rootId]);
  const meId = app.me?.id ?? 0;
  const rows = useMemo(() => buildRows(items, null), [items]).filter((row) => row.kind === 'item');
  const scroller = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = scroller.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [items.length]);
  if (!root) return <div class="panel-body muted">Loading thread…</div>;
  const typing = app.typingIn(root.channel_id, rootId);
  // Customers' replies to a quoted message land in its thread; staff
  // messages here stay in Conclave.
  const customerConversation = app.waConversations.has(root.channel_id);
  return (
    <>
      <div class="panel-body thread-body" ref={scroller}>
        <MessageItem message={root} author={app.user(root.author_id)} grouped={false} inThread meId={meId} usersVersion={app.users.size} />
        <div class="thread-count" role="separator">
          <span>
            {root.reply_count} {root.reply_count === 1 ? 'reply' : 'replies'}
          </span>
        </div>
        {rows.map((row) => {
          const item = row.item!;
          return item.kind === 'pending' ? (
            <PendingItem key={row.key} pending={item.pending} author={app.users.get(item.pending.authorId)} grouped={Boolean(row.grouped)} />
          ) : (
            <MessageItem key={row.key} message={item.message} author={app.user(item.message.author_id)} grouped={Boolean(row.grouped)} inThread meId={meId} usersVersion={app.users.size} />
          );
        })}
      </div>
      <TypingLine users={typing} />
      {customerConversation && (
        <p class="wa-thread-note" role="note">
          Customer replies that quote a message appear in its thread. What staff write here is an internal note: answer the customer in the reply box below the conversation.
        </p>
      )}
      <Composer channelId={root.channel_id} threadId={rootId} placeholder={customerConversation ? 'Internal note (not sent to the customer)' : 'Reply in thread'} />
    </>
  );
}

function PinsPanel() {
  const app = useApp();
  const pins = app.pins && app.pins.channelId === app.activeChannelId ? app.pins.messages : null;
  if (!pins) return <div class="panel-body muted">Loading…</div>;
  // Prefer the live copy of each pinned message when we have it.
  const shown = pins
    .map((pin) => app.messages.messages.get(pin.id) ?? pin)
    .filter((message) => message.pinned && message.deleted_at === null);
  return (
    <div class="panel-body">
      {shown.length === 0 && (
        <div class="panel-empty">
          <Icon name="pin" size={28} />
          <p>No pinned messages yet.</p>
          <p class="muted">Pin important messages from their "More actions" menu so everyone can find them.</p>
        </div>
      )}
      {shown.map((message) => (
        <PinCard key={message.id} message={message} />
      ))}
    </div>
  );
}

function PinCard({ message }: { message: Message }) {
  const app = useApp();
  const author = app.user(message.author_id);
  return (
    <div class="pin-card">
      <div class="pin-card-header">
        <Avatar user={author} size={24} />
        <strong>{author?.name ?? '…'}</strong>
        <span class="muted">
          {formatDay(message.created_at)} {formatTime(message.created_at)}
        </span>
      </div>
      <Markdown text={message.text || (message.attachments.length ? `📎 ${message.attachments.map((a) => a.name).join(', ')}` : '')} />
      <button type="button" class="link-button" onClick={() => void app.togglePin(message)}>
        Unpin
      </button>
    </div>
  );
}

function MembersPanel() {
  const app = useApp();
  const members = app.members && app.members.channelId === app.activeChannelId ? app.members.users : null;
  if (!members) return <div class="panel-body muted">Loading…</div>;
  return (
    <div class="panel-body">
      <ul class="member-list" role="list">
        {members.map((user) => (
          <li key={user.id}>
            <button type="button" class="member-row" onClick={() => app.setPanel({ kind: 'profile', userId: user.id })}>
              <Avatar user={user} size={32} presence={app.presence.get(user.id) ?? 'offline'} />
              <span class="member-text">
                <span>
                  {user.name} <GuestBadge user={user} />
                  {user.id === app.me?.id ? ' (you)' : ''}
                </span>
                <span class="muted">@{user.handle}</span>
              </span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function ProfilePanel({ userId }: { userId: number }) {
  const app = useApp();
  const user = app.user(userId);
  if (!user) return <div class="panel-body muted">Loading…</div>;
  const presence = app.presence.get(userId) ?? (userId === app.me?.id && app.status === 'online' ? 'online' : 'offline');
  return (
    <div class="panel-body profile">
      <Avatar user={user} size={96} />
      <h3>
        {user.name} <GuestBadge user={user} />
      </h3>
      <p class="muted">@{user.handle}</p>
      {app.profiles.get(user.id)?.status && <p class="profile-status">{app.profiles.get(user.id)?.status}</p>}
      {user.id === app.me?.id && (
        <button type="button" class="button small" onClick={() => app.setModal('profile')}>
          Edit profile
        </button>
      )}
      <p class="profile-presence">
        <PresenceDot status={presence} /> {presence === 'online' ? 'Active now' : 'Away'}
      </p>
      <dl class="profile-facts">
        <dt>Email</dt>
        <dd>
          <a href={`mailto:${user.email}`}>{user.email}</a>
        </dd>
        <dt>Role</dt>
        <dd class="capitalize">{user.role}</dd>
        {!user.active && (
          <>
            <dt>Status</dt>
            <dd>Deactivated</dd>
          </>
        )}
      </dl>
      {user.id !== app.me?.id && user.active && (
        <button type="button" class="button primary" onClick={() => void app.openConversation([user.id]).catch(() => app.toast('Could not open the conversation.'))}>
          <Icon name="compose" size={16} /> Message
        </button>
      )}
    </div>
  );
}
