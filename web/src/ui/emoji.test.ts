import { describe, expect, it } from 'vitest';
import { emojiForShortcode, matchShortcodes, replaceShortcodes, shortcodeAtCaret } from './emoji';

describe('shortcodes', () => {
  it.each([
    [':smile:', '😄'],
    ['thanks :+1: :tada:', 'thanks 👍 🎉'],
    [':smile::tada:', '😄🎉'],
    ['we meet at 12:30:45 today', 'we meet at 12:30:45 today'],
    [':nosuchcode: stays', ':nosuchcode: stays'],
    ['code `:smile:` stays, :fire: converts', 'code `:smile:` stays, 🔥 converts'],
    ['a:smile:b', 'a:smile:b'],
    [':SMILE:', '😄'],
  ])('%j becomes %j', (input, expected) => {
    expect(replaceShortcodes(input)).toBe(expected);
  });

  it('knows the description words as codes too', () => {
    expect(emojiForShortcode('party')).toBe('🎉');
    expect(emojiForShortcode('nope')).toBeUndefined();
  });

  it.each([
    ['hello :sm', { query: 'sm', start: 6 }],
    [':th', { query: 'th', start: 0 }],
    ['hello :s', null],
    ['time 12:30', null],
    ['done :smile: ', null],
  ])('the code typed before the caret in %j', (text, expected) => {
    expect(shortcodeAtCaret(text)).toEqual(expected);
  });

  it('ranks the exact code first, then prefixes, one entry per emoji', () => {
    const matches = matchShortcodes('smile');
    expect(matches[0]).toEqual({ code: 'smile', emoji: '😄' });
    expect(new Set(matches.map((match) => match.emoji)).size).toBe(matches.length);
    expect(matchShortcodes('thu').map((match) => match.emoji)).toContain('👍');
    expect(matchShortcodes('zzzz')).toEqual([]);
  });
});
