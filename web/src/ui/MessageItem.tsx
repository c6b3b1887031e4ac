//! One message in a list: author line (unless grouped with the previous
//! one), Markdown text, attachments, reactions, thread summary, and the
//! actions the viewer may take on it.

import type { ComponentChildren } from 'preact';
import { GuestBadge } from './GuestBadge';
import { deliveryTicks } from '../state/whatsapp';
import { createPortal, memo } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Message, User } from '../api/types';
import { isEmojiOnly, Markdown } from '../markdown/render';
import type { PendingSend } from '../state/messages';
import { formatTime } from '../util/format';
import { AttachmentList } from './Attachments';
import { EDIT_REQUEST_EVENT } from './Composer';
import { Modal } from './Dialogs';
import { errorText } from '../state/app';
import { ApiError } from '../api/client';
import type { MessageVersion } from '../api/types';
import { ConfirmDialog } from './Dialogs';
import { Avatar } from './Avatar';
import { useApp } from './context';
import { EmojiPicker } from './EmojiPicker';
import { QUICK_REACTIONS, replaceShortcodes } from './emoji';
import { Icon, type IconName } from './icons';
import { ActionSheet } from './ActionSheet';
import { LONG_PRESS_MS, readGesture, swipeOffset, swipeReplies } from './gestures';
import { useDismiss, usePopupPlacement } from './popup';

/** What the delete dialog says: members see a tombstone; the company's archive keeps the message. */
export const DELETE_MESSAGE_TEXT =
  'Members will see “This message was deleted.” in its place, and it disappears from search. The company’s records keep the message for as long as its retention policy requires.';

interface MessageItemProps {
  message: Message;
  author: User | undefined;
  grouped: boolean;
  /** Shown inside the thread panel: no "reply in thread" action. */
  inThread?: boolean;
  meId: number;
  /** Changes when users load, so mentions re-resolve. */
  usersVersion: number;
}

