import { describe, expect, it } from 'vitest';
import type { Message, WaConversation } from '../api/types';
import { ApiClient } from '../api/client';
import { composedReply, deliveryTicks, inboxActivity, inboxPreview, mergeDelivery, templateReply, whatsAppSizeLimit, windowOpen } from './whatsapp';

describe('WhatsApp delivery status', () => {
  it('only moves forward, and failure always wins', () => {
    expect(mergeDelivery(undefined, 'sent')).toBe('sent');
    expect(mergeDelivery('read', 'sent')).toBe('read');
    expect(mergeDelivery('sent', 'delivered')).toBe('delivered');
    expect(mergeDelivery('delivered', 'failed')).toBe('failed');
    expect(mergeDelivery('failed', 'sent')).toBe('failed');
  });
  it('has ticks with accessible labels', () => {
    expect(deliveryTicks('delivered')).toEqual({ ticks: '✓✓', label: 'Delivered' });
    expect(deliveryTicks('read').label).toBe('Read');
    expect(deliveryTicks('failed').label).toBe('Not delivered');
  });
});

describe('customer-service window', () => {
  it('is open until it closes', () => {
    expect(windowOpen({ window_open: true, window_closes_at: 2000 }, 1000)).toBe(true);
    expect(windowOpen({ window_open: true, window_closes_at: 2000 }, 3000)).toBe(false);
    expect(windowOpen({ window_open: false, window_closes_at: null }, 0)).toBe(false);
  });
});

describe('template replies', () => {
  it('carry body parameters as Meta body components, in order', () => {
    expect(templateReply(' order_update ', 'de ', [' #1234', 'Dienstag'])).toEqual({
      name: 'order_update',
      language: 'de',
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: '#1234' },
            { type: 'text', text: 'Dienstag' },
          ],
        },
      ],
    });
  });
  it('leave the components out when the body has no parameters', () => {
    expect(templateReply('hello_world', 'en_US', [])).toEqual({ name: 'hello_world', language: 'en_US' });
  });
});

describe('inbox rows', () => {
  const base = { id: 9, channel_id: 4, thread_id: null, mentions: [], created_at: 5000, edited_at: null, deleted_at: null, pinned: false, reply_count: 0, last_reply_at: null, reactions: [], attachments: [], client_id: null };
  const message = (overrides: Partial<Message>): Message => ({ ...base, author_id: 7, text: 'Where is\n my order?', ...overrides }) as Message;
  it.each([
    ['the customer writes', message({}), 'Where is my order?'],
    ['I replied', message({ author_id: 1, text: 'On its way' }), 'You: On its way'],
    ['a colleague replied', message({ author_id: 2, text: 'Tomorrow' }), 'Erin: Tomorrow'],
    ['a deleted message', message({ deleted_at: 6000 }), 'Message deleted'],
    ['a photo', message({ text: '', attachments: [{ id: 1, name: 'photo.jpg' } as Message['attachments'][number]] }), '📎 photo.jpg'],
    ['nothing yet', null, 'No messages yet'],
  ])('%s', (_name, last, preview) => {
    expect(inboxPreview(last, 1, 7, (id) => (id === 2 ? 'Erin Ellis' : undefined))).toBe(preview);
  });

  it('orders by the newest message, then the last customer message, then the start', () => {
    const conversation = { created_at: 1, last_inbound_at: 2, last_message: null } as unknown as WaConversation;
    expect(inboxActivity(conversation)).toBe(2);
    expect(inboxActivity({ ...conversation, last_message: message({ created_at: 3 }) })).toBe(3);
    expect(inboxActivity({ ...conversation, last_inbound_at: null })).toBe(1);
  });
});

describe('composed replies', () => {
  it('carry the uploaded files by id in the order attached, and stay plain text without any', () => {
    expect(composedReply('Hello')).toEqual({ text: 'Hello' });
    expect(composedReply('Here you go', [{ id: 7 }, { id: 3 }])).toEqual({ text: 'Here you go', attachment_ids: [7, 3] });
    expect(composedReply('', [{ id: 9 }])).toEqual({ text: '', attachment_ids: [9] });
  });
  it('are posted to the conversation with the files and an idempotency key', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetchStub = async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ message: {}, delivery: {} }), { status: 201, headers: { 'Content-Type': 'application/json' } });
    };
    const original = globalThis.fetch;
    globalThis.fetch = fetchStub as unknown as typeof fetch;
    try {
      await new ApiClient('token-1').waSend(42, composedReply('See attached', [{ id: 5 }, { id: 6 }]), 'client-1');
    } finally {
      globalThis.fetch = original;
    }
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('/api/v1/whatsapp/conversations/42/messages');
    expect(calls[0]!.init.method).toBe('POST');
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({ text: 'See attached', attachment_ids: [5, 6], client_id: 'client-1' });
  });
  it('know WhatsApp size limits by the type a file goes as', () => {
    const megabyte = 1024 * 1024;
    expect(whatsAppSizeLimit('image/png')).toBe(5 * megabyte);
    expect(whatsAppSizeLimit('video/mp4')).toBe(16 * megabyte);
    expect(whatsAppSizeLimit('audio/ogg; codecs=opus')).toBe(16 * megabyte);
    expect(whatsAppSizeLimit('application/pdf')).toBe(100 * megabyte);
    expect(whatsAppSizeLimit('image/gif')).toBe(100 * megabyte);
  });
});
