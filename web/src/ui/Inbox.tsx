//! The WhatsApp customer inbox for staff of business numbers: the list of
//! customer conversations per number, and inside a conversation the bar
//! (customer, assignee, reply window, claim) and the reply box (free text
//! and files while the window is open, otherwise a template).

import { useState } from 'preact/hooks';
import type { Attachment, ChannelId, WaConversation } from '../api/types';
import { composedReply, inboxActivity, inboxPreview, templateReply, whatsAppSizeLimit, windowOpen } from '../state/whatsapp';
import { formatDateTime, formatDay, formatMegabytes, formatTime, sameDay } from '../util/format';
import { useApp } from './context';
import { Icon } from './icons';
import { Composer } from './Composer';

export function Inbox() {
  const app = useApp();
  const [number, setNumber] = useState<string>('all');
  const [filter, setFilter] = useState<'all' | 'mine' | 'none'>('all');
  const me = app.me?.id;
  const conversations = [...app.waConversations.values()]
    .filter((conversation) => number === 'all' || conversation.phone_number_id === number)
    .filter((conversation) => (filter === 'mine' ? conversation.assignee_id === me : filter === 'none' ? conversation.assignee_id === null : true))
    .sort((a, b) => inboxActivity(b) - inboxActivity(a));
  return (
    <main class="conversation inbox" aria-labelledby="inbox-title">
      <header class="conversation-header">
        <button class="icon-button back-button" type="button" aria-label="Back to conversations" onClick={() => app.closeInbox()}>
          <Icon name="back" />
        </button>
        <div class="conversation-title">
          <Icon name="users" size={18} />
          <h1 id="inbox-title">Customer inbox</h1>
        </div>
      </header>
      <div class="inbox-body">
        <div class="inbox-filters">
          {app.waNumbers.length > 1 && (
            <label class="field compact">
              <span>Business number</span>
              <select value={number} onChange={(event) => setNumber(event.currentTarget.value)}>
                <option value="all">All numbers</option>
                {app.waNumbers.map((entry) => (
                  <option key={entry.phone_number_id} value={entry.phone_number_id}>
                    {entry.phone_number_id}
                  </option>
                ))}
              </select>
            </label>
          )}
          <div class="segmented" role="group" aria-label="Show">
            {(['all', 'mine', 'none'] as const).map((value) => (
              <button key={value} type="button" class="button small" aria-pressed={filter === value} onClick={() => setFilter(value)}>
                {value === 'all' ? 'All' : value === 'mine' ? 'Mine' : 'Unclaimed'}
              </button>
            ))}
          </div>
        </div>
        {conversations.length === 0 ? (
          <p class="muted inbox-empty">No customer conversations here yet.</p>
        ) : (
          <ul class="inbox-list" role="list">
            {conversations.map((conversation) => (
              <InboxRow key={conversation.channel_id} conversation={conversation} />
            ))}
          </ul>
        )}
      </div>
    </main>
  );
}

function InboxRow({ conversation }: { conversation: WaConversation }) {
  const app = useApp();
  const summary = app.channels.summaries.get(conversation.channel_id) ?? conversation.summary;
  const unread = summary?.unread_count ?? 0;
  const name = conversation.customer.name || conversation.customer.phone;
  const last = conversation.last_message;
  const preview = inboxPreview(last, app.me?.id, conversation.customer.user_id, (id) => app.user(id)?.name);
  return (
    <li class={`inbox-row${unread ? ' unread' : ''}`}>
      <button type="button" class="inbox-open" onClick={() => void app.openChannel(conversation.channel_id)}>
        <span class="inbox-customer">
          <span class="inbox-name-line">
            <span class="inbox-name">{name}</span>
            {last && (
              <time class="inbox-time" dateTime={new Date(last.created_at).toISOString()} title={new Date(last.created_at).toLocaleString()}>
                {rowTime(last.created_at)}
              </time>
            )}
          </span>
          <span class="inbox-preview" data-testid="inbox-preview">
            {preview}
          </span>
          <span class="muted inbox-phone">{conversation.customer.phone}</span>
        </span>
        <span class="inbox-meta">
          <span>{assigneeText(app.me?.id, conversation.assignee_id, (id) => app.user(id)?.name)}</span>
          <WindowText conversation={conversation} />
        </span>
        {unread > 0 && (
          <span class="badge" aria-label={`${unread} unread`}>
            {unread}
          </span>
        )}
      </button>
      {conversation.assignee_id === null && (
        <button type="button" class="button small primary" onClick={() => void app.claim(conversation.channel_id)}>
          Claim<span class="sr-only"> conversation with {name}</span>
        </button>
      )}
    </li>
  );
}