export const MessageItem = memo(function MessageItem({ message, author, grouped, inThread, meId }: MessageItemProps) {
  const app = useApp();
  const [editing, setEditing] = useState(false);
  const [picker, setPicker] = useState(false);
  const [menu, setMenu] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [history, setHistory] = useState(false);
  const [sheet, setSheet] = useState(false);
  const touch = useTouchActions({
    enabled: !editing && message.deleted_at === null,
    onLongPress: () => setSheet(true),
    onSwipeRight: inThread ? null : () => app.setPanel({ kind: 'thread', rootId: message.id }),
  });
  const deleted = message.deleted_at !== null;
  const mine = message.author_id === meId;
  const isAdmin = app.me?.role === 'owner' || app.me?.role === 'admin';
  const mentionsMe = message.mentions.includes(meId);
  const resolveMention = (handle: string) => {
    const user = app.userByHandle(handle);
    return user ? { name: user.name, isMe: user.id === meId } : null;
  };
  const canSeeHistory = mine || app.me?.role === 'compliance';
  useEffect(() => {
    if (!mine || deleted) return;
    const onRequest = (event: Event) => {
      const detail = (event as CustomEvent<{ messageId: number; inThread: boolean }>).detail;
      if (detail.messageId === message.id && detail.inThread === Boolean(inThread)) setEditing(true);
    };
    window.addEventListener(EDIT_REQUEST_EVENT, onRequest);
    return () => window.removeEventListener(EDIT_REQUEST_EVENT, onRequest);
  }, [message.id, mine, deleted, inThread]);
  const time = new Date(message.created_at);
  const authorName = author?.name ?? 'Unknown user';
  const copyText = () =>
    void navigator.clipboard?.writeText(message.text).then(
      () => app.toast('Copied.'),
      () => app.toast('Could not copy the text.'),
    );
  const menuItems: MenuItem[] = [
    { label: message.pinned ? 'Unpin message' : 'Pin message', icon: 'pin', run: () => void app.togglePin(message) },
    ...(message.text ? [{ label: 'Copy text', icon: 'file' as const, run: copyText }] : []),
    ...(mine ? [{ label: 'Edit message', icon: 'edit' as const, run: () => setEditing(true) }] : []),
    ...(mine || isAdmin ? [{ label: 'Delete message', icon: 'trash' as const, danger: true, run: () => setConfirmDelete(true) }] : []),
  ];

  return (
    <article
      class={`message${grouped ? ' grouped' : ''}${mentionsMe && !deleted ? ' mentions-me' : ''}${menu || picker || sheet ? ' active' : ''}`}
      data-message-id={message.id}
      aria-label={`${authorName}, ${formatTime(message.created_at)}`}
      {...touch}
    >
      <div class="message-gutter">
        {grouped ? (
          <time class="hover-time" dateTime={time.toISOString()}>
            {formatTime(message.created_at)}
          </time>
        ) : (
          <button class="avatar-button" type="button" aria-label={`Profile of ${authorName}`} onClick={() => app.setPanel({ kind: 'profile', userId: message.author_id })}>
            <Avatar user={author} size={36} presence={app.presence.get(message.author_id)} />
          </button>
        )}
      </div>
      <div class="message-body">
        {!grouped && (
          <header class="message-header">
            <span class="message-author">{authorName}</span>
            {/* WhatsApp customers are stored as guests; they are customers, not guests. */}
            {app.waConversations.get(message.channel_id)?.customer.user_id !== message.author_id && <GuestBadge user={author} />}
            <time class="message-time" dateTime={time.toISOString()} title={time.toLocaleString()}>
              {formatTime(message.created_at)}
            </time>
            {message.pinned && (
              <span class="pinned-flag">
                <Icon name="pin" size={12} /> Pinned
              </span>
            )}
          </header>
        )}
        {deleted ? (
          <p class="message-deleted">This message was deleted.</p>
        ) : editing ? (
          <EditBox
            initial={message.text}
            onCancel={() => setEditing(false)}
            onSave={async (text) => {
              if (text.trim() === message.text.trim() || (await app.edit(message.id, replaceShortcodes(text)))) setEditing(false);
            }}
          />
        ) : (
          <>
            {message.text && (
              <div class={`message-text${isEmojiOnly(message.text) ? ' jumbo' : ''}`}>
                <Markdown text={message.text} resolveMention={resolveMention} />
                {message.edited_at !== null &&
                  (canSeeHistory ? (
                    <button type="button" class="edited link-button" title="Show edit history" onClick={() => setHistory(true)}>
                      (edited)
                    </button>
                  ) : (
                    <span class="edited">(edited)</span>
                  ))}
                {history && <EditHistory message={message} onClose={() => setHistory(false)} />}
              </div>
            )}
            {app.waConversations.has(message.channel_id) && <DeliveryTicks messageId={message.id} />}
            {grouped && message.pinned && (
              <span class="pinned-flag">
                <Icon name="pin" size={12} /> Pinned
              </span>
            )}
            {message.attachments.length > 0 && <AttachmentList attachments={message.attachments} />}
          </>
        )}
        {!deleted && message.reactions.length > 0 && (
          <div class="reactions">
            {message.reactions.map((reaction) => {
              const reacted = reaction.user_ids.includes(meId);
              const names = reaction.user_ids.map((id) => (id === meId ? 'You' : (app.user(id)?.name ?? 'Someone'))).join(', ');
              return (
                <button
                  key={reaction.emoji}
                  type="button"
                  class={`reaction${reacted ? ' mine' : ''}`}
                  aria-pressed={reacted}
                  aria-label={`${reaction.emoji} ${reaction.user_ids.length}, reacted by ${names}`}
                  title={`${names} reacted with ${reaction.emoji}`}
                  onClick={() => void app.toggleReaction(message, reaction.emoji)}
                >
                  <span class="reaction-emoji">{reaction.emoji}</span>
                  <span class="reaction-count">{reaction.user_ids.length}</span>
                </button>
              );
            })}
            <button type="button" class="reaction add-reaction" aria-label="Add reaction" onClick={() => setPicker(true)}>
              <Icon name="smile" size={16} />
            </button>
          </div>
        )}
        {!inThread && message.reply_count > 0 && !deleted && (
          <button type="button" class="thread-summary" onClick={() => app.setPanel({ kind: 'thread', rootId: message.id })}>
            <Icon name="thread" size={16} />
            <span>
              {message.reply_count} {message.reply_count === 1 ? 'reply' : 'replies'}
            </span>
            {message.last_reply_at && <span class="muted">Last reply {formatTime(message.last_reply_at)}</span>}
          </button>
        )}
      </div>
      {!deleted && !editing && (
        <div class="message-actions" role="toolbar" aria-label="Message actions">
          {QUICK_REACTIONS.slice(0, 3).map((emoji) => (
            <button key={emoji} type="button" class="action emoji-action" aria-label={`React with ${emoji}`} onClick={() => void app.toggleReaction(message, emoji)}>
              {emoji}
            </button>
          ))}
          <button type="button" class="action" aria-label="Add reaction" title="Add reaction" aria-expanded={picker} onClick={() => setPicker(!picker)}>
            <Icon name="smile" size={18} />
          </button>
          {!inThread && (
            <button type="button" class="action" aria-label="Reply in thread" title="Reply in thread" onClick={() => app.setPanel({ kind: 'thread', rootId: message.id })}>
              <Icon name="thread" size={18} />
            </button>
          )}
          <button type="button" class="action" aria-label="More actions" title="More actions" aria-haspopup="menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
            <Icon name="more" size={18} />
          </button>
          {menu && <MessageMenu onClose={() => setMenu(false)} items={menuItems} />}
        </div>
      )}
      {confirmDelete &&
        createPortal(
        <ConfirmDialog
          title="Delete message?"
          body={DELETE_MESSAGE_TEXT}
          confirmLabel="Delete"
          onCancel={() => setConfirmDelete(false)}
          onConfirm={() => {
            setConfirmDelete(false);
            void app.remove(message);
          }}
        />,
          document.body,
        )}
      {sheet && (
        <ActionSheet
          message={message}
          meId={meId}
          onClose={() => setSheet(false)}
          actions={[
            ...(inThread ? [] : [{ label: 'Reply in thread', icon: 'thread' as const, run: () => app.setPanel({ kind: 'thread', rootId: message.id }) }]),
            ...(message.text ? [{ label: 'Copy text', icon: 'file' as const, run: copyText }] : []),
            ...(mine ? [{ label: 'Edit message', icon: 'edit' as const, run: () => setEditing(true) }] : []),
            { label: message.pinned ? 'Unpin message' : 'Pin message', icon: 'pin', run: () => void app.togglePin(message) },
            { label: 'More reactions', icon: 'smile', run: () => setPicker(true) },
            ...(mine || isAdmin ? [{ label: 'Delete message', icon: 'trash' as const, danger: true, run: () => setConfirmDelete(true) }] : []),
          ]}
        />
      )}
      {picker && (
        <PopupAnchor>
          <EmojiPicker
            label="Add reaction"
            onClose={() => setPicker(false)}
            onPick={(emoji) => {
              setPicker(false);
              void app.toggleReaction(message, emoji);
            }}
          />
        </PopupAnchor>
      )}
    </article>
  );
});

