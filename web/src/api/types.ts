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
  | { type: 'hello'; user: User; position: number; heartbeat_ms?: number }
  | { type: 'event'; position: number; event: EventPayload }
  | { type: 'caught_up'; position: number }
  | { type: 'typing'; channel_id: ChannelId; user_id: UserId; thread_id?: MessageId | null }
  | { type: 'presence'; user_id: UserId; status: 'online' | 'offline' }
  | { type: 'ack'; client_id: string; message: Message }
  | { type: 'nack'; client_id: string; code: string; message: string }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string };

export type ClientFrame =
  | { type: 'typing'; channel_id: ChannelId; thread_id?: MessageId | null }
  | { type: 'pong' }
  | { type: 'ping' };
