//! The list of channels and conversations with unread and mention badges,
//! plus the entry points to create, browse and start conversations.

import { GuestBadge } from './GuestBadge';
import { useRef, useState } from 'preact/hooks';
import { useDismiss } from './popup';
import type { ChannelSummary } from '../api/types';
import { Avatar } from './Avatar';
import { mayUseCompliance } from '../state/compliance';
import { useApp } from './context';
import { Icon, Logo } from './icons';

export function Sidebar() {
  const app = useApp();
  const [menuOpen, setMenuOpen] = useState(false);
  const me = app.me;
  // Customer conversations live in the customer inbox, not among the team's channels.
  const channels = app.channels.channelList().filter((summary) => !app.waConversations.has(summary.channel.id));
  const inboxUnread = [...app.waConversations.keys()].reduce((total, id) => total + (id === app.activeChannelId ? 0 : (app.channels.summaries.get(id)?.unread_count ?? 0)), 0);
  const guest = me?.role === 'guest';
  const menuRoot = useRef<HTMLDivElement>(null);
  useDismiss(menuRoot, () => setMenuOpen(false), menuOpen);
  const conversations = app.channels.conversationList();
  const canNotify = typeof Notification !== 'undefined' && Notification.permission === 'default';

  return (
    <nav class="sidebar" aria-label="Channels and direct messages">
      <header class="sidebar-header">
        <Logo size={30} />
        <span class="workspace-name">Conclave</span>
        <button class="icon-button" type="button" aria-label="New message" title="New message" onClick={() => app.setModal('new-message')}>
          <Icon name="compose" />
        </button>
      </header>
      <button class="switcher-button" type="button" onClick={() => app.setModal('switcher')}>
        <Icon name="search" size={16} />
        <span>Jump to…</span>
        <kbd>Ctrl K</kbd>
      </button>
      <div class="sidebar-scroll">
        <section class="sidebar-section" aria-labelledby="channels-heading">
          <div class="section-header">
            <h2 id="channels-heading">Channels</h2>
            {!guest && (
              <button class="icon-button small" type="button" aria-label="Create channel" title="Create channel" onClick={() => app.setModal('create-channel')}>
                <Icon name="plus" size={16} />
              </button>
            )}
          </div>
          <ul role="list">
            {channels.map((summary) => (
              <SidebarItem key={summary.channel.id} summary={summary} />
            ))}
          </ul>
          {!guest && (
            <button class="sidebar-link" type="button" onClick={() => app.setModal('browse')}>
              <Icon name="search" size={16} /> Browse channels
            </button>
          )}
          {app.waNumbers.length > 0 && (
            <button class="sidebar-link" type="button" aria-current={app.inboxOpen && app.activeChannelId === null ? 'page' : undefined} onClick={() => app.openInbox()}>
              <Icon name="users" size={16} /> Customer inbox
              {inboxUnread > 0 && (
                <span class="badge">
                  {inboxUnread > 99 ? '99+' : inboxUnread}
                  <span class="sr-only"> unread</span>
                </span>
              )}
            </button>
          )}
        </section>
        <section class="sidebar-section" aria-labelledby="dms-heading">
          <div class="section-header">
            <h2 id="dms-heading">Direct messages</h2>
            <button class="icon-button small" type="button" aria-label="Start a direct message" title="Start a direct message" onClick={() => app.setModal('new-message')}>
              <Icon name="plus" size={16} />
            </button>
          </div>
          <ul role="list">
            {conversations.map((summary) => (
              <SidebarItem key={summary.channel.id} summary={summary} />
            ))}
          </ul>
          {app.ready && conversations.length === 0 && <p class="sidebar-empty">No conversations yet. Start one with a colleague.</p>}
        </section>
      </div>
      {canNotify && (
        <button class="sidebar-link notify-prompt" type="button" onClick={() => void Notification.requestPermission().then(() => app.changed())}>
          <Icon name="bell" size={16} /> Turn on notifications
        </button>
      )}
      <footer class="sidebar-footer">
        <button class="me-button" type="button" aria-haspopup="menu" aria-expanded={menuOpen} onClick={() => setMenuOpen(!menuOpen)}>
          <Avatar user={me ?? undefined} size={32} presence={app.status === 'online' ? 'online' : 'offline'} />
          <span class="me-text">
            <span class="me-name">{me?.name ?? '…'}</span>
            <span class="me-status">{app.status === 'online' ? 'Active' : app.status === 'connecting' ? 'Connecting…' : 'Offline'}</span>
          </span>
        </button>
        {menuOpen && (
          <div class="menu" role="menu" ref={menuRoot}>
            {me && (
              <button
                role="menuitem"
                type="button"
                onClick={() => {
                  setMenuOpen(false);
                  app.setPanel({ kind: 'profile', userId: me.id });
                }}
              >
                <Icon name="info" size={16} /> Your profile
              </button>
            )}
            {me && (
              <button
                role="menuitem"
                type="button"
                onClick={() => {
                  setMenuOpen(false);
                  app.setModal('profile');
                }}
              >
                <Icon name="edit" size={16} /> Edit profile
              </button>
            )}
            <button
              role="menuitem"
              type="button"
              onClick={() => {
                setMenuOpen(false);
                app.setModal('security');
              }}
            >
              <Icon name="lock" size={16} /> Security
            </button>
            {me && (me.role === 'owner' || me.role === 'admin' || me.role === 'compliance') && (
              <button
                role="menuitem"
                type="button"
                onClick={() => {
                  setMenuOpen(false);
                  app.setModal('admin');
                }}
              >
                <Icon name="users" size={16} /> Administration
              </button>
            )}
            {mayUseCompliance(me?.role) && (
              <button
                role="menuitem"
                type="button"
                onClick={() => {
                  setMenuOpen(false);
                  app.setModal('compliance');
                }}
              >
                <Icon name="lock" size={16} /> Compliance
              </button>
            )}
            <button role="menuitem" type="button" onClick={() => void app.signOut()}>
              <Icon name="signOut" size={16} /> Sign out
            </button>
          </div>
        )}
      </footer>
    </nav>
  );
}

