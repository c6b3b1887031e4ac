//! Wire types of the Conclave REST and WebSocket API (docs/api.md).
//! Only the transport shapes live here; client-side state has its own types.

export type UserId = number;
export type ChannelId = number;
export type MessageId = number;
export type Millis = number;

export type Role = 'owner' | 'admin' | 'compliance' | 'member' | 'guest';

export interface User {
  id: UserId;
  email: string;
  handle: string;
  name: string;
  role: Role;
  active: boolean;
  created_at: Millis;
  deactivated_at: Millis | null;
}

export type ChannelKind = 'public' | 'private' | 'direct' | 'group';

export interface Channel {
  id: ChannelId;
  kind: ChannelKind;
  name: string;
  topic: string;
  archived: boolean;
  read_only: boolean;
  created_by: UserId;
  created_at: Millis;
}

export interface ChannelSummary {
  channel: Channel;
  member_ids: UserId[];
  last_read_message_id: MessageId;
  last_message_id: MessageId;
  unread_count: number;
  mention_count: number;
}

export interface BrowseEntry {
  channel: Channel;
  member_count: number;
  joined: boolean;
}

export interface Reaction {
  emoji: string;
  user_ids: UserId[];
}

export interface Attachment {
  id: number;
  name: string;
  content_type: string;
  size: number;
  sha256?: string;
  width?: number | null;
  height?: number | null;
  has_thumbnail?: boolean;
  thumbnail_key?: string | null;
  created_at?: Millis;
}

/** A prior version of an edited message (GET /messages/{id}/versions). */
export interface MessageVersion {
  message_id: MessageId;
  version: number;
  text: string;
  created_at: Millis;
  author_id: UserId;
}

export interface Message {
  id: MessageId;
  channel_id: ChannelId;
  author_id: UserId;
  thread_id: MessageId | null;
  text: string;
  mentions: UserId[];
  created_at: Millis;
  edited_at: Millis | null;
  deleted_at: Millis | null;
  pinned: boolean;
  reply_count: number;
  last_reply_at: Millis | null;
  reactions: Reaction[];
  attachments: Attachment[];
  client_id: string | null;
}

export interface MessagePage {
  messages: Message[];
  has_more_before: boolean;
  has_more_after: boolean;
}

export interface LoginResponse {
  token: string;
  user: User;
  mfa_enrolment_required?: boolean;
  policy_acceptance_required?: boolean;
}

export interface Security {
  mfa_enabled: boolean;
  mfa_pending: boolean;
  recovery_codes_left: number;
  mfa_required: boolean;
  mfa_enrolment_required: boolean;
  policy_acceptance_required: boolean;
  policy_version: number | null;
  /** The server's upload limit (`limits.max_upload_bytes`), where the server says it. */
  max_upload_bytes?: number;
}

export interface Policy {
  version: number;
  text: string;
  published_at: Millis;
  published_by: UserId | null;
  accepted_at: Millis | null;
}

export interface TotpEnrolment {
  secret: string;
  otpauth_uri: string;
  algorithm?: string;
  digits?: number;
  period?: number;
}

export interface Session {
  id: number;
  created_at?: Millis;
  last_used_at?: Millis | null;
  expires_at?: Millis | null;
  user_agent?: string | null;
  address?: string | null;
  current?: boolean;
  [key: string]: unknown;
}

export interface SsoConfig {
  enabled: boolean;
  button_label?: string;
  start_url?: string;
}

export interface AdminUser extends User {
  expires_at?: Millis | null;
  /** Sign-in is refused until then after too many failed attempts. */
  locked_until?: Millis | null;
  departments?: unknown[];
  teams?: unknown[];
}

