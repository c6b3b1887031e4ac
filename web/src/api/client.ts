//! The REST client: one place that knows URLs, the bearer token and the
//! error body shape. Everything above it deals in typed results or ApiError.

import type {
  Attachment,
  BrowseEntry,
  Channel,
  ChannelId,
  ChannelSummary,
  LoginResponse,
  Message,
  MessageId,
  MessageVersion,
  MessagePage,
  Policy,
  Role,
  Security,
  Session,
  SsoConfig,
  TotpEnrolment,
  AdminUser,
  WaConversation,
  WaDelivery,
  WaNumber,
  WaReply,
  AuditEntry,
  User,
  UserId,
  Webhook,
  CreatedWebhook,
} from './types';

export type Restriction = 'mfa_enrolment' | 'policy';

/** What an error answer means for the session as a whole. */
export function sessionEffect(status: number, code: string): 'sign_out' | Restriction | null {
  if ((status === 401 && code === 'unauthenticated') || code === 'account_deactivated') return 'sign_out';
  // An older server without codes on 401: treat a bare 401 as the end of the session.
  if (status === 401 && code === 'http_401') return 'sign_out';
  if (status === 403 && code === 'mfa_enrolment_required') return 'mfa_enrolment';
  if (status === 403 && code === 'policy_acceptance_required') return 'policy';
  return null;
}

/** An error answered by the server ({code, message}) or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From Retry-After on 429 and 503 answers. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** True when the request never got an answer (offline, server down). */
  get isNetwork(): boolean {
    return this.status === 0;
  }
}

export const API_PREFIX = '/api/v1';

export interface PageQuery {
  limit?: number;
  before?: MessageId;
  after?: MessageId;
  around?: MessageId;
  thread?: MessageId;
}

export class ApiClient {
  /** Called when a request answers that the session is over (401 unauthenticated, 403 account_deactivated), so the app signs out. */
  onUnauthenticated: ((code: string) => void) | null = null;
  /** Called when a request answers that the session is restricted to MFA enrolment or policy acceptance. */
  onRestricted: ((restriction: Restriction) => void) | null = null;

