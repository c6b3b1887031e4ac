import { describe, expect, it } from 'vitest';
import { deliveryTicks, mergeDelivery, templateReply, windowOpen } from './whatsapp';

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
