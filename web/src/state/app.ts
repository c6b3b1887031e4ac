//! The application controller: owns the API client, the realtime
//! connection and the stores, and turns user intents (open a channel, send,
//! react) into requests and state changes. Views read from it and call it;
//! they never talk to the network themselves.

import { profiles as loadProfileList, type Profile } from '../api/accounts';
import { erasedMessages, type SignedOutReason } from './accounts';
import { ApiClient, ApiError, type Restriction } from '../api/client';
import type { Attachment, ChannelId, ChannelSummary, DeliveryStatus, EventPayload, LoginResponse, Message, MessageId, Security, ServerFrame, User, UserId, WaConversation, WaNumber, WaReply } from '../api/types';
import { mergeDelivery } from './whatsapp';
import { RealtimeConnection, type ConnectionStatus, type SocketLike } from '../realtime/connection';
import { newClientId } from '../util/ids';
import { channelTitle } from '../util/format';
import { ChannelStore, isConversation } from './channels';
import { MessageStore, type PendingSend } from './messages';
import { PresenceWatch, presenceTargets } from './presence';
import { APP_NAME, documentTitle, unreadForTitle } from './attention';
import { limitFromRefusal } from '../util/format';

/** How often an open customer conversation re-reads its delivery statuses. */
const DELIVERY_REFRESH_MS = 3_000;
const TOKEN_KEY = 'conclave.token';
const PAGE_SIZE = 50;
/** How long a typing notice stays up without a repeat. */
const TYPING_TTL_MS = 6000;
const TYPING_SEND_INTERVAL_MS = 3000;

export type SidePanel = { kind: 'thread'; rootId: MessageId } | { kind: 'pins' } | { kind: 'members' } | { kind: 'profile'; userId: UserId } | null;

export type Modal = 'create-channel' | 'browse' | 'new-message' | 'switcher' | 'security' | 'admin' | 'compliance' | 'profile' | null;

export interface Toast {
  id: number;
  text: string;
  /** A way back, such as "Undo", offered for a while after the change. */
  action?: ToastAction;
}

export interface ToastAction {
  label: string;
  run: () => void | Promise<unknown>;
}

/** How long a toast stays: longer when it offers a way back. */
const TOAST_MS = 5000;
const TOAST_WITH_ACTION_MS = 10_000;

export class App {
  readonly api: ApiClient;
  readonly messages = new MessageStore();
  readonly channels = new ChannelStore();
  me: User | null = null;
  token: string | null;
  /** The session may only enrol MFA or accept the policy until this is null. */
  restriction: Restriction | null = null;
  security: Security | null = null;
  /** WhatsApp business numbers the user answers (empty for most people). */
  waNumbers: WaNumber[] = [];
  readonly waConversations = new Map<ChannelId, WaConversation>();
  /** Delivery status of WhatsApp replies, by message. */
  readonly deliveries = new Map<MessageId, DeliveryStatus>();
  /** The customer inbox replaces the conversation view while open. */
  inboxOpen = false;
  /** Why the last single sign-on failed, for the sign-in screen. */
  ssoError: string | null = null;
  status: ConnectionStatus = 'idle';
  /** True once the first channel list has arrived. */
  ready = false;
  activeChannelId: ChannelId | null = null;
  panel: SidePanel = null;
  modal: Modal = null;
  toasts: Toast[] = [];
  /**
   * How many modal dialogs are open. A modal makes the rest of the page
   * inert, so toasts are shown inside the outermost one while any is open.
   */
  openModals = 0;
  /** The server's upload limit in bytes, once known (it answers it when refusing a file). */
  uploadLimitBytes: number | null = null;
  /**
   * Per channel: the first message that was unread when the user opened it
   * (the "new messages" line goes above it), or null for no line. Fixed at
   * open time, so messages arriving while the user watches do not move it.
   */
  readonly newMessagesLine = new Map<ChannelId, MessageId | null>();
  /** Per channel: the read marker when it was opened, until the line is placed. */
  private readonly readMarkerAtOpen = new Map<ChannelId, MessageId>();
  readonly users = new Map<UserId, User>();
  /** Status texts and photos, by person (only those who set one). */
  readonly profiles = new Map<UserId, Profile>();
  /** Why the last session ended, for the sign-in screen. */
  signedOutReason: SignedOutReason = null;
  readonly presence = new Map<UserId, 'online' | 'offline'>();
  /** `${channelId}:${threadId ?? 0}` → user → expiry time. */
  readonly typing = new Map<string, Map<UserId, number>>();
  readonly loadingOlder = new Set<ChannelId>();
  /** Channels whose history failed to load, with the reason. */
  readonly loadErrors = new Map<ChannelId, string>();
  /**
   * Channels open without being a member (a public channel reached by its
   * link, or a compliance officer reading one), for their name and topic.
   */
  readonly previews = new Map<ChannelId, ChannelSummary>();
  pins: { channelId: ChannelId; messages: Message[] } | null = null;
  members: { channelId: ChannelId; users: User[] } | null = null;
  version = 0;