  constructor(public token: string | null = null) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(API_PREFIX + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, 'network', 'Cannot reach the server.');
    }
    if (!response.ok) throw await errorFromResponse(response, this);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  login(email: string, password: string, totp?: string): Promise<LoginResponse> {
    const body: Record<string, string> = { email, password };
    if (totp) body.totp = totp;
    return this.request('POST', '/auth/login', body);
  }
  logout(): Promise<void> {
    return this.request('POST', '/auth/logout');
  }
  me(): Promise<User> {
    return this.request('GET', '/me');
  }

  security(): Promise<Security> {
    return this.request('GET', '/me/security');
  }
  policy(): Promise<Policy> {
    return this.request('GET', '/policy');
  }
  acceptPolicy(version: number): Promise<unknown> {
    return this.request('POST', '/policy/accept', { version });
  }
  startTotp(): Promise<TotpEnrolment> {
    return this.request('POST', '/me/mfa/totp');
  }
  confirmTotp(code: string): Promise<{ recovery_codes: string[] }> {
    return this.request('POST', '/me/mfa/totp/confirm', { code });
  }
  disableTotp(code: string): Promise<unknown> {
    return this.request('POST', '/me/mfa/totp/disable', { code });
  }
  regenerateRecoveryCodes(code: string): Promise<{ recovery_codes: string[] }> {
    return this.request('POST', '/me/mfa/recovery-codes', { code });
  }
  sessions(): Promise<Session[]> {
    return this.request<Session[] | { sessions: Session[] }>('GET', '/me/sessions').then(listOf('sessions'));
  }
  revokeSession(id: number): Promise<unknown> {
    return this.request('DELETE', `/me/sessions/${id}`);
  }
  ssoConfig(): Promise<SsoConfig> {
    return this.request('GET', '/auth/sso/config');
  }
  adminUsers(query: { q?: string; limit?: number } = {}): Promise<AdminUser[]> {
    const params = new URLSearchParams();
    if (query.q) params.set('q', query.q);
    params.set('limit', String(query.limit ?? 200));
    return this.request<AdminUser[] | { users: AdminUser[] }>('GET', `/admin/users?${params}`).then(listOf('users'));
  }
  setRole(id: UserId, role: Role): Promise<unknown> {
    return this.request('PUT', `/admin/users/${id}/role`, { role });
  }
  /** Lifts a sign-in lock before it ends by itself. */
  unlock(id: UserId): Promise<unknown> {
    return this.request('POST', `/admin/users/${id}/unlock`);
  }
  setActive(id: UserId, active: boolean): Promise<unknown> {
    return this.request('POST', `/admin/users/${id}/${active ? 'reactivate' : 'deactivate'}`);
  }
  /** Creates a local account (admins; owners for owners): POST /users. */
  createUser(input: { email: string; name: string; role: Role; password: string }): Promise<unknown> {
    return this.request('POST', '/users', input);
  }
  createGuest(input: { email: string; name: string; password?: string; expires_at: number; channel_ids: ChannelId[] }): Promise<unknown> {
    return this.request('POST', '/admin/guests', input);
  }

  audit(query: string): Promise<AuditEntry[]> {
    return this.request<AuditEntry[] | { entries: AuditEntry[] }>('GET', `/audit${query ? `?${query}` : ''}`).then(listOf('entries'));
  }
  /** The audit log as JSON Lines (a download, fetched with the bearer token). */
  auditExport(query: string): Promise<Blob> {
    return this.fileBlob(`/audit/export${query ? `?${query}` : ''}`);
  }

  waNumbers(): Promise<WaNumber[]> {
    return this.request<WaNumber[] | { numbers: WaNumber[] }>('GET', '/whatsapp/numbers').then(listOf('numbers'));
  }
  waConversations(phoneNumberId?: string): Promise<WaConversation[]> {
    const query = phoneNumberId ? `?phone_number_id=${encodeURIComponent(phoneNumberId)}` : '';
    return this.request<WaConversation[] | { conversations: WaConversation[] }>('GET', `/whatsapp/conversations${query}`).then(listOf('conversations'));
  }
  waConversation(channelId: ChannelId): Promise<WaConversation> {
    return this.request('GET', `/whatsapp/conversations/${channelId}`);
  }
  waClaim(channelId: ChannelId): Promise<unknown> {
    return this.request('POST', `/whatsapp/conversations/${channelId}/claim`);
  }
  /** Hands the conversation to another staff member of its number. */
  waAssign(channelId: ChannelId, userId: UserId): Promise<WaConversation> {
    return this.request('POST', `/whatsapp/conversations/${channelId}/assign`, { user_id: userId });
  }
  /** Unassigns the conversation, so any staff member may claim it. */
  waRelease(channelId: ChannelId): Promise<WaConversation> {
    return this.request('POST', `/whatsapp/conversations/${channelId}/release`);
  }
  waSend(channelId: ChannelId, body: WaReply, clientId: string): Promise<{ message: Message; delivery: WaDelivery }> {
    return this.request('POST', `/whatsapp/conversations/${channelId}/messages`, { ...body, client_id: clientId });
  }
  waDeliveries(channelId: ChannelId): Promise<WaDelivery[]> {
    return this.request<WaDelivery[] | { deliveries: WaDelivery[] }>('GET', `/whatsapp/conversations/${channelId}/deliveries`).then(listOf('deliveries'));
  }

  searchUsers(query: string, limit = 8): Promise<User[]> {
    return this.request<User[] | { users: User[] }>('GET', `/users?q=${encodeURIComponent(query)}&limit=${limit}`).then(listOf('users'));
  }
  user(id: UserId): Promise<User> {
    return this.request('GET', `/users/${id}`);
  }

  channels(): Promise<ChannelSummary[]> {
    return this.request<ChannelSummary[] | { channels: ChannelSummary[] }>('GET', '/channels').then(listOf('channels'));
  }
  channel(id: ChannelId): Promise<ChannelSummary> {
    return this.request('GET', `/channels/${id}`);
  }
  browseChannels(): Promise<BrowseEntry[]> {
    return this.request<BrowseEntry[] | { channels: BrowseEntry[] }>('GET', '/channels/browse').then(listOf('channels'));
  }
  createChannel(input: { name: string; kind: 'public' | 'private'; topic?: string; member_ids?: UserId[] }): Promise<ChannelSummary | Channel> {
    return this.request('POST', '/channels', input);
  }
  openConversation(userIds: UserId[]): Promise<ChannelSummary> {
    return this.request('POST', '/conversations', { user_ids: userIds });
  }
  updateChannel(id: ChannelId, patch: { name?: string; topic?: string; archived?: boolean }): Promise<Channel> {
    return this.request('PATCH', `/channels/${id}`, patch);
  }
  joinChannel(id: ChannelId): Promise<unknown> {
    return this.request('POST', `/channels/${id}/join`);
  }
  leaveChannel(id: ChannelId): Promise<unknown> {
    return this.request('POST', `/channels/${id}/leave`);
  }
  members(id: ChannelId): Promise<User[]> {
    return this.request<User[] | { members: User[] }>('GET', `/channels/${id}/members`).then(listOf('members'));
  }
  webhooks(id: ChannelId): Promise<Webhook[]> {
    return this.request<Webhook[]>('GET', `/channels/${id}/webhooks`);
  }
  createWebhook(id: ChannelId, name: string): Promise<CreatedWebhook> {
    return this.request<CreatedWebhook>('POST', `/channels/${id}/webhooks`, { name });
  }
  revokeWebhook(id: number): Promise<unknown> {
    return this.request('DELETE', `/webhooks/${id}`);
  }
  markRead(id: ChannelId, messageId: MessageId): Promise<unknown> {
    return this.request('POST', `/channels/${id}/read`, { message_id: messageId });
  }
  pins(id: ChannelId): Promise<Message[]> {
    return this.request<Message[] | { messages: Message[] }>('GET', `/channels/${id}/pins`).then(listOf('messages'));
  }

  messages(channelId: ChannelId, query: PageQuery = {}): Promise<MessagePage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.toString();
    return this.request('GET', `/channels/${channelId}/messages${search ? `?${search}` : ''}`);
  }
  postMessage(
    channelId: ChannelId,
    input: { text: string; thread_id?: MessageId | null; attachment_ids?: number[]; client_id: string },
  ): Promise<Message> {
    const body: Record<string, unknown> = { text: input.text, client_id: input.client_id };
    if (input.thread_id) body.thread_id = input.thread_id;
    if (input.attachment_ids && input.attachment_ids.length > 0) body.attachment_ids = input.attachment_ids;
    return this.request('POST', `/channels/${channelId}/messages`, body);
  }
  message(id: MessageId): Promise<Message> {
    return this.request('GET', `/messages/${id}`);
  }
  editMessage(id: MessageId, text: string): Promise<Message> {
    return this.request('PATCH', `/messages/${id}`, { text });
  }
  /**
   * Every version of a message. Reading another author's history outside
   * one's own conversations is a compliance read: the server requires (and
   * audits) a `reason`.
   */
  messageVersions(id: MessageId, reason?: string): Promise<MessageVersion[]> {
    const query = reason ? `?reason=${encodeURIComponent(reason)}` : '';
    return this.request<MessageVersion[] | { versions: MessageVersion[] }>('GET', `/messages/${id}/versions${query}`).then(listOf('versions'));
  }
  addMember(id: ChannelId, userId: UserId): Promise<unknown> {
    return this.request('POST', `/channels/${id}/members`, { user_id: userId });
  }
  removeMember(id: ChannelId, userId: UserId): Promise<unknown> {
    return this.request('DELETE', `/channels/${id}/members/${userId}`);
  }
  deleteMessage(id: MessageId): Promise<unknown> {
    return this.request('DELETE', `/messages/${id}`);
  }
  react(id: MessageId, emoji: string, on: boolean): Promise<unknown> {
    return this.request(on ? 'PUT' : 'DELETE', `/messages/${id}/reactions/${encodeURIComponent(emoji)}`);
  }
  pin(id: MessageId, on: boolean): Promise<unknown> {
    return this.request(on ? 'PUT' : 'DELETE', `/messages/${id}/pin`);
  }

  /** Fetches a file with the bearer token; `<img>` cannot send the header itself. */
  async fileBlob(path: string, signal?: AbortSignal): Promise<Blob> {
    let response: Response;
    try {
      response = await fetch(API_PREFIX + path, {
        headers: this.token ? { Authorization: `Bearer ${this.token}` } : {},
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, 'network', 'Cannot reach the server.');
    }
    if (!response.ok) throw await errorFromResponse(response, this);
    return response.blob();
  }
}

export function fileUrl(attachment: Attachment): string {
  return `/files/${attachment.id}`;
}
export function thumbnailUrl(attachment: Attachment): string {
  return `/files/${attachment.id}/thumbnail`;
}
export function hasThumbnail(attachment: Attachment): boolean {
  return attachment.has_thumbnail ?? Boolean(attachment.thumbnail_key);
}

/** Accepts either a bare array or an object wrapping it, as list bodies vary. */
function listOf<T>(key: string): (body: T[] | Record<string, T[]>) => T[] {
  return (body) => (Array.isArray(body) ? body : (body?.[key] ?? []));
}

async function errorFromResponse(response: Response, client: ApiClient): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = response.statusText || 'Request failed.';
  try {
    const body = (await response.json()) as { code?: string; message?: string };
    if (body.code) code = body.code;
    if (body.message) message = body.message;
  } catch {
    // Not JSON (for example a proxy error page); keep the status text.
  }
  const retryAfter = Number(response.headers.get('Retry-After'));
  const effect = client.token ? sessionEffect(response.status, code) : null;
  if (effect === 'sign_out') client.onUnauthenticated?.(code);
  else if (effect) client.onRestricted?.(effect);
  return new ApiError(response.status, code, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null);
}
