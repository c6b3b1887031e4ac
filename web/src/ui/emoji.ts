//! A small, curated emoji set bundled with the client (no emoji font or
//! sprite is fetched; the platform's own emoji glyphs draw them).

export interface EmojiEntry {
  emoji: string;
  name: string;
}

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '👀', '✅'];

export const EMOJI: EmojiEntry[] = [
  ['👍', 'thumbs up yes'], ['👎', 'thumbs down no'], ['❤️', 'heart love'], ['😂', 'joy laugh'], ['🎉', 'tada party'],
  ['👀', 'eyes look'], ['✅', 'check done'], ['🙏', 'pray thanks please'], ['🔥', 'fire hot'], ['💯', 'hundred'],
  ['😀', 'grin smile'], ['😃', 'smiley'], ['😄', 'smile happy'], ['😁', 'beaming'], ['😅', 'sweat smile'],
  ['🤣', 'rofl'], ['🙂', 'slight smile'], ['😉', 'wink'], ['😊', 'blush'], ['😍', 'heart eyes'],
  ['😘', 'kiss'], ['😎', 'cool sunglasses'], ['🤔', 'thinking'], ['🤨', 'raised eyebrow'], ['😐', 'neutral'],
  ['😴', 'sleeping'], ['😮', 'open mouth wow'], ['😢', 'cry sad'], ['😭', 'sob'], ['😡', 'angry'],
  ['🤯', 'mind blown'], ['🥳', 'partying'], ['😇', 'innocent'], ['🙃', 'upside down'], ['🤗', 'hug'],
  ['🤝', 'handshake deal'], ['👏', 'clap'], ['🙌', 'raised hands'], ['👋', 'wave hello'], ['💪', 'muscle strong'],
  ['✌️', 'victory peace'], ['🤞', 'fingers crossed'], ['👌', 'ok'], ['☝️', 'point up'], ['👉', 'point right'],
  ['🚀', 'rocket launch'], ['⭐', 'star'], ['✨', 'sparkles'], ['⚡', 'zap'], ['💡', 'idea bulb'],
  ['📌', 'pin'], ['📎', 'paperclip'], ['📅', 'calendar'], ['⏰', 'alarm clock'], ['📈', 'chart up'],
  ['📉', 'chart down'], ['💰', 'money'], ['🧾', 'receipt'], ['📝', 'memo note'], ['📣', 'megaphone'],
  ['❓', 'question'], ['❗', 'exclamation'], ['⚠️', 'warning'], ['🚫', 'no entry'], ['❌', 'cross no'],
  ['☕', 'coffee'], ['🍕', 'pizza'], ['🍰', 'cake'], ['🍻', 'cheers beer'], ['🎂', 'birthday'],
  ['🌞', 'sun'], ['🌧️', 'rain'], ['❄️', 'snow'], ['🌈', 'rainbow'], ['🌍', 'world earth'],
  ['🐛', 'bug'], ['🛠️', 'tools fix'], ['🔒', 'lock secure'], ['🔑', 'key'], ['📦', 'package ship'],
].map(([emoji, name]) => ({ emoji: emoji!, name: name! }));

/**
 * `:shortcode:` names for the bundled emoji, as Slack and GitHub spell the
 * common ones, plus every word of each emoji's description above.
 */
