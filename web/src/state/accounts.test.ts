import { describe, expect, it } from 'vitest';
import type { Message } from '../api/types';
import { erasedMessages, isErased, newPasswordProblem, resetCodeFromLocation, signedOutText, squareCrop } from './accounts';

function message(id: number, author: number, text: string): Message {
  return {
    id,
    channel_id: 1,
    author_id: author,
    thread_id: null,
    text,
    mentions: [],
    created_at: id,
    edited_at: null,
    deleted_at: null,
    pinned: false,
    reply_count: 0,
    last_reply_at: null,
    reactions: [{ emoji: '👍', user_ids: [2] }],
    attachments: [],
    client_id: null,
  };
}

describe('accounts', () => {
  it('recognises erased accounts by their anonymous address', () => {
    expect(isErased({ id: 7, email: 'erased-7@erased.invalid' })).toBe(true);
    expect(isErased({ id: 7, email: 'erased-8@erased.invalid' })).toBe(false);
    expect(isErased({ id: 7, email: 'ann@example.com' })).toBe(false);
  });

  it('blanks only the erased person’s messages', () => {
    const list = [message(1, 5, 'secret'), message(2, 6, 'kept'), message(3, 5, 'more')];
    const changed = erasedMessages(list, 5, 1000);
    expect(changed.map((m) => m.id)).toEqual([1, 3]);
    for (const m of changed) {
      expect(m.text).toBe('');
      expect(m.deleted_at).toBe(1000);
      expect(m.reactions).toEqual([]);
    }
    expect(erasedMessages(changed, 5, 2000)).toEqual([]);
  });

  it('says why someone was signed out', () => {
    expect(signedOutText('deactivated')).toMatch(/deactivated by an administrator/);
    expect(signedOutText(null)).toBeNull();
  });

  it('reads reset codes from links', () => {
    expect(resetCodeFromLocation('/reset-password', '?code=K7QM-2XRT')).toBe('K7QM-2XRT');
    expect(resetCodeFromLocation('/reset-password', '')).toBe('');
    expect(resetCodeFromLocation('/c/1', '?code=x')).toBeNull();
  });

  it('checks new passwords before sending them', () => {
    expect(newPasswordProblem('short', 'short')).toMatch(/10 characters/);
    expect(newPasswordProblem('long enough pass', 'long enough pasS')).toMatch(/differ/);
    expect(newPasswordProblem('long enough pass', 'long enough pass')).toBeNull();
  });

  it('crops the centred square, zoomed and panned', () => {
    expect(squareCrop(900, 300, 1, 0, 0)).toEqual({ x: 300, y: 0, size: 300 });
    expect(squareCrop(900, 300, 1, -1, 0)).toEqual({ x: 0, y: 0, size: 300 });
    expect(squareCrop(900, 300, 1, 1, 0)).toEqual({ x: 600, y: 0, size: 300 });
    expect(squareCrop(400, 400, 2, 0, 0)).toEqual({ x: 100, y: 100, size: 200 });
    expect(squareCrop(400, 400, 2, 5, -5)).toEqual({ x: 200, y: 0, size: 200 });
  });
});
