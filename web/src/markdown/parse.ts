//! A small Markdown dialect for chat, parsed into a tree. The tree holds
//! only text and a fixed set of node kinds, so rendering it can never
//! produce raw HTML: there is no node that carries markup.
//!
//! Supported: paragraphs with line breaks, ``` code blocks ```, > quotes,
//! - lists, **bold**, *italic* / _italic_, ~~strike~~, `code`, [text](url),
//! bare http(s) links, @mentions, and backslash escapes.

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'strong' | 'em' | 'strike'; children: Inline[] }
  | { type: 'code'; text: string }
  | { type: 'link'; href: string; children: Inline[] }
  | { type: 'mention'; handle: string }
  | { type: 'break' };

export type Block =
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'code_block'; language: string; text: string }
  | { type: 'quote'; children: Block[] }
  | { type: 'list'; ordered: boolean; items: Inline[][] };

const FENCE = /^\s*```/;
const QUOTE = /^\s*>\s?/;
const BULLET = /^\s*[-*•]\s+/;
const NUMBERED = /^\s*\d{1,3}[.)]\s+/;

/** Nesting beyond this is rendered as plain text; it keeps hostile input from blowing the stack. */
const MAX_DEPTH = 8;

export function parseMarkdown(source: string, depth = 0): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let paragraph: string[] = [];

  const flushParagraph = () => {
    if (paragraph.length === 0) return;
    blocks.push({ type: 'paragraph', children: parseInlineLines(paragraph, depth) });
    paragraph = [];
  };

  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!;
    if (FENCE.test(line)) {
      flushParagraph();
      const opener = line.trim().slice(3);
      // A fence that opens and closes on the same line: ```code```.
      if (opener.length >= 3 && opener.endsWith('```')) {
        blocks.push({ type: 'code_block', language: '', text: opener.slice(0, -3) });
        continue;
      }
      const language = /^[\w+#.-]{0,20}$/.test(opener.trim()) ? opener.trim() : '';
      const body: string[] = language || opener.trim() === '' ? [] : [opener];
      index += 1;
      while (index < lines.length && !FENCE.test(lines[index]!)) {
        body.push(lines[index]!);
        index += 1;
      }
      blocks.push({ type: 'code_block', language, text: body.join('\n') });
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      flushParagraph();
      const quoted: string[] = [];
      while (index < lines.length && QUOTE.test(lines[index]!)) {
        quoted.push(lines[index]!.replace(QUOTE, ''));
        index += 1;
      }
      index -= 1;
      blocks.push({ type: 'quote', children: parseMarkdown(quoted.join('\n'), depth + 1) });
      continue;
    }
    if (BULLET.test(line) || NUMBERED.test(line)) {
      flushParagraph();
      const ordered = NUMBERED.test(line);
      const pattern = ordered ? NUMBERED : BULLET;
      const items: Inline[][] = [];
      while (index < lines.length && pattern.test(lines[index]!)) {
        items.push(parseInline(lines[index]!.replace(pattern, ''), depth));
        index += 1;
      }
      index -= 1;
      blocks.push({ type: 'list', ordered, items });
      continue;
    }
    if (line.trim() === '') {
      flushParagraph();
      continue;
    }
    paragraph.push(line);
  }
  flushParagraph();
  return blocks;
}

function parseInlineLines(lines: string[], depth: number): Inline[] {
  const result: Inline[] = [];
  lines.forEach((line, index) => {
    if (index > 0) result.push({ type: 'break' });
    result.push(...parseInline(line, depth));
  });
  return result;
}

const URL_START = /^https?:\/\/[^\s<]+/i;
const MENTION = /^@([a-z0-9][a-z0-9._-]{0,63})/i;
const ESCAPABLE = '\\`*_~[]()@>#-.!';