interface MenuItem {
  label: string;
  icon: IconName;
  danger?: boolean;
  run: () => void;
}

/** The reaction picker's anchor, kept inside the viewport like every popup. */
function PopupAnchor({ children }: { children: ComponentChildren }) {
  const anchor = useRef<HTMLDivElement>(null);
  usePopupPlacement(anchor);
  return (
    <div class="picker-anchor" ref={anchor}>
      {children}
    </div>
  );
}

/**
 * Touch handlers for a message: a long press (the finger resting still)
 * calls `onLongPress`; a swipe to the right draws the message along and,
 * far enough, calls `onSwipeRight`. The browser's own long-press menu is
 * suppressed for touches, so it does not fight the action sheet.
 */
function useTouchActions({ enabled, onLongPress, onSwipeRight }: { enabled: boolean; onLongPress: () => void; onSwipeRight: (() => void) | null }) {
  const state = useRef<{ x: number; y: number; timer: ReturnType<typeof setTimeout> | null; pressed: boolean; swiping: boolean; dx: number } | null>(null);
  const lastTouch = useRef(0);
  const reset = (element: HTMLElement) => {
    const current = state.current;
    if (current?.timer) clearTimeout(current.timer);
    state.current = null;
    if (element.style.transform) {
      element.classList.add('swipe-settle');
      element.style.transform = '';
      setTimeout(() => element.classList.remove('swipe-settle'), 200);
    }
    element.classList.remove('swiping');
  };
  return {
    onTouchStart: (event: TouchEvent) => {
      lastTouch.current = Date.now();
      if (!enabled || event.touches.length !== 1) return;
      // Buttons, links and media inside the message keep their own taps.
      if ((event.target as HTMLElement).closest('button, a, audio, video, textarea, input')) return;
      const point = event.touches[0]!;
      const entry = { x: point.clientX, y: point.clientY, timer: null as ReturnType<typeof setTimeout> | null, pressed: false, swiping: false, dx: 0 };
      entry.timer = setTimeout(() => {
        entry.timer = null;
        entry.pressed = true;
        navigator.vibrate?.(12);
        onLongPress();
      }, LONG_PRESS_MS);
      state.current = entry;
    },
    onTouchMove: (event: TouchEvent) => {
      const entry = state.current;
      const point = event.touches[0];
      if (!entry || !point || entry.pressed) return;
      const dx = point.clientX - entry.x;
      const dy = point.clientY - entry.y;
      const gesture = entry.swiping ? 'swipe' : readGesture(dx, dy);
      if (gesture === 'press') return;
      if (entry.timer) {
        clearTimeout(entry.timer);
        entry.timer = null;
      }
      if (gesture === 'scroll' || !onSwipeRight) {
        state.current = entry.swiping ? entry : null;
        return;
      }
      entry.swiping = true;
      entry.dx = dx;
      const element = event.currentTarget as HTMLElement;
      element.classList.add('swiping');
      element.style.transform = `translateX(${swipeOffset(dx)}px)`;
    },
    onTouchEnd: (event: TouchEvent) => {
      lastTouch.current = Date.now();
      const entry = state.current;
      // After a long press the finger's lift must not also click what is under it.
      if (entry?.pressed) event.preventDefault();
      if (entry?.swiping && swipeReplies(entry.dx)) onSwipeRight?.();
      reset(event.currentTarget as HTMLElement);
    },
    onTouchCancel: (event: TouchEvent) => reset(event.currentTarget as HTMLElement),
    onContextMenu: (event: MouseEvent) => {
      // A long press on a touch screen opens the browser's menu (and selects text); the sheet replaces it.
      if (state.current || Date.now() - lastTouch.current < 1500 || matchMedia('(pointer: coarse)').matches) event.preventDefault();
    },
  };
}