function SidebarItem({ summary }: { summary: ChannelSummary }) {
  const app = useApp();
  const channel = summary.channel;
  const active = app.activeChannelId === channel.id;
  const title = app.title(summary);
  const unread = summary.unread_count > 0 && !active;
  const isConversation = channel.kind === 'direct' || channel.kind === 'group';
  const badge = active ? 0 : isConversation ? Math.max(summary.unread_count, summary.mention_count) : summary.mention_count;
  const others = summary.member_ids.filter((id) => id !== app.me?.id);
  const description = badge ? `, ${badge} ${isConversation ? 'unread' : badge === 1 ? 'mention' : 'mentions'}` : unread ? ', unread' : '';
  return (
    <li>
      <a
        href={`/c/${channel.id}`}
        class={`sidebar-item${active ? ' active' : ''}${unread ? ' unread' : ''}`}
        aria-current={active ? 'page' : undefined}
        data-channel-id={channel.id}
        onClick={(event) => {
          event.preventDefault();
          void app.openChannel(channel.id);
        }}
      >
        {isConversation ? (
          channel.kind === 'direct' ? (
            <Avatar user={app.user(others[0] ?? app.me?.id ?? 0)} size={22} presence={app.presence.get(others[0] ?? app.me?.id ?? 0) ?? 'offline'} />
          ) : (
            <span class="group-icon" aria-hidden="true">
              {others.length}
            </span>
          )
        ) : (
          <Icon name={channel.kind === 'private' ? 'lock' : 'hash'} size={16} />
        )}
        <span class="sidebar-item-name">
          {channel.kind === 'private' && <span class="sr-only">Private: </span>}
          {title}
        </span>
        {channel.kind === 'direct' && <GuestBadge user={app.users.get(others[0] ?? 0)} />}
        {badge > 0 && (
          <span class="badge" aria-hidden="true">
            {badge > 99 ? '99+' : badge}
          </span>
        )}
        {description && <span class="sr-only">{description}</span>}
      </a>
    </li>
  );
}