export type EventPayload =
  | { kind: 'message_created'; message: Message }
  | { kind: 'message_edited'; message: Message; previous_text: string }
  | {
      kind: 'message_deleted';
      channel_id: ChannelId;
      message_id: MessageId;
      thread_id: MessageId | null;
      deleted_by: UserId;
    }
  | { kind: 'reaction_added' | 'reaction_removed'; channel_id: ChannelId; message_id: MessageId; user_id: UserId; emoji: string }
  | { kind: 'message_pinned'; channel_id: ChannelId; message_id: MessageId; pinned: boolean; actor_id: UserId }
  | { kind: 'channel_created'; channel: Channel; member_ids: UserId[] }
  | { kind: 'channel_updated'; channel: Channel; actor_id: UserId }
  | { kind: 'member_joined' | 'member_left'; channel_id: ChannelId; user_id: UserId; actor_id: UserId }
  | { kind: 'read_marker'; channel_id: ChannelId; message_id: MessageId }
  | { kind: 'user_deactivated'; user: User };

export type ServerFrame =
  | { type: 'hello'; user: User; position: number; heartbeat_ms?: number; online_user_ids?: UserId[] }
  | { type: 'presence_snapshot'; online_user_ids: UserId[] }
  | { type: 'whatsapp_status'; channel_id: ChannelId; message_id: MessageId; status: DeliveryStatus; error?: string | null; updated_at: Millis }
  | { type: 'event'; position: number; event: EventPayload }
  | { type: 'caught_up'; position: number }
  /** Our `since` was beyond the server's newest position (e.g. it was restored from a backup): positions start again from `position`. */
  | { type: 'reset'; position: number; requested_since: number }
  | { type: 'typing'; channel_id: ChannelId; user_id: UserId; thread_id?: MessageId | null }
  | { type: 'presence'; user_id: UserId; status: 'online' | 'offline' }
  | { type: 'ack'; client_id: string; message: Message }
  | { type: 'nack'; client_id: string; code: string; message: string }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string }
  | { type: 'user_erased'; user: User }
  | { type: 'messages_purged'; messages: number }
  | { type: 'profile_updated'; user: User; profile: { user_id: UserId; status: string; avatar_version: number | null } };

export type ClientFrame =
  | { type: 'typing'; channel_id: ChannelId; thread_id?: MessageId | null }
  | { type: 'presence_subscribe'; user_ids: UserId[] }
  | { type: 'pong' }
  | { type: 'ping' };

export interface AuditEntry {
  id: number;
  at: Millis;
  actor_id: UserId | null;
  actor_label: string;
  action: string;
  target_kind: string;
  target_id: string | null;
  address: string | null;
  before?: unknown;
  after?: unknown;
}

export interface WaNumber {
  phone_number_id: string;
  staff_ids: UserId[];
}

export interface WaConversation {
  channel_id: ChannelId;
  phone_number_id: string;
  customer: { user_id: UserId; name: string; wa_id: string; phone: string };
  assignee_id: UserId | null;
  last_inbound_at: Millis | null;
  window_open: boolean;
  window_closes_at: Millis | null;
  created_at: Millis;
  summary: ChannelSummary | null;
  /** The newest message outside threads, as members see it (older servers omit it). */
  last_message?: Message | null;
}

/** A template component as Meta defines it; Conclave fills body parameters. */
export interface WaTemplateComponent {
  type: 'body';
  parameters: { type: 'text'; text: string }[];
}

/**
 * A reply: free text inside the 24-hour window, with files uploaded for the
 * conversation's channel (sent in this order, the text as the first one's
 * caption), otherwise a template.
 */
export type WaReply = { text: string; attachment_ids?: Attachment['id'][] } | { template: { name: string; language: string; components?: WaTemplateComponent[] } };

export type DeliveryStatus = 'received' | 'queued' | 'sent' | 'delivered' | 'read' | 'failed';

export interface WaDelivery {
  message_id: MessageId;
  wamid: string | null;
  direction: string;
  kind: string;
  status: DeliveryStatus;
  error: string | null;
  attempts: number;
  updated_at: Millis;
}

/** A Slack-compatible incoming webhook, without its token. */
export interface Webhook {
  id: number;
  name: string;
  channel_id: ChannelId;
  creator_id: UserId;
  /** The bot user the hook's messages are authored by. */
  author_id: UserId;
  created_at: Millis;
}

/** A new hook: `url` (a path, `/hooks/{token}`) and `token` are shown only once. */
export interface CreatedWebhook extends Webhook {
  url: string;
  token: string;
}