function MessageMenu({ items, onClose }: { items: MenuItem[]; onClose: () => void }) {
  const first = useRef<HTMLButtonElement>(null);
  const root = useRef<HTMLDivElement>(null);
  usePopupPlacement(root);
  useDismiss(root, onClose);
  return (
    <div
      class="menu message-menu"
      role="menu"
      ref={(element) => {
        root.current = element;
        if (element) setTimeout(() => first.current?.focus(), 0);
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') onClose();
        if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
          event.preventDefault();
          const buttons = [...(event.currentTarget as HTMLElement).querySelectorAll('button')];
          const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
          const next = buttons[(index + (event.key === 'ArrowDown' ? 1 : -1) + buttons.length) % buttons.length];
          next?.focus();
        }
      }}
      onFocusOut={(event) => {
        if (!(event.currentTarget as HTMLElement).contains(event.relatedTarget as Node)) onClose();
      }}
    >
      {items.map((item, index) => (
        <button
          key={item.label}
          ref={index === 0 ? first : undefined}
          role="menuitem"
          type="button"
          class={item.danger ? 'danger' : undefined}
          onMouseDown={(event) => event.preventDefault()}
          onClick={() => {
            onClose();
            item.run();
          }}
        >
          <Icon name={item.icon} size={16} /> {item.label}
        </button>
      ))}
    </div>
  );
}

function EditHistory({ message, onClose }: { message: Message; onClose: () => void }) {
  const app = useApp();
  const [versions, setVersions] = useState<MessageVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Outside one's own conversations a compliance read must say why; the
  // server answers validation_failed until it does.
  const [reasonNeeded, setReasonNeeded] = useState(false);
  const [reasonDraft, setReasonDraft] = useState('');
  const [reason, setReason] = useState<string | undefined>(undefined);
  useEffect(() => {
    let live = true;
    setError(null);
    app.api.messageVersions(message.id, reason).then(
      (list) => {
        if (!live) return;
        setReasonNeeded(false);
        setVersions([...list].sort((a, b) => b.version - a.version));
      },
      (failure) => {
        if (!live) return;
        if (reason === undefined && failure instanceof ApiError && failure.status === 400 && failure.code === 'validation_failed') {
          setReasonNeeded(true);
        } else {
          setError(errorText(failure));
        }
      },
    );
    return () => {
      live = false;
    };
  }, [message.id, message.edited_at, reason]);
  if (reasonNeeded) {
    return createPortal(
      <Modal title="Edit history" onClose={onClose}>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (reasonDraft.trim()) setReason(reasonDraft.trim());
          }}
        >
          <p>
            This message is in a conversation you are not part of. Reading its earlier versions is a compliance read: it is recorded in the audit log with the reason you
            give.
          </p>
          <label class="field">
            <span>Reason (for example a case or request number)</span>
            <input value={reasonDraft} required maxLength={500} onInput={(event) => setReasonDraft(event.currentTarget.value)} />
          </label>
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          <div class="modal-actions">
            <button type="button" class="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" class="button primary" disabled={!reasonDraft.trim()}>
              Show history
            </button>
          </div>
        </form>
      </Modal>,
      document.body,
    );
  }
  return createPortal(
    <Modal title="Edit history" onClose={onClose}>
      <ol class="edit-history" aria-label="Versions">
        {/* The server's list may or may not include the current text; show it once, on top. */}
        <li class="edit-version current">
          <div class="muted">Current{message.edited_at !== null ? ` · edited ${formatTime(message.edited_at)}` : ''}</div>
          <Markdown text={message.text} />
        </li>
        {versions?.filter((version, index) => !(index === 0 && version.text === message.text)).map((version) => (
          <li class="edit-version" key={version.version}>
            <div class="muted">
              Version {version.version} · {new Date(version.created_at).toLocaleString()}
            </div>
            <Markdown text={version.text} />
          </li>
        ))}
      </ol>
      {!versions && !error && <p class="muted">Loading earlier versions…</p>}
      {versions && versions.filter((version) => version.text !== message.text).length === 0 && <p class="muted">No earlier versions.</p>}
      {error && (
        <p class="form-error" role="alert">
          Could not load the edit history: {error}
        </p>
      )}
      <div class="modal-actions">
        <button type="button" class="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>,
    document.body,
  );
}

