// Property-based fuzzing of the Markdown parser and renderer (fast-check):
// the web client's half of the fuzz targets in docs/fuzzing.md. Message
// text comes from anyone (other users, webhooks, WhatsApp imports), so for
// every input the parser and renderer must not throw, must produce only the
// fixed set of elements with safe links, and must show only text the input
// contained.
//
// The ordinary `npm run test:unit` runs a few hundred inputs per property.
// `scripts/fuzz` runs the long form: MARKDOWN_FUZZ_SECONDS=N spends N
// seconds on each property; MARKDOWN_FUZZ_SEED=S replays a reported seed.

import fc from 'fast-check';
import { render } from 'preact';
import { describe, expect, it } from 'vitest';
import { parseMarkdown, type Block, type Inline } from './parse';
import { Markdown } from './render';

const fuzzSeconds = Number(process.env.MARKDOWN_FUZZ_SECONDS ?? '0');
const seed = process.env.MARKDOWN_FUZZ_SEED === undefined ? undefined : Number(process.env.MARKDOWN_FUZZ_SEED);
const longRun = fuzzSeconds > 0;
const runOptions = {
  numRuns: longRun ? Number.MAX_SAFE_INTEGER : 300,
  ...(seed === undefined ? {} : { seed }),
  ...(longRun ? { plugins: [fc.interruptAfterTimeLimit(fuzzSeconds * 1000)] } : {}),
};
const testTimeoutMs = longRun ? fuzzSeconds * 1000 + 60_000 : 30_000;

/** Elements the renderer may create; anything else means markup leaked through. */
const ALLOWED_TAGS = new Set(['DIV', 'P', 'BR', 'STRONG', 'EM', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'A', 'SPAN']);
const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** Pieces that make the parser take its interesting branches, glued at random. */
const MARKDOWN_PIECES = [
  '**', '__', '*', '_', '~~', '`', '```', '```js', '\n', '\n\n', '\r\n', '\r', '> ', '>', '- ', '* ', '• ', '1. ', '2) ',
  '[', ']', '(', ')', '](', '\\', '@', '@ada', '@Ada.', 'https://example.com/a_b(c)', 'http://x.io/?q=1&r=<2>', 'H',
  'mailto:ops@example.com', 'javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:x', 'data:text/html,<script>x</script>',
  '//evil.example', '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '"', "'", '<', '>', '&amp;', ' ', '\t',
  'word', 'snake_case_word', 'é', 'Σ', '😀', '\u0000', '\u200e', '\ufeff',
];
const markdownish = fc.array(fc.constantFrom(...MARKDOWN_PIECES), { maxLength: 40 }).map((pieces) => pieces.join(''));
/** `[text](href)` with hostile and harmless schemes, inside other text. */
const SCHEMES = ['javascript:', 'JAVASCRIPT:', ' javascript:', 'java\nscript:', 'data:', 'vbscript:', 'file:', '//', '/', 'http://', 'https://', 'mailto:', 'HTTPS://', 'http:/'];
const linkish = fc
  .tuple(markdownish, fc.string({ maxLength: 12 }), fc.constantFrom(...SCHEMES), fc.string({ maxLength: 20 }), markdownish)
  .map(([before, label, scheme, rest, after]) => `${before}[${label || 'x'}](${scheme}${rest})${after}`);
const anyText = fc.oneof(markdownish, linkish, fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 300 }));

function renderToContainer(text: string): HTMLElement {
  const container = document.createElement('div');
  render(<Markdown text={text} />, container);
  return container;
}

/** A piece of the text the tree shows, and whether it may differ from the input in ASCII case (mentions). */
interface Shown {
  text: string;
  caseless: boolean;
}

function shownByBlocks(blocks: Block[], out: Shown[]): Shown[] {
  for (const block of blocks) {
    if (block.type === 'paragraph') shownByInlines(block.children, out);
    else if (block.type === 'code_block') out.push({ text: block.text, caseless: false });
    else if (block.type === 'quote') shownByBlocks(block.children, out);
    else for (const item of block.items) shownByInlines(item, out);
  }
  return out;
}

function shownByInlines(nodes: Inline[], out: Shown[]) {
  for (const node of nodes) {
    if (node.type === 'text' || node.type === 'code') out.push({ text: node.text, caseless: false });
    else if (node.type === 'mention') out.push({ text: `@${node.handle}`, caseless: true });
    else if (node.type !== 'break') shownByInlines(node.children, out);
  }
}

/** Whether every character shown appears in the input, in order (a greedy subsequence test). */
function drawnFrom(shown: Shown[], input: string): boolean {
  const chars = [...input];
  let at = 0;
  for (const piece of shown) {
    for (const char of piece.text) {
      const matches = (candidate: string) => (piece.caseless ? candidate.toLowerCase() === char.toLowerCase() : candidate === char);
      while (at < chars.length && !matches(chars[at]!)) at += 1;
      if (at === chars.length) return false;
      at += 1;
    }
  }
  return true;
}

function check<Ts extends [unknown]>(property: fc.IProperty<Ts>) {
  const details = fc.check(property, runOptions);
  if (longRun) console.log(`markdown fuzz: ${details.numRuns} inputs, seed ${details.seed}, ${details.failed ? 'FAILED' : 'no failure'}`);
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${fc.defaultReportMessage(details) ?? 'a property failed'}\n${cause}`);
  }
}

describe('markdown fuzzing', () => {
  it(
    'parses and renders any text without throwing, to allowed elements and safe links only',
    () => {
      check(
        fc.property(anyText, (text) => {
          const root = renderToContainer(text);
          for (const element of root.querySelectorAll('*')) {
            expect(ALLOWED_TAGS.has(element.tagName), `<${element.tagName}> from ${JSON.stringify(text)}`).toBe(true);
            for (const name of element.getAttributeNames()) {
              expect(name.toLowerCase().startsWith('on'), `${name}= from ${JSON.stringify(text)}`).toBe(false);
            }
          }
          for (const link of root.querySelectorAll('a')) {
            const href = link.getAttribute('href') ?? '';
            expect(SAFE_PROTOCOLS.has(new URL(href).protocol), `href ${href} from ${JSON.stringify(text)}`).toBe(true);
            expect(link.getAttributeNames().sort()).toEqual(['href', 'rel', 'target']);
          }
        }),
      );
    },
    testTimeoutMs,
  );

  it(
    'renders exactly the text of the tree, and the tree shows only text the input contained',
    () => {
      check(
        fc.property(anyText, (text) => {
          const blocks = parseMarkdown(text);
          const shown = shownByBlocks(blocks, []);
          expect(renderToContainer(text).textContent).toBe(shown.map((piece) => piece.text).join(''));
          const normalized = text.replace(/\r\n?/g, '\n');
          expect(drawnFrom(shown, normalized), `shown ${JSON.stringify(shown)} from ${JSON.stringify(text)}`).toBe(true);
        }),
      );
    },
    testTimeoutMs,
  );

  it(
    'shows text without markup exactly, one line after another',
    () => {
      const plainLine = fc.string({ unit: fc.constantFrom(...'abcXYZ019 ,;é'.split('')), maxLength: 40 });
      check(
        fc.property(fc.array(plainLine, { maxLength: 8 }), (lines) => {
          const text = lines.join('\n');
          const visible = lines.filter((line) => line.trim() !== '').join('');
          expect(renderToContainer(text).textContent).toBe(visible);
        }),
      );
    },
    testTimeoutMs,
  );
});
