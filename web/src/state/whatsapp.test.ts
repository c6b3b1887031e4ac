import { describe, expect, it } from 'vitest';
import type { Message, WaConversation } from '../api/types';
import { deliveryTicks, inboxActivity, inboxPreview, mergeDelivery, templateReply, windowOpen } from './whatsapp';

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