const SHORTCODE_ALIASES: Record<string, string> = {
  '+1': '👍', thumbsup: '👍', '-1': '👎', thumbsdown: '👎', heart: '❤️', joy: '😂', tada: '🎉', eyes: '👀',
  white_check_mark: '✅', heavy_check_mark: '✅', pray: '🙏', fire: '🔥', '100': '💯', grinning: '😀', smiley: '😃',
  smile: '😄', grin: '😁', sweat_smile: '😅', rofl: '🤣', slightly_smiling_face: '🙂', wink: '😉', blush: '😊',
  heart_eyes: '😍', kissing_heart: '😘', sunglasses: '😎', thinking: '🤔', thinking_face: '🤔', neutral_face: '😐',
  sleeping: '😴', open_mouth: '😮', cry: '😢', sob: '😭', rage: '😡', angry: '😡', exploding_head: '🤯',
  partying_face: '🥳', innocent: '😇', upside_down_face: '🙃', hugs: '🤗', handshake: '🤝', clap: '👏',
  raised_hands: '🙌', wave: '👋', muscle: '💪', v: '✌️', crossed_fingers: '🤞', ok_hand: '👌', point_up: '☝️',
  point_right: '👉', rocket: '🚀', star: '⭐', sparkles: '✨', zap: '⚡', bulb: '💡', pushpin: '📌', paperclip: '📎',
  calendar: '📅', alarm_clock: '⏰', chart_with_upwards_trend: '📈', chart_with_downwards_trend: '📉',
  moneybag: '💰', receipt: '🧾', memo: '📝', mega: '📣', question: '❓', exclamation: '❗', warning: '⚠️',
  no_entry_sign: '🚫', x: '❌', coffee: '☕', pizza: '🍕', cake: '🍰', beers: '🍻', birthday: '🎂', sunny: '🌞',
  rain_cloud: '🌧️', snowflake: '❄️', rainbow: '🌈', earth_africa: '🌍', bug: '🐛', hammer_and_wrench: '🛠️',
  lock: '🔒', key: '🔑', package: '📦',
};

export interface Shortcode {
  code: string;
  emoji: string;
}

/** Every shortcode, the well-known spellings first, each code once. */
export const SHORTCODES: Shortcode[] = (() => {
  const codes = new Map<string, string>(Object.entries(SHORTCODE_ALIASES));
  for (const entry of EMOJI) {
    for (const word of entry.name.split(' ')) if (!codes.has(word)) codes.set(word, entry.emoji);
  }
  return [...codes].map(([code, emoji]) => ({ code, emoji }));
})();

const BY_CODE = new Map(SHORTCODES.map((entry) => [entry.code, entry.emoji] as const));

/** The emoji a shortcode names (without colons), if it is known. */
export function emojiForShortcode(code: string): string | undefined {
  return BY_CODE.get(code.toLowerCase());
}

/**
 * Replaces each complete, known `:shortcode:` in `text` with its emoji.
 * Unknown codes and colons in times ("12:30:45") are left alone; so is
 * anything inside `inline code`.
 */
export function replaceShortcodes(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1 ? part : part.replace(/(?<!\w):([a-z0-9_+-]{1,40}):(?!\w)/gi, (whole, code: string) => emojiForShortcode(code) ?? whole)))
    .join('');
}

/**
 * The shortcode being typed just before the caret (`:` then at least two
 * letters, not yet closed), with where it starts; null when there is none.
 */
export function shortcodeAtCaret(textBeforeCaret: string): { query: string; start: number } | null {
  const match = /(^|[\s(]):([a-z0-9_+-]{2,30})$/i.exec(textBeforeCaret);
  if (!match) return null;
  const query = match[2]!;
  return { query: query.toLowerCase(), start: textBeforeCaret.length - query.length - 1 };
}

/** Up to `limit` shortcodes for a query: exact first, then prefixes, then codes containing it. */
export function matchShortcodes(query: string, limit = 8): Shortcode[] {
  const needle = query.toLowerCase();
  const ranked = SHORTCODES.map((entry) => ({ entry, rank: entry.code === needle ? 0 : entry.code.startsWith(needle) ? 1 : entry.code.includes(needle) ? 2 : 3 }))
    .filter((candidate) => candidate.rank < 3)
    .sort((a, b) => a.rank - b.rank || a.entry.code.length - b.entry.code.length);
  const seen = new Set<string>();
  const answer: Shortcode[] = [];
  for (const { entry } of ranked) {
    if (seen.has(entry.emoji)) continue;
    seen.add(entry.emoji);
    answer.push(entry);
    if (answer.length === limit) break;
  }
  return answer;
}