/** Today's messages by time, older ones by day, as in a phone's chat list. */
function rowTime(millis: number): string {
  return sameDay(new Date(millis), new Date()) ? formatTime(millis) : formatDay(millis);
}

function assigneeText(me: number | undefined, assignee: number | null, name: (id: number) => string | undefined): string {
  if (assignee === null) return 'Unassigned';
  if (assignee === me) return 'Assigned to you';
  return `Assigned to ${name(assignee) ?? 'a colleague'}`;
}

function WindowText({ conversation }: { conversation: WaConversation }) {
  if (windowOpen(conversation)) {
    return <span class="window open">Window open{conversation.window_closes_at ? ` until ${formatDateTime(conversation.window_closes_at)}` : ''}</span>;
  }
  return <span class="window closed">Window closed · templates only</span>;
}

/** Above the messages of a customer conversation. */
export function WhatsAppBar({ channelId }: { channelId: ChannelId }) {
  const app = useApp();
  const conversation = app.waConversations.get(channelId);
  if (!conversation) return null;
  return (
    <div class="wa-bar" role="region" aria-label="WhatsApp conversation">
      <span>
        <strong>{conversation.customer.name || conversation.customer.phone}</strong> <span class="muted">{conversation.customer.phone}</span>
      </span>
      <span class="wa-assignee">{assigneeText(app.me?.id, conversation.assignee_id, (id) => app.user(id)?.name)}</span>
      <WindowText conversation={conversation} />
      {conversation.assignee_id === null && (
        <button type="button" class="button small primary" onClick={() => void app.claim(channelId)}>
          Claim
        </button>
      )}
      <AssignmentTools conversation={conversation} />
    </div>
  );
}

/**
 * Reassigning and releasing: for the assignee and admins (the server's
 * rule), among the staff of the conversation's business number.
 */