  private connection: RealtimeConnection | null = null;
  private readonly presenceWatch = new PresenceWatch((ids) => this.connection?.send({ type: 'presence_subscribe', user_ids: ids }) ?? false);
  private readonly listeners = new Set<() => void>();
  private readonly userFetches = new Set<UserId>();
  private readonly lastTypingSent = new Map<string, number>();
  private typingTimer: ReturnType<typeof setInterval> | null = null;
  private toastSeq = 0;
  private readonly readInFlight = new Map<ChannelId, MessageId>();

  constructor(private readonly storage: Storage = localStorage) {
    this.token = storage.getItem(TOKEN_KEY);
    this.api = new ApiClient(this.token);
    this.api.onUnauthenticated = (code) => {
      if (code === 'account_deactivated') this.signedOutReason = 'deactivated';
      this.signOutLocally();
    };
    this.api.onRestricted = (restriction) => this.restrict(restriction);
    this.messages.subscribe(() => this.changed());
    this.channels.subscribe(() => this.changed());
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- session -------------------------------------------------------

  async signIn(email: string, password: string, totp?: string): Promise<void> {
    const answer = await this.api.login(email, password, totp);
    this.signedOutReason = null;
    this.acceptLogin(answer);
  }

  private acceptLogin(answer: LoginResponse): void {
    this.token = answer.token;
    this.api.token = answer.token;
    this.storage.setItem(TOKEN_KEY, answer.token);
    this.me = answer.user;
    this.users.set(answer.user.id, answer.user);
    this.restriction = answer.mfa_enrolment_required ? 'mfa_enrolment' : answer.policy_acceptance_required ? 'policy' : null;
    if (this.restriction) this.changed();
    else this.start();
  }

  /** Single sign-on came back with a token: use it like a password sign-in's. */
  async signInWithToken(token: string): Promise<void> {
    this.token = token;
    this.api.token = token;
    this.storage.setItem(TOKEN_KEY, token);
    this.changed();
    await this.resume();
  }

  /** The server said the session is restricted: stop everything until it is lifted. */
  restrict(restriction: Restriction): void {
    if (this.restriction === restriction) return;
    this.restriction = restriction;
    this.connection?.stop();
    this.connection = null;
    this.modal = null;
    this.changed();
  }

  /** After enrolling or accepting: asks the server what is left, and starts when nothing is. */
  async refreshRestriction(): Promise<void> {
    const security = await this.api.security();
    this.security = security;
    const next: Restriction | null = security.mfa_enrolment_required ? 'mfa_enrolment' : security.policy_acceptance_required ? 'policy' : null;
    this.restriction = next;
    if (next === null && !this.connection) this.start();
    this.changed();
  }

  async loadSecurity(): Promise<Security | null> {
    try {
      this.security = await this.api.security();
      this.changed();
      return this.security;
    } catch (error) {
      this.toast(errorText(error));
      return null;
    }
  }

  /** Resumes a stored session on page load. */
  async resume(): Promise<void> {
    if (!this.token) return;
    try {
      this.me = await this.api.me();
      this.users.set(this.me.id, this.me);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.code === 'account_deactivated')) {
        if (error.code === 'account_deactivated') this.signedOutReason = 'deactivated';
        return this.signOutLocally();
      }
      // Offline at start: keep the token and let the socket retry.
    }
    try {
      const security = await this.api.security();
      this.security = security;
      if (security.max_upload_bytes) this.uploadLimitBytes = security.max_upload_bytes;
      this.restriction = security.mfa_enrolment_required ? 'mfa_enrolment' : security.policy_acceptance_required ? 'policy' : null;
    } catch (error) {
      if (!this.token) return;
      // Offline, or a server without the endpoint: carry on; a restricted
      // session will say so on its next request.
    }
    if (this.restriction) {
      this.changed();
      return;
    }
    this.start();
  }

  async signOut(): Promise<void> {
    try {
      await this.api.logout();
    } catch {
      // Signing out locally matters more than telling the server.
    }
    this.signOutLocally();
  }

  signOutLocally(): void {
    this.connection?.stop();
    this.connection = null;
    this.storage.removeItem(TOKEN_KEY);
    this.token = null;
    this.api.token = null;
    this.me = null;
    this.restriction = null;
    this.security = null;
    this.presenceWatch.reset();
    this.ready = false;
    this.activeChannelId = null;
    this.panel = null;
    this.modal = null;
    this.messages.messages.clear();
    this.messages.channels.clear();
    this.messages.threads.clear();
    this.messages.pending.clear();
    this.channels.setAll([]);
    this.changed();
  }

  private start(): void {
    if (!this.token) return;
    const token = this.token;
    this.connection?.stop();
    this.connection = new RealtimeConnection({
      url: (since) => {
        const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
        const query = new URLSearchParams({ token });
        if (since !== undefined) query.set('since', String(since));
        return `${scheme}//${location.host}/api/v1/ws?${query}`;
      },
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      handlers: {
        onHello: (user, _position, resumed, onlineUserIds) => {
          this.me = user;
          this.users.set(user.id, user);
          if (onlineUserIds) for (const id of onlineUserIds) this.presence.set(id, 'online');
          if (!resumed || !this.ready) void this.reloadState();
          this.retryFailedSends();
        },
        onEvent: (event) => this.applyEvent(event),
        onReset: () => void this.reloadState(),
        onFrame: (frame) => this.applyFrame(frame),
        onRestricted: (restriction) => this.restrict(restriction),
        onStatus: (status) => {
          this.status = status;
          // A new socket hears nobody's presence beyond partners until told again.
          if (status !== 'online') this.presenceWatch.reset();
          // Ask why (a deactivated account answers so), then sign out.
          if (status === 'revoked') void this.api.me().then(
            () => this.signOutLocally(),
            () => this.signOutLocally(),
          );
          // Presence is only known while connected; stale dots would mislead.
          if (status === 'offline') this.presence.clear();
          this.changed();
        },
      },
    });
    this.connection.start();
    this.changed();
  }

  /** Browser came back online: do not wait for the backoff. */
  reconnectNow(): void {
    this.connection?.reconnectNow();
  }

  /** Loads the sidebar and the open channel over REST (first connection). */
  private async reloadState(): Promise<void> {
    try {
      const summaries = await this.api.channels();
      this.channels.setAll(summaries);
      this.ready = true;
      this.ensureUsers(summaries.flatMap((summary) => summary.member_ids));
      void this.loadInbox();
      void this.loadProfiles();
      const active = this.activeChannelId;
      if (active !== null) {
        const summary = this.channels.summaries.get(active);
        if (summary && !this.readMarkerAtOpen.get(active)) this.readMarkerAtOpen.set(active, summary.last_read_message_id);
        // Opened by its link before the sidebar loaded, a channel the user is not in still needs its name.
        if (!summary) await this.fetchChannel(active).catch(() => undefined);
        await this.loadLatest(active);
        await this.loadBackToFirstUnread(active);
        this.placeNewMessagesLine(active);
        this.markReadIfViewing();
      }
      this.changed();
    } catch (error) {
      this.toast(errorText(error));
    }
  }

  // ---- users ---------------------------------------------------------

  async loadProfiles(): Promise<void> {
    try {
      const list = await loadProfileList(this.api);
      this.profiles.clear();
      for (const profile of list) this.profiles.set(profile.user_id, profile);
      this.changed();
    } catch {
      // Photos and status texts are extras; names still show.
    }
  }

  user(id: UserId): User | undefined {
    const known = this.users.get(id);
    if (!known) this.ensureUsers([id]);
    return known;
  }

  ensureUsers(ids: UserId[]): void {
    for (const id of new Set(ids)) {
      if (this.users.has(id) || this.userFetches.has(id)) continue;
      this.userFetches.add(id);
      this.api
        .user(id)
        .then((user) => {
          this.users.set(user.id, user);
          this.changed();
        })
        .catch(() => {
          // Unknown users render as a placeholder; a later reload retries.
          setTimeout(() => this.userFetches.delete(id), 30_000);
        });
    }
  }

  userByHandle(handle: string): User | undefined {
    for (const user of this.users.values()) if (user.handle === handle) return user;
    return undefined;
  }

  title(summary: ChannelSummary): string {
    const customer = this.waConversations.get(summary.channel.id)?.customer;
    if (customer) return `WhatsApp: ${customer.name || customer.phone}`;
    return channelTitle(summary, this.me?.id ?? 0, (id) => this.user(id));
  }

  // ---- navigation ----------------------------------------------------

  async openChannel(channelId: ChannelId | null, options: { replace?: boolean; fromHistory?: boolean } = {}): Promise<void> {
    if (channelId !== this.activeChannelId) {
      this.panel = null;
      this.pins = null;
      this.members = null;
    }
    this.activeChannelId = channelId;
    if (channelId !== null) this.inboxOpen = false;
    if (channelId !== null && this.waConversations.has(channelId)) void this.loadDeliveries(channelId);
    this.followDeliveries();
    if (!options.fromHistory) {
      const path = channelId === null ? '/' : `/c/${channelId}`;
      if (location.pathname !== path) {
        if (options.replace) history.replaceState(null, '', path);
        else history.pushState(null, '', path);
      }
    }
    this.changed();
    if (channelId === null) return;
    let summary = this.channels.summaries.get(channelId);
    if (!summary && this.ready) {
      try {
        summary = await this.fetchChannel(channelId);
      } catch (error) {
        this.loadErrors.set(channelId, errorText(error));
        this.changed();
        return;
      }
    }
    this.readMarkerAtOpen.set(channelId, summary?.last_read_message_id ?? 0);
    this.newMessagesLine.delete(channelId);
    if (!this.messages.channelTimeline(channelId).loaded) await this.loadLatest(channelId);
    await this.loadBackToFirstUnread(channelId);
    if (this.activeChannelId !== channelId) return;
    this.placeNewMessagesLine(channelId);
    this.markReadIfViewing();
  }

  /** Fetches a channel missing from the sidebar: kept as a member's, or as a preview of one the user is not in. */
  private async fetchChannel(channelId: ChannelId): Promise<ChannelSummary> {
    const summary = await this.api.channel(channelId);
    if (summary.member_ids?.includes(this.me?.id ?? -1)) this.channels.upsert(summary);
    else {
      this.previews.set(channelId, summary);
      this.changed();
    }
    return summary;
  }

  private async loadLatest(channelId: ChannelId): Promise<void> {
    try {
      const page = await this.api.messages(channelId, { limit: PAGE_SIZE });
      this.messages.mergePage(channelId, page);
      this.loadErrors.delete(channelId);
      this.ensureUsers(page.messages.map((message) => message.author_id));
    } catch (error) {
      this.loadErrors.set(channelId, errorText(error));
      this.changed();
    }
  }

  /** Fixes where the "new messages" line goes: above the first message from someone else after the read marker. */
  private placeNewMessagesLine(channelId: ChannelId): void {
    const lastRead = this.readMarkerAtOpen.get(channelId) ?? 0;
    const me = this.me?.id;
    let first: MessageId | null = null;
    if (lastRead > 0) {
      for (const id of this.messages.channelTimeline(channelId).ids) {
        const message = this.messages.messages.get(id);
        if (message && id > lastRead && message.author_id !== me) {
          first = id;
          break;
        }
      }
    }
    this.newMessagesLine.set(channelId, first);
    this.changed();
  }

  /** The user comes back to the tab: what arrived meanwhile gets a "new messages" line. */
  returnToTab(): void {
    const channelId = this.activeChannelId;
    if (channelId === null) return;
    const summary = this.channels.summaries.get(channelId);
    if (summary && summary.unread_count > 0) {
      this.readMarkerAtOpen.set(channelId, summary.last_read_message_id);
      this.placeNewMessagesLine(channelId);
    }
    this.markReadIfViewing();
  }

  /** Pages back until the first unread message is loaded, so the "new messages" line can be shown. */
  private async loadBackToFirstUnread(channelId: ChannelId): Promise<void> {
    const lastRead = this.readMarkerAtOpen.get(channelId) ?? 0;
    if (lastRead === 0) return;
    for (let page = 0; page < 6; page += 1) {
      const timeline = this.messages.channelTimeline(channelId);
      const oldest = timeline.ids[0];
      if (!timeline.hasMoreBefore || oldest === undefined || oldest <= lastRead) return;
      await this.loadOlder(channelId);
    }
  }

  async loadOlder(channelId: ChannelId): Promise<void> {
    const timeline = this.messages.channelTimeline(channelId);
    if (!timeline.loaded || !timeline.hasMoreBefore || this.loadingOlder.has(channelId)) return;
    const oldest = timeline.ids[0];
    if (oldest === undefined) return;
    this.loadingOlder.add(channelId);
    this.changed();
    try {
      const page = await this.api.messages(channelId, { limit: PAGE_SIZE, before: oldest });
      this.messages.mergePage(channelId, page, { older: true });
      this.ensureUsers(page.messages.map((message) => message.author_id));
    } catch (error) {
      this.toast(errorText(error));
    } finally {
      this.loadingOlder.delete(channelId);
      this.changed();
    }
  }

  setPanel(panel: SidePanel): void {
    this.panel = panel;
    this.changed();
    if (panel?.kind === 'thread') void this.loadThread(panel.rootId);
    if (panel?.kind === 'pins' && this.activeChannelId !== null) void this.loadPins(this.activeChannelId);
    if (panel?.kind === 'members' && this.activeChannelId !== null) void this.loadMembers(this.activeChannelId);
    if (panel?.kind === 'profile') this.ensureUsers([panel.userId]);
  }

  setModal(modal: Modal): void {
    this.modal = modal;
    this.changed();
  }

  private async loadThread(rootId: MessageId): Promise<void> {
    try {
      let root = this.messages.messages.get(rootId);
      if (!root) {
        root = await this.api.message(rootId);
        this.messages.put(root);
      }
      const page = await this.api.messages(root.channel_id, { thread: rootId, limit: 200 });
      this.messages.mergePage(root.channel_id, page, { thread: rootId });
      this.ensureUsers(page.messages.map((message) => message.author_id));
    } catch (error) {
      this.toast(errorText(error));
    }
  }

  private async loadPins(channelId: ChannelId): Promise<void> {
    try {
      const messages = await this.api.pins(channelId);
      this.pins = { channelId, messages };
      this.ensureUsers(messages.map((message) => message.author_id));
      this.changed();
    } catch (error) {
      this.toast(errorText(error));
    }
  }

  private async loadMembers(channelId: ChannelId): Promise<void> {
    try {
      const users = await this.api.members(channelId);
      for (const user of users) this.users.set(user.id, user);
      this.members = { channelId, users };
      this.changed();
    } catch (error) {
      this.toast(errorText(error));
    }
  }

  // ---- reading -------------------------------------------------------

  /** Moves the read marker of the open channel to its newest message while the user can see it. */
  markReadIfViewing(): void {
    const channelId = this.viewingChannel();
    if (channelId === null) return;
    const summary = this.channels.summaries.get(channelId);
    if (!summary) return;
    const ids = this.messages.channelTimeline(channelId).ids;
    const newest = Math.max(summary.last_message_id, ids[ids.length - 1] ?? 0);
    if (newest <= summary.last_read_message_id && summary.unread_count === 0 && summary.mention_count === 0) return;
    if ((this.readInFlight.get(channelId) ?? 0) >= newest) return;
    this.readInFlight.set(channelId, newest);
    this.channels.markRead(channelId, newest);
    this.api
      .markRead(channelId, newest)
      .catch(() => undefined)
      .finally(() => this.readInFlight.delete(channelId));
  }

  /** The channel the user is actually looking at: open and the tab visible. */
  viewingChannel(): ChannelId | null {
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return null;
    return this.activeChannelId;
  }

  // ---- sending -------------------------------------------------------

  send(channelId: ChannelId, text: string, options: { threadId?: MessageId | null; attachments?: Attachment[] } = {}): void {
    if (!this.me) return;
    const pending: PendingSend = {
      clientId: newClientId(),
      channelId,
      threadId: options.threadId ?? null,
      authorId: this.me.id,
      text,
      attachments: options.attachments ?? [],
      createdAt: Date.now(),
      status: 'sending',
    };
    this.messages.addPending(pending);
    void this.deliver(pending);
  }

  retry(clientId: string): void {
    const pending = this.messages.markSending(clientId);
    if (pending) void this.deliver(pending);
  }

  private async deliver(pending: PendingSend, attempt = 0): Promise<void> {
    try {
      const message = await this.api.postMessage(pending.channelId, {
        text: pending.text,
        thread_id: pending.threadId,
        attachment_ids: pending.attachments.map((attachment) => attachment.id),
        client_id: pending.clientId,
      });
      this.messages.confirmSend(pending.clientId, message);
      this.markReadIfViewing();
    } catch (error) {
      // Rate limiting is expected when sending fast: wait as told and try
      // again quietly a few times before showing the failure.
      if (error instanceof ApiError && error.status === 429 && attempt < 5) {
        setTimeout(() => void this.deliver(pending, attempt + 1), error.retryAfterMs ?? 1000);
        return;
      }
      const retryable = error instanceof ApiError ? error.isNetwork || error.status >= 500 || error.status === 429 : true;
      this.messages.failSend(pending.clientId, errorText(error), retryable);
    }
  }

  /** After a reconnect, sends that failed for network reasons go out again (same client_id, so never twice). */
  private retryFailedSends(): void {
    for (const pending of this.messages.pending.values()) {
      if (pending.status === 'failed' && pending.retryable) this.retry(pending.clientId);
    }
  }

  async edit(messageId: MessageId, text: string): Promise<boolean> {
    try {
      const message = await this.api.editMessage(messageId, text);
      if (message && typeof message === 'object' && 'id' in message) this.messages.put(message);
      return true;
    } catch (error) {
      this.toast(errorText(error));
      return false;
    }
  }

  async remove(message: Message): Promise<void> {
    try {
      await this.api.deleteMessage(message.id);
      this.messages.applyEvent({ kind: 'message_deleted', channel_id: message.channel_id, message_id: message.id, thread_id: message.thread_id, deleted_by: this.me?.id ?? 0 });
    } catch (error) {
      this.toast(errorText(error));
    }
  }

  async toggleReaction(message: Message, emoji: string): Promise<void> {
    const me = this.me?.id;
    if (me === undefined) return;
    const on = !message.reactions.some((reaction) => reaction.emoji === emoji && reaction.user_ids.includes(me));
    const event = { kind: on ? 'reaction_added' : 'reaction_removed', channel_id: message.channel_id, message_id: message.id, user_id: me, emoji } as const;
    this.messages.applyEvent(event);
    try {
      await this.api.react(message.id, emoji, on);
    } catch (error) {
      this.messages.applyEvent({ ...event, kind: on ? 'reaction_removed' : 'reaction_added' });
      this.toast(errorText(error));
    }
  }

  async togglePin(message: Message): Promise<void> {
    try {
      await this.api.pin(message.id, !message.pinned);
      this.messages.applyEvent({ kind: 'message_pinned', channel_id: message.channel_id, message_id: message.id, pinned: !message.pinned, actor_id: this.me?.id ?? 0 });
      if (this.panel?.kind === 'pins') void this.loadPins(message.channel_id);
    } catch (error) {
      this.toast(errorText(error));
    }
  }

  sendTyping(channelId: ChannelId, threadId: MessageId | null): void {
    const key = `${channelId}:${threadId ?? 0}`;
    const now = Date.now();
    if (now - (this.lastTypingSent.get(key) ?? 0) < TYPING_SEND_INTERVAL_MS) return;
    this.lastTypingSent.set(key, now);
    this.connection?.send(threadId ? { type: 'typing', channel_id: channelId, thread_id: threadId } : { type: 'typing', channel_id: channelId });
  }

  typingIn(channelId: ChannelId, threadId: MessageId | null): User[] {
    const entry = this.typing.get(`${channelId}:${threadId ?? 0}`);
    if (!entry) return [];
    const now = Date.now();
    return [...entry.entries()].filter(([id, until]) => until > now && id !== this.me?.id).map(([id]) => this.user(id) ?? ({ id, name: 'Someone' } as User));
  }

  // ---- channels ------------------------------------------------------

  async createChannel(name: string, kind: 'public' | 'private', topic: string, memberIds: UserId[]): Promise<void> {
    const created = await this.api.createChannel({ name, kind, topic: topic || undefined, member_ids: memberIds.length ? memberIds : undefined });
    const channelId = 'channel' in created ? created.channel.id : created.id;
    if ('channel' in created) this.channels.upsert(created);
    else this.channels.upsert({ channel: created, member_ids: [this.me?.id ?? 0, ...memberIds], last_read_message_id: 0, last_message_id: 0, unread_count: 0, mention_count: 0 });
    this.modal = null;
    await this.openChannel(channelId);
  }

  async joinChannel(channelId: ChannelId): Promise<void> {
    await this.api.joinChannel(channelId);
    const summary = await this.api.channel(channelId);
    this.channels.upsert(summary);
    this.modal = null;
    await this.openChannel(channelId);
  }

  /**
   * Leaves a channel and says so; a public channel can be joined again from
   * the toast. Answers an error text, or null when it worked.
   */
  async leaveChannel(channelId: ChannelId): Promise<string | null> {
    const channel = this.channels.summaries.get(channelId)?.channel;
    try {
      await this.api.leaveChannel(channelId);
    } catch (error) {
      this.toast(errorText(error));
      return errorText(error);
    }
    this.channels.remove(channelId);
    this.messages.forgetChannel(channelId);
    if (this.activeChannelId === channelId) await this.openChannel(null);
    if (channel) {
      const rejoin = channel.kind === 'public' ? { label: 'Undo', run: () => this.joinChannel(channelId).catch((error: unknown) => this.toast(errorText(error))) } : undefined;
      this.toast(`You left #${channel.name}.`, rejoin);
    }
    return null;
  }

  async openConversation(userIds: UserId[]): Promise<void> {
    const summary = await this.api.openConversation(userIds);
    this.channels.upsert(summary);
    this.ensureUsers(summary.member_ids);
    this.modal = null;
    await this.openChannel(summary.channel.id);
  }

  // ---- WhatsApp customer inbox ---------------------------------------

  /** Loads the numbers the user answers and, if any, their conversations. */
  async loadInbox(): Promise<void> {
    try {
      this.waNumbers = await this.api.waNumbers();
      if (this.waNumbers.length === 0) return;
      const conversations = await this.api.waConversations();
      this.waConversations.clear();
      for (const conversation of conversations) this.waConversations.set(conversation.channel_id, conversation);
      this.ensureUsers(conversations.flatMap((conversation) => (conversation.assignee_id ? [conversation.assignee_id] : [])));
      // Staff names, for reassigning.
      this.ensureUsers(this.waNumbers.flatMap((number) => number.staff_ids));
      const active = this.activeChannelId;
      if (active !== null && this.waConversations.has(active)) void this.loadDeliveries(active);
      this.followDeliveries();
      this.changed();
    } catch {
      // No connector (or an older server): no inbox.
    }
  }

  openInbox(): void {
    this.inboxOpen = true;
    this.panel = null;
    void this.openChannel(null);
    void this.loadInbox();
  }

  closeInbox(): void {
    this.inboxOpen = false;
    this.changed();
  }

  /**
   * Whether a channel can be a customer conversation of one of the user's
   * business numbers (the connector names them `wa-CUSTOMER-NUMBER`), so
   * that ordinary channels never cost a request that can only answer 404.
   */
  private mayBeCustomerConversation(channel: { kind: string; name: string }): boolean {
    return channel.kind === 'private' && this.waNumbers.some((number) => channel.name.startsWith('wa-') && channel.name.endsWith(`-${number.phone_number_id}`));
  }

  private async refreshConversation(channelId: ChannelId): Promise<void> {
    try {
      this.waConversations.set(channelId, await this.api.waConversation(channelId));
      this.changed();
    } catch {
      // Keep what we had.
    }
  }

  private deliveryTimer: ReturnType<typeof setInterval> | null = null;

  /**
   * While a customer conversation is open, refresh its delivery statuses now
   * and then: live `whatsapp_status` frames are not replayed after a
   * reconnect, so one missed while the socket was down would otherwise leave
   * a tick stale until the conversation is reopened.
   */
  private followDeliveries(): void {
    if (this.deliveryTimer !== null) clearInterval(this.deliveryTimer);
    this.deliveryTimer = null;
    const channelId = this.activeChannelId;
    if (channelId === null || !this.waConversations.has(channelId)) return;
    this.deliveryTimer = setInterval(() => {
      if (this.activeChannelId === channelId && typeof document !== 'undefined' && !document.hidden) void this.loadDeliveries(channelId);
    }, DELIVERY_REFRESH_MS);
  }

  private async loadDeliveries(channelId: ChannelId): Promise<void> {
    try {
      for (const delivery of await this.api.waDeliveries(channelId)) {
        this.deliveries.set(delivery.message_id, mergeDelivery(this.deliveries.get(delivery.message_id), delivery.status));
      }
      this.changed();
    } catch {
      // Ticks are a nicety; the messages are there regardless.
    }
  }

  async claim(channelId: ChannelId): Promise<void> {
    try {
      await this.api.waClaim(channelId);
    } catch (error) {
      this.toast(errorText(error));
    }
    await this.refreshConversation(channelId);
  }

  /** Hands a conversation to another staff member; answers an error text, or null. */
  async reassign(channelId: ChannelId, userId: UserId): Promise<string | null> {
    return this.changeAssignee(channelId, () => this.api.waAssign(channelId, userId));
  }

  /** Unassigns a conversation; answers an error text, or null. */
  async release(channelId: ChannelId): Promise<string | null> {
    return this.changeAssignee(channelId, () => this.api.waRelease(channelId));
  }

  private async changeAssignee(channelId: ChannelId, change: () => Promise<WaConversation>): Promise<string | null> {
    try {
      const conversation = await change();
      this.waConversations.set(channelId, conversation);
      if (conversation.assignee_id !== null) this.ensureUsers([conversation.assignee_id]);
      this.changed();
      return null;
    } catch (error) {
      // Someone else may have changed it meanwhile: show what is true now.
      await this.refreshConversation(channelId);
      return errorText(error);
    }
  }

  /** Sends a WhatsApp reply; answers an error text, or null when it was accepted. */
  async sendWhatsApp(channelId: ChannelId, body: WaReply): Promise<string | null> {
    try {
      const answer = await this.api.waSend(channelId, body, newClientId());
      this.messages.put(answer.message, 'created');
      const conversation = this.waConversations.get(channelId);
      if (conversation) this.waConversations.set(channelId, { ...conversation, last_message: answer.message });
      this.deliveries.set(answer.message.id, mergeDelivery(this.deliveries.get(answer.message.id), answer.delivery.status));
      this.markReadIfViewing();
      this.changed();
      return null;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'whatsapp_window_closed') {
        await this.refreshConversation(channelId);
        return 'The 24-hour window has closed: only a template can be sent now.';
      }
      return errorText(error);
    }
  }

  // ---- live events ---------------------------------------------------

  private applyEvent(event: EventPayload): void {
    const me = this.me?.id ?? 0;
    const effect = this.channels.applyEvent(event, {
      me,
      viewing: this.viewingChannel(),
      customerOf: (channelId) => this.waConversations.get(channelId)?.customer.user_id,
    });
    this.messages.applyEvent(event);
    switch (event.kind) {
      case 'message_created': {
        const message = event.message;
        this.ensureUsers([message.author_id]);
        this.clearTyping(message.channel_id, message.author_id);
        if (message.channel_id === this.viewingChannel()) this.markReadIfViewing();
        if (message.author_id !== me) this.notify(message);
        const conversation = this.waConversations.get(message.channel_id);
        // The inbox previews the newest message outside threads.
        if (conversation && message.thread_id === null) this.waConversations.set(message.channel_id, { ...conversation, last_message: message });
        // A customer message reopens the reply window.
        if (conversation && message.author_id === conversation.customer.user_id) void this.refreshConversation(message.channel_id);
        break;
      }
      case 'channel_created':
        // A customer's first message opens a new conversation: learn it now,
        // so its customer's thread replies are counted as they arrive.
        if (this.mayBeCustomerConversation(event.channel) && event.member_ids.includes(me) && !this.waConversations.has(event.channel.id)) {
          void this.refreshConversation(event.channel.id);
        }
        break;
      case 'message_pinned':
        if (this.panel?.kind === 'pins' && this.activeChannelId === event.channel_id) void this.loadPins(event.channel_id);
        break;
      case 'member_joined':
      case 'member_left':
        this.ensureUsers([event.user_id]);
        if (this.panel?.kind === 'members' && this.activeChannelId === event.channel_id) void this.loadMembers(event.channel_id);
        break;
      case 'user_deactivated':
        this.users.set(event.user.id, event.user);
        break;
      default:
        break;
    }
    if (effect?.kind === 'fetch_summary') {
      this.api
        .channel(effect.channelId)
        .then((summary) => {
          this.channels.upsert(summary);
          this.ensureUsers(summary.member_ids);
        })
        .catch(() => undefined);
    } else if (effect?.kind === 'removed') {
      this.messages.forgetChannel(effect.channelId);
      if (this.activeChannelId === effect.channelId) void this.openChannel(null, { replace: true });
    }
    this.changed();
  }

  private applyFrame(frame: ServerFrame): void {
    if (frame.type === 'typing') {
      const key = `${frame.channel_id}:${frame.thread_id ?? 0}`;
      let entry = this.typing.get(key);
      if (!entry) {
        entry = new Map();
        this.typing.set(key, entry);
      }
      entry.set(frame.user_id, Date.now() + TYPING_TTL_MS);
      this.ensureUsers([frame.user_id]);
      this.startTypingSweep();
      this.changed();
    } else if (frame.type === 'presence') {
      this.presence.set(frame.user_id, frame.status);
      this.changed();
    } else if (frame.type === 'whatsapp_status') {
      this.deliveries.set(frame.message_id, mergeDelivery(this.deliveries.get(frame.message_id), frame.status));
      this.changed();
    } else if (frame.type === 'presence_snapshot') {
      this.presenceWatch.applySnapshot(frame.online_user_ids ?? [], this.presence);
      this.changed();
    } else if (frame.type === 'error') {
      this.toast(frame.message);
    } else if (frame.type === 'user_erased') {
      // Their messages leave every open screen now, not at the next reload.
      this.users.set(frame.user.id, frame.user);
      this.profiles.delete(frame.user.id);
      for (const message of erasedMessages(this.messages.messages.values(), frame.user.id, Date.now())) this.messages.put(message);
      if (this.panel?.kind === 'members' && this.activeChannelId !== null) void this.loadMembers(this.activeChannelId);
      this.changed();
    } else if (frame.type === 'messages_purged') {
      // Retention removed history: drop what is held and read it again.
      this.messages.messages.clear();
      this.messages.channels.clear();
      this.messages.threads.clear();
      void this.reloadState();
    } else if (frame.type === 'profile_updated') {
      this.users.set(frame.user.id, frame.user);
      this.profiles.set(frame.profile.user_id, frame.profile);
      if (this.me?.id === frame.user.id) this.me = frame.user;
      this.changed();
    }
  }

  private clearTyping(channelId: ChannelId, userId: UserId): void {
    for (const [key, entry] of this.typing) if (key.startsWith(`${channelId}:`)) entry.delete(userId);
  }

  private startTypingSweep(): void {
    if (this.typingTimer) return;
    this.typingTimer = setInterval(() => {
      const now = Date.now();
      let any = false;
      for (const [key, entry] of this.typing) {
        for (const [id, until] of entry) if (until <= now) entry.delete(id);
        if (entry.size === 0) this.typing.delete(key);
        else any = true;
      }
      if (!any && this.typingTimer) {
        clearInterval(this.typingTimer);
        this.typingTimer = null;
      }
      this.changed();
    }, 1000);
  }

  /** A system notification for a mention or a direct message while the tab is hidden. */
  private notify(message: Message): void {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    if (document.visibilityState !== 'hidden') return;
    const summary = this.channels.summaries.get(message.channel_id);
    if (!summary) return;
    const me = this.me?.id ?? 0;
    if (!message.mentions.includes(me) && !isConversation(summary.channel)) return;
    const author = this.user(message.author_id)?.name ?? 'Someone';
    const where = isConversation(summary.channel) ? author : `${author} in #${summary.channel.name}`;
    const body = message.text ? message.text.slice(0, 160) : message.attachments.length ? 'Sent an attachment' : '';
    try {
      const notification = new Notification(where, { body, tag: `channel-${message.channel_id}`, icon: '/icons/icon-192.png' });
      notification.onclick = () => {
        window.focus();
        void this.openChannel(message.channel_id);
        notification.close();
      };
    } catch {
      // Some browsers only allow notifications from the service worker.
    }
  }

  // ---- feedback ------------------------------------------------------

  toast(text: string, action?: ToastAction): void {
    const id = ++this.toastSeq;
    this.toasts = [...this.toasts, action ? { id, text, action } : { id, text }];
    this.changed();
    setTimeout(() => this.dismissToast(id), action ? TOAST_WITH_ACTION_MS : TOAST_MS);
  }

  dismissToast(id: number): void {
    if (!this.toasts.some((toast) => toast.id === id)) return;
    this.toasts = this.toasts.filter((toast) => toast.id !== id);
    this.changed();
  }

  /** Counts modal dialogs in and out (see `openModals`). */
  modalOpened(): () => void {
    this.openModals += 1;
    this.changed();
    return () => {
      this.openModals = Math.max(0, this.openModals - 1);
      this.changed();
    };
  }

  /** Remembers the upload limit a refusal names, so later files are checked before they are sent. */
  learnUploadLimit(error: unknown): void {
    if (!(error instanceof ApiError) || error.code !== 'payload_too_large') return;
    const limit = limitFromRefusal(error.message);
    if (limit !== null) this.uploadLimitBytes = limit;
  }

  /** The tab title carries the number of conversations waiting: "(3) Conclave". */
  private updateTitle(): void {
    if (typeof document === 'undefined') return;
    const title = this.me && this.ready ? documentTitle(unreadForTitle(this.channels.summaries.values(), this.viewingChannel())) : APP_NAME;
    if (document.title !== title) document.title = title;
  }

  /** Watches the presence of the people on screen: the open channel's members and the member list. */
  private syncPresence(): void {
    if (!this.connection || this.status !== 'online') return;
    const active = this.activeChannelId === null ? undefined : this.channels.summaries.get(this.activeChannelId);
    const listed = this.members && this.members.channelId === this.activeChannelId ? this.members.users.map((user) => user.id) : undefined;
    this.presenceWatch.update(presenceTargets(this.me?.id ?? null, active?.member_ids, listed));
  }

  changed(): void {
    this.syncPresence();
    this.updateTitle();
    this.version += 1;
    for (const listener of this.listeners) listener();
  }
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}
