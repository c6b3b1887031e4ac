//! The open conversation: header, history, typing line and composer, and
//! the drop zone for files. With no channel open it shows the welcome state.

import { useRef, useState } from 'preact/hooks';
import type { User } from '../api/types';
import { Avatar } from './Avatar';
import { ChannelSettings, LeaveChannelConfirm } from './ChannelSettings';
import { Composer } from './Composer';
import { useApp } from './context';
import { Icon, Logo } from './icons';
import { MessageList } from './MessageList';
import { WhatsAppBar, WhatsAppComposer } from './Inbox';

export function Conversation() {
  const app = useApp();
  const filesSink = useRef<((files: File[]) => void) | null>(null);
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);
  const [settingsFor, setSettingsFor] = useState<number | null>(null);
  const [confirmLeave, setConfirmLeave] = useState<number | null>(null);
  const channelId = app.activeChannelId;

  if (channelId === null) return <Welcome />;
  const whatsapp = app.waConversations.has(channelId);

  const summary = app.channels.summaries.get(channelId);
  // A channel looked at without joining still shows its name and topic.
  const shown = summary ?? app.previews.get(channelId);
  const channel = shown?.channel;
  const title = shown ? app.title(shown) : app.loadErrors.has(channelId) ? 'Not found' : '…';
  const isConversation = channel?.kind === 'direct' || channel?.kind === 'group';
  const others = summary?.member_ids.filter((id) => id !== app.me?.id) ?? [];
  const directUser = channel?.kind === 'direct' ? app.user(others[0] ?? app.me?.id ?? 0) : undefined;
  const typing = app.typingIn(channelId, null);
  const displayTitle = isConversation || whatsapp ? title : `#${title}`;
  const disabled = channel?.archived ? 'This channel is archived.' : channel?.read_only ? 'This channel is read-only.' : !summary ? 'Join this channel to write in it.' : null;

  return (
    <main
      class="conversation"
      aria-label={`Conversation ${displayTitle}`}
      onDragEnter={(event) => {
        if (!event.dataTransfer?.types.includes('Files')) return;
        dragDepth.current += 1;
        setDragging(true);
      }}
      onDragOver={(event) => {
        if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
      }}
      onDragLeave={() => {
        dragDepth.current = Math.max(0, dragDepth.current - 1);
        if (dragDepth.current === 0) setDragging(false);
      }}
      onDrop={(event) => {
        event.preventDefault();
        dragDepth.current = 0;
        setDragging(false);
        const files = [...(event.dataTransfer?.files ?? [])];
        if (files.length > 0 && !disabled) filesSink.current?.(files);
      }}
    >
      <header class="conversation-header">
        <button class="icon-button back-button" type="button" aria-label="Back to conversations" onClick={() => void app.openChannel(null)}>
          <Icon name="back" />
        </button>
        <div class="conversation-title">
          {channel?.kind === 'direct' ? (
            <Avatar user={directUser} size={28} presence={app.presence.get(directUser?.id ?? 0) ?? 'offline'} />
          ) : !isConversation ? (
            <Icon name={channel?.kind === 'private' ? 'lock' : 'hash'} size={18} />
          ) : null}
          <h1 title={displayTitle}>{isConversation ? title : title}</h1>
          {channel?.topic && <span class="topic" title={channel.topic}>{channel.topic}</span>}
        </div>
        <div class="header-actions">
          <button class="header-button" type="button" title="Members" onClick={() => app.setPanel(app.panel?.kind === 'members' ? null : { kind: 'members' })}>
            <Icon name="users" size={18} />
            <span class="count">{summary?.member_ids.length ?? ''}</span>
            <span class="sr-only"> members</span>
          </button>
          <button class="header-button" type="button" aria-label="Pinned messages" title="Pinned messages" onClick={() => app.setPanel(app.panel?.kind === 'pins' ? null : { kind: 'pins' })}>
            <Icon name="pin" size={18} />
          </button>
          {!isConversation && !whatsapp && summary && (
            <button class="header-button" type="button" aria-label="Channel details" title="Channel details" onClick={() => setSettingsFor(channelId)}>
              <Icon name="info" size={18} />
            </button>
          )}
          {!isConversation && summary && (
            <button class="header-button" type="button" aria-label="Leave channel" title="Leave channel" onClick={() => (channel?.kind === 'private' ? setConfirmLeave(channelId) : void app.leaveChannel(channelId))}>
              <Icon name="signOut" size={18} />
            </button>
          )}
        </div>
      </header>
      {settingsFor === channelId && <ChannelSettings channelId={channelId} onClose={() => setSettingsFor(null)} />}
      {confirmLeave === channelId && channel && (
        <LeaveChannelConfirm
          name={channel.name}
          onCancel={() => setConfirmLeave(null)}
          onConfirm={() => {
            setConfirmLeave(null);
            void app.leaveChannel(channelId);
          }}
        />
      )}
      {whatsapp && <WhatsAppBar channelId={channelId} />}
      <MessageList channelId={channelId} emptyTitle={isConversation || whatsapp ? `This is the start of your conversation with ${isConversation ? title : displayTitle.replace(/^WhatsApp: /, '')}` : `Welcome to #${title}`} />
      <TypingLine users={typing} />
      {whatsapp ? <WhatsAppComposer channelId={channelId} /> : <Composer channelId={channelId} placeholder={`Message ${displayTitle}`} filesSink={filesSink} disabled={disabled} />}
      {dragging && (
        <div class="drop-overlay" aria-hidden="true">
          <div>
            <Icon name="clip" size={32} />
            <p>Drop files to share in {displayTitle}</p>
          </div>
        </div>
      )}
    </main>
  );
}

export function TypingLine({ users }: { users: User[] }) {
  const text =
    users.length === 0
      ? ''
      : users.length === 1
        ? `${users[0]!.name} is typing…`
        : users.length === 2
          ? `${users[0]!.name} and ${users[1]!.name} are typing…`
          : 'Several people are typing…';
  return (
    <div class="typing-line" aria-live="polite">
      {text && (
        <>
          <span class="typing-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {text}
        </>
      )}
    </div>
  );
}

function Welcome() {
  const app = useApp();
  const empty = app.ready && app.channels.summaries.size === 0;
  // Guests cannot create or browse channels: they see the ones they were invited to.
  const guest = app.me?.role === 'guest';
  const text = guest
    ? empty
      ? 'You have not been added to any channel yet. The person who invited you can add you to the channels you need.'
      : 'Pick a channel on the left, or message someone who shares a channel with you.'
    : empty
      ? 'Your workspace is ready. Start by creating a channel for your team or messaging a colleague.'
      : 'Pick a conversation on the left, or start a new one.';
  return (
    <main class="conversation welcome" aria-label="Welcome">
      <div class="welcome-card">
        <Logo size={64} />
        <h1>{empty && !guest ? 'Welcome to Conclave' : `Hi ${app.me?.name.split(' ')[0] ?? 'there'}`}</h1>
        <p class="muted">{text}</p>
        <div class="welcome-actions">
          {!guest && (
            <>
              <button class="button primary" type="button" onClick={() => app.setModal('create-channel')}>
                <Icon name="hash" size={16} /> Create a channel
              </button>
              <button class="button" type="button" onClick={() => app.setModal('browse')}>
                <Icon name="search" size={16} /> Browse channels
              </button>
            </>
          )}
          <button class={`button${guest ? ' primary' : ''}`} type="button" onClick={() => app.setModal('new-message')}>
            <Icon name="compose" size={16} /> New message
          </button>
        </div>
      </div>
    </main>
  );
}
