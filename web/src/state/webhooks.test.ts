import { describe, expect, it } from 'vitest';
import type { Webhook } from '../api/types';
import { canRevokeWebhook, webhookUrl } from './webhooks';

const hook: Webhook = { id: 1, name: 'CI', channel_id: 2, creator_id: 7, author_id: 9, created_at: 0 };

describe('webhooks', () => {
  it('builds the full URL from the server origin', () => {
    expect(webhookUrl('https://chat.example.com', '/hooks/abc')).toBe('https://chat.example.com/hooks/abc');
    expect(webhookUrl('https://chat.example.com/', '/hooks/abc')).toBe('https://chat.example.com/hooks/abc');
    expect(webhookUrl('https://chat.example.com', 'https://other.example/hooks/abc')).toBe('https://other.example/hooks/abc');
  });

  it('lets the creator and admins revoke', () => {
    expect(canRevokeWebhook(hook, 7, 'member')).toBe(true);
    expect(canRevokeWebhook(hook, 8, 'member')).toBe(false);
    expect(canRevokeWebhook(hook, 8, 'admin')).toBe(true);
    expect(canRevokeWebhook(hook, 8, 'owner')).toBe(true);
    expect(canRevokeWebhook(hook, undefined, undefined)).toBe(false);
  });
});