function AssignmentTools({ conversation }: { conversation: WaConversation }) {
  const app = useApp();
  const [target, setTarget] = useState<string>('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const me = app.me;
  const assignee = conversation.assignee_id;
  if (!me || assignee === null) return null;
  const admin = me.role === 'admin' || me.role === 'owner';
  if (assignee !== me.id && !admin) return null;
  const staff = (app.waNumbers.find((number) => number.phone_number_id === conversation.phone_number_id)?.staff_ids ?? []).filter((id) => id !== assignee);
  const channelId = conversation.channel_id;
  const run = async (change: () => Promise<string | null>) => {
    setBusy(true);
    setError(null);
    const failure = await change();
    setBusy(false);
    setError(failure);
    if (!failure) setTarget('');
  };
  const chosen = staff.find((id) => String(id) === target);
  return (
    <div class="wa-assign">
      {staff.length > 0 && (
        <form
          class="wa-assign-form"
          aria-label="Reassign conversation"
          onSubmit={(event) => {
            event.preventDefault();
            if (chosen !== undefined) void run(() => app.reassign(channelId, chosen));
          }}
        >
          <label class="sr-only" for={`wa-reassign-${channelId}`}>
            Reassign to
          </label>
          <select id={`wa-reassign-${channelId}`} value={target} onChange={(event) => setTarget(event.currentTarget.value)}>
            <option value="">Reassign to…</option>
            {staff.map((id) => (
              <option key={id} value={String(id)}>
                {app.user(id)?.name ?? `User ${id}`}
              </option>
            ))}
          </select>
          <button type="submit" class="button small" disabled={busy || chosen === undefined}>
            Reassign
          </button>
        </form>
      )}
      <button type="button" class="button small" disabled={busy} onClick={() => void run(() => app.release(channelId))}>
        Release<span class="sr-only"> conversation</span>
      </button>
      {error && (
        <span class="form-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

/** The reply box of a customer conversation: the chat composer while the window is open, otherwise a template form. */
export function WhatsAppComposer({ channelId }: { channelId: ChannelId }) {
  const app = useApp();
  const conversation = app.waConversations.get(channelId);
  const [template, setTemplate] = useState({ name: '', language: 'en_US' });
  // The template body's parameters: {{1}}, {{2}}, … in order.
  const [parameters, setParameters] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!conversation) return null;
  const customer = conversation.customer.name || conversation.customer.phone;
  // WhatsApp's own size limits are tighter than the upload limit for images, video and audio: say so before sending.
  const sendReply = async (text: string, attachments: Attachment[]): Promise<string | null> => {
    const tooLarge = attachments.find((attachment) => attachment.size > whatsAppSizeLimit(attachment.content_type));
    if (tooLarge) return `${tooLarge.name} is too large for WhatsApp: at most ${formatMegabytes(whatsAppSizeLimit(tooLarge.content_type))} for this kind of file.`;
    return app.sendWhatsApp(channelId, composedReply(text, attachments));
  };
  if (windowOpen(conversation)) {
    return (
      <div class="wa-composer" role="region" aria-label="Reply on WhatsApp">
        {/* The chat composer: emoji, :shortcodes:, files and voice notes; files go to the customer as WhatsApp media. */}
        <Composer channelId={channelId} placeholder={`Reply to ${customer} on WhatsApp`} sendLabel="Send reply" send={(text, attachments) => sendReply(text, attachments)} />
      </div>
    );
  }
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const failure = await app.sendWhatsApp(channelId, { template: templateReply(template.name, template.language, parameters) });
    setBusy(false);
    if (failure) setError(failure);
    else {
      setTemplate({ ...template, name: '' });
      setParameters([]);
    }
  };
  return (
    <form class="wa-composer" onSubmit={submit} aria-label="Reply on WhatsApp">
      <p class="wa-closed" role="note">
        The 24-hour customer-service window is closed. Only an approved template can be sent.
      </p>
      <div class="wa-row">
        <label class="field compact">
          <span>Template name</span>
          <input name="template-name" required value={template.name} onInput={(event) => setTemplate({ ...template, name: event.currentTarget.value })} />
        </label>
        <label class="field compact">
          <span>Language</span>
          <input name="template-language" required value={template.language} onInput={(event) => setTemplate({ ...template, language: event.currentTarget.value })} />
        </label>
      </div>
      <fieldset class="wa-parameters">
        <legend>Body parameters</legend>
        {parameters.length === 0 && <p class="muted">None: the template's body has no placeholders.</p>}
        {parameters.map((value, index) => (
          <label key={index} class="field compact">
            <span>{`{{${index + 1}}}`}</span>
            <input
              name={`template-parameter-${index + 1}`}
              required
              maxLength={1024}
              value={value}
              onInput={(event) => {
                const next = [...parameters];
                next[index] = event.currentTarget.value;
                setParameters(next);
              }}
            />
          </label>
        ))}
        <div class="wa-row">
          <button type="button" class="button small" disabled={parameters.length >= 100} onClick={() => setParameters([...parameters, ''])}>
            Add parameter
          </button>
          {parameters.length > 0 && (
            <button type="button" class="button small" onClick={() => setParameters(parameters.slice(0, -1))}>
              Remove {`{{${parameters.length}}}`}
            </button>
          )}
        </div>
      </fieldset>
      <div class="wa-row">
        <button type="submit" class="button primary" disabled={busy}>
          Send template
        </button>
      </div>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