export function parseInline(text: string, depth = 0): Inline[] {
  const nodes: Inline[] = [];
  let buffer = '';
  const flush = () => {
    if (buffer) nodes.push({ type: 'text', text: buffer });
    buffer = '';
  };
  const nested = (inner: string): Inline[] => (depth < MAX_DEPTH ? parseInline(inner, depth + 1) : [{ type: 'text', text: inner }]);

  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    const rest = text.slice(index);
    const previous = index > 0 ? text[index - 1]! : '';

    if (char === '\\' && index + 1 < text.length && ESCAPABLE.includes(text[index + 1]!)) {
      buffer += text[index + 1];
      index += 2;
      continue;
    }
    if (char === '`') {
      const end = text.indexOf('`', index + 1);
      if (end > index + 1) {
        flush();
        nodes.push({ type: 'code', text: text.slice(index + 1, end) });
        index = end + 1;
        continue;
      }
    }
    if (rest.startsWith('**') || rest.startsWith('__')) {
      const marker = rest.slice(0, 2);
      const end = findClosing(text, marker, index + 2);
      if (end !== -1 && (marker === '**' || isBoundary(text[end + 2]))) {
        flush();
        nodes.push({ type: 'strong', children: nested(text.slice(index + 2, end)) });
        index = end + 2;
        continue;
      }
    }
    if (rest.startsWith('~~')) {
      const end = findClosing(text, '~~', index + 2);
      if (end !== -1) {
        flush();
        nodes.push({ type: 'strike', children: nested(text.slice(index + 2, end)) });
        index = end + 2;
        continue;
      }
    }
    if ((char === '*' || char === '_') && !/\s/.test(text[index + 1] ?? ' ')) {
      // Underscores inside words (snake_case) are not emphasis.
      if (char === '*' || isBoundary(previous)) {
        const end = findClosing(text, char, index + 1);
        if (end !== -1 && !/\s/.test(text[end - 1]!) && (char === '*' || isBoundary(text[end + 1]))) {
          flush();
          nodes.push({ type: 'em', children: nested(text.slice(index + 1, end)) });
          index = end + 1;
          continue;
        }
      }
    }
    if (char === '[') {
      const link = /^\[([^\]\n]{1,500})\]\(([^()\s]{1,2000})\)/.exec(rest);
      if (link) {
        const href = safeHref(link[2]!);
        if (href) {
          flush();
          nodes.push({ type: 'link', href, children: nested(link[1]!) });
          index += link[0].length;
          continue;
        }
      }
    }
    if ((char === 'h' || char === 'H') && isBoundary(previous)) {
      const match = URL_START.exec(rest);
      if (match) {
        const raw = trimUrlPunctuation(match[0]);
        const href = safeHref(raw);
        if (href) {
          flush();
          nodes.push({ type: 'link', href, children: [{ type: 'text', text: raw }] });
          index += raw.length;
          continue;
        }
      }
    }
    if (char === '@' && isBoundary(previous)) {
      const match = MENTION.exec(rest);
      if (match) {
        const handle = match[1]!.replace(/[.-]+$/, '');
        flush();
        nodes.push({ type: 'mention', handle: handle.toLowerCase() });
        index += handle.length + 1;
        continue;
      }
    }
    buffer += char;
    index += 1;
  }
  flush();
  return nodes;
}

/**
 * Answers a normalised URL when it is safe to put in href: absolute http,
 * https or mailto only. Everything else (javascript:, data:, vbscript:,
 * relative paths, protocol-relative //host) is refused.
 */
export function safeHref(raw: string): string | null {
  const candidate = raw.trim();
  // Control characters and whitespace are how scheme filters get bypassed ("java\tscript:").
  if (!candidate || /[\u0000-\u0020\u007f-\u009f]/.test(candidate)) return null;
  if (!/^(https?:\/\/|mailto:)/i.test(candidate)) return null;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'mailto:') return null;
  return url.href;
}

function findClosing(text: string, marker: string, from: number): number {
  const end = text.indexOf(marker, from);
  return end > from ? end : -1;
}

function isBoundary(char: string | undefined): boolean {
  return char === undefined || char === '' || !/[\p{L}\p{N}_]/u.test(char);
}

function trimUrlPunctuation(url: string): string {
  let result = url;
  while (/[.,;:!?'"]$/.test(result)) result = result.slice(0, -1);
  // Keep a closing parenthesis only when the URL opened one (Wikipedia-style links).
  while (result.endsWith(')') && (result.match(/\(/g)?.length ?? 0) < (result.match(/\)/g)?.length ?? 0)) {
    result = result.slice(0, -1);
  }
  return result;
}

/** The handles mentioned in a text, for the composer. */
export function mentionedHandles(blocks: Block[]): string[] {
  const handles = new Set<string>();
  const visitInline = (nodes: Inline[]) => {
    for (const node of nodes) {
      if (node.type === 'mention') handles.add(node.handle);
      else if ('children' in node) visitInline(node.children);
    }
  };
  const visitBlocks = (list: Block[]) => {
    for (const block of list) {
      if (block.type === 'paragraph') visitInline(block.children);
      else if (block.type === 'quote') visitBlocks(block.children);
      else if (block.type === 'list') block.items.forEach(visitInline);
    }
  };
  visitBlocks(blocks);
  return [...handles];
}
