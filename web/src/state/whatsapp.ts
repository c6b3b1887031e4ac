//! WhatsApp customer inbox rules: the reply window and delivery ticks.

import type { Attachment, DeliveryStatus, Message, Millis, UserId, WaConversation, WaReply } from '../api/types';

const ORDER: DeliveryStatus[] = ['queued', 'sent', 'delivered', 'read'];

/**
 * Merges a delivery status into what is known: statuses only move forward
 * (a late "sent" never undoes "read"), except that "failed" always wins.
 */
export function mergeDelivery(known: DeliveryStatus | undefined, next: DeliveryStatus): DeliveryStatus {
  if (!known || next === 'failed' || known === 'received') return next;
  if (known === 'failed') return known;
  return ORDER.indexOf(next) >= ORDER.indexOf(known) ? next : known;
}

/** Tick marks and the accessible label for a reply's delivery status. */
export function deliveryTicks(status: DeliveryStatus): { ticks: string; label: string } {
  switch (status) {
    case 'queued':
      return { ticks: '🕓', label: 'Sending to WhatsApp' };
    case 'sent':
      return { ticks: '✓', label: 'Sent' };
    case 'delivered':
      return { ticks: '✓✓', label: 'Delivered' };
    case 'read':
      return { ticks: '✓✓', label: 'Read' };
    case 'failed':
      return { ticks: '!', label: 'Not delivered' };
    default:
      return { ticks: '', label: 'Received' };
  }
}

/** Whether free text may be sent now (the 24-hour customer-service window). */
export function windowOpen(conversation: Pick<WaConversation, 'window_open' | 'window_closes_at'>, now = Date.now()): boolean {
  if (!conversation.window_open) return false;
  return conversation.window_closes_at === null || conversation.window_closes_at > now;
}

/**
 * The template part of a reply: name and language as typed (trimmed), and
 * the body parameters {{1}}, {{2}}, … as Meta's body component, left out
 * when there are none.
 */
export function templateReply(name: string, language: string, parameters: string[]): Extract<WaReply, { template: unknown }>['template'] {
  const template = { name: name.trim(), language: language.trim() };
  if (parameters.length === 0) return template;
  return { ...template, components: [{ type: 'body', parameters: parameters.map((text) => ({ type: 'text', text: text.trim() })) }] };
}

/**
 * A free-text reply from the composer: the text, and the ids of the files
 * uploaded for it in the order they were attached (left out when there are
 * none, so a plain reply stays `{text}`).
 */
export function composedReply(text: string, attachments: Pick<Attachment, 'id'>[] = []): Extract<WaReply, { text: string }> {
  if (attachments.length === 0) return { text };
  return { text, attachment_ids: attachments.map((attachment) => attachment.id) };
}

/** WhatsApp's size limits in bytes by the type a file goes as (images 5 MB, video and audio 16 MB, documents 100 MB), as the server checks them. */
export function whatsAppSizeLimit(contentType: string): number {
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  const megabyte = 1024 * 1024;
  if (mime === 'image/jpeg' || mime === 'image/png') return 5 * megabyte;
  if (['video/mp4', 'video/3gpp', 'audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'].includes(mime)) return 16 * megabyte;
  return 100 * megabyte;
}

/** The inbox row's preview of a conversation's newest message: who wrote it and a line of it. */
export function inboxPreview(message: Message | null | undefined, me: UserId | undefined, customerId: UserId, nameOf: (id: UserId) => string | undefined = () => undefined): string {
  if (!message) return 'No messages yet';
  if (message.deleted_at !== null) return 'Message deleted';
  const who = message.author_id === me ? 'You: ' : message.author_id === customerId ? '' : `${nameOf(message.author_id)?.split(' ')[0] ?? 'Staff'}: `;
  const text = message.text.replace(/\s+/g, ' ').trim();
  const body = text || (message.attachments.length > 0 ? `📎 ${message.attachments.length === 1 ? (message.attachments[0]?.name ?? 'Attachment') : `${message.attachments.length} attachments`}` : '');
  return `${who}${body}`;
}

/** When the inbox orders a conversation: its newest message, else the customer's last, else its start. */
export function inboxActivity(conversation: WaConversation): Millis {
  return conversation.last_message?.created_at ?? conversation.last_inbound_at ?? conversation.created_at;
}