function EditBox({ initial, onSave, onCancel }: { initial: string; onSave: (text: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(initial);
  return (
    <form
      class="edit-box"
      onSubmit={(event) => {
        event.preventDefault();
        if (text.trim()) onSave(text);
      }}
    >
      <textarea
        aria-label="Edit message"
        value={text}
        rows={Math.min(8, text.split('\n').length + 1)}
        ref={(element) => {
          if (element && document.activeElement !== element && !element.dataset.focused) {
            element.dataset.focused = '1';
            element.focus();
            element.setSelectionRange(element.value.length, element.value.length);
          }
        }}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') onCancel();
          if (event.key === 'Enter' && !event.shiftKey) {
            event.preventDefault();
            if (text.trim()) onSave(text);
          }
        }}
      />
      <div class="edit-actions">
        <span class="muted">Escape to cancel · Enter to save</span>
        <button type="button" class="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="button primary">
          Save
        </button>
      </div>
    </form>
  );
}

export function PendingItem({ pending, author, grouped }: { pending: PendingSend; author: User | undefined; grouped: boolean }) {
  const app = useApp();
  return (
    <article class={`message pending${grouped ? ' grouped' : ''}${pending.status === 'failed' ? ' failed' : ''}`} data-client-id={pending.clientId} aria-label={`${author?.name ?? 'You'}, ${pending.status === 'failed' ? 'not sent' : 'sending'}`}>
      <div class="message-gutter">{!grouped && <Avatar user={author} size={36} />}</div>
      <div class="message-body">
        {!grouped && (
          <header class="message-header">
            <span class="message-author">{author?.name ?? 'You'}</span>
          </header>
        )}
        {pending.text && (
          <div class="message-text">
            <Markdown text={pending.text} resolveMention={(handle) => {
              const user = app.userByHandle(handle);
              return user ? { name: user.name, isMe: user.id === app.me?.id } : null;
            }} />
          </div>
        )}
        {pending.attachments.length > 0 && <AttachmentList attachments={pending.attachments} />}
        {pending.status === 'failed' ? (
          <div class="send-failed" role="alert">
            <Icon name="alert" size={16} />
            <span>Not sent{pending.error ? `: ${pending.error}` : ''}</span>
            <button type="button" class="link-button" onClick={() => app.retry(pending.clientId)}>
              <Icon name="retry" size={14} /> Retry
            </button>
            <button type="button" class="link-button" onClick={() => app.messages.discardPending(pending.clientId)}>
              Discard
            </button>
          </div>
        ) : (
          <span class="sending">Sending…</span>
        )}
      </div>
    </article>
  );
}

/** WhatsApp delivery ticks under a reply to a customer. */
function DeliveryTicks({ messageId }: { messageId: number }) {
  const app = useApp();
  // Message rows are memoised; the ticks follow status changes themselves.
  const [status, setStatus] = useState(app.deliveries.get(messageId));
  useEffect(() => app.subscribe(() => setStatus(app.deliveries.get(messageId))), [app, messageId]);
  if (!status || status === 'received') return null;
  const { ticks, label } = deliveryTicks(status);
  return (
    <span class={`delivery delivery-${status}`} data-status={status} title={label}>
      <span aria-hidden="true">{ticks}</span>
      <span class="sr-only">{label}</span>
    </span>
  );
}
