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
