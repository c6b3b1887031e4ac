import { render } from 'preact';
import { describe, expect, it } from 'vitest';
import { parseInline, parseMarkdown, safeHref } from './parse';
import { isEmojiOnly, Markdown } from './render';

function html(text: string): HTMLElement {
  const container = document.createElement('div');
  render(<Markdown text={text} resolveMention={(handle) => (handle === 'ada' ? { name: 'Ada Lovelace', isMe: true } : null)} />, container);
  return container;
}

describe('markdown rendering', () => {
  it('renders the supported inline styles', () => {
    const root = html('**bold** *italic* _also italic_ ~~gone~~ `x < y`');
    expect(root.querySelector('strong')?.textContent).toBe('bold');
    expect([...root.querySelectorAll('em')].map((node) => node.textContent)).toEqual(['italic', 'also italic']);
    expect(root.querySelector('s')?.textContent).toBe('gone');
    expect(root.querySelector('code')?.textContent).toBe('x < y');
  });

  it('renders code blocks verbatim without interpreting markup inside', () => {
    const root = html('```js\nconst a = **b**;\n<b>hi</b>\n```');
    const pre = root.querySelector('pre');
    expect(pre?.getAttribute('data-language')).toBe('js');
    expect(pre?.textContent).toBe('const a = **b**;\n<b>hi</b>');
    expect(root.querySelector('strong')).toBeNull();
    expect(root.querySelector('b')).toBeNull();
  });

  it('renders quotes, lists and line breaks', () => {
    const root = html('> quoted **text**\n> more\n\n- one\n- two\n\nline1\nline2');
    expect(root.querySelector('blockquote strong')?.textContent).toBe('text');
    expect(root.querySelectorAll('ul li')).toHaveLength(2);
    expect(root.querySelectorAll('p br').length).toBeGreaterThanOrEqual(1);
  });

  it('escapes script tags instead of creating elements', () => {
    const root = html('<script>alert(1)</script><img src=x onerror=alert(1)>');
    expect(root.querySelector('script')).toBeNull();
    expect(root.querySelector('img')).toBeNull();
    expect(root.textContent).toContain('<script>alert(1)</script>');
    expect(root.innerHTML).toContain('&lt;script&gt;');
  });

  it('keeps attribute injection inside the attribute value', () => {
    const root = html('[click](https://example.com/"onmouseover="alert(1))');
    const links = root.querySelectorAll('a');
    for (const link of links) {
      expect(link.getAttribute('onmouseover')).toBeNull();
      expect(link.getAttributeNames().sort()).toEqual(['href', 'rel', 'target']);
    }
    const inText = html('https://example.com/?q="><svg/onload=alert(1)>');
    expect(inText.querySelector('svg')).toBeNull();
    // The bare link stops at '<'; the rest stays literal text.
    expect(inText.querySelector('a')?.getAttribute('href')).toBe('https://example.com/?q=%22%3E');
    expect(inText.textContent).toContain('<svg/onload=alert(1)>');
  });

  it('rejects javascript:, data: and other unsafe links', () => {
    for (const href of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', '//evil.example/x', '/relative']) {
      expect(safeHref(href)).toBeNull();
      const root = html(`[x](${href})`);
      expect(root.querySelector('a')).toBeNull();
    }
    expect(html('javascript:alert(1)').querySelector('a')).toBeNull();
  });

  it('marks links as external and noopener', () => {
    const root = html('see [docs](https://example.com/docs) and https://example.org/a_b.');
    const links = [...root.querySelectorAll('a')];
    expect(links.map((link) => link.getAttribute('href'))).toEqual(['https://example.com/docs', 'https://example.org/a_b']);
    for (const link of links) {
      expect(link.getAttribute('rel')).toContain('noopener');
      expect(link.getAttribute('target')).toBe('_blank');
    }
  });

  it('renders known mentions as chips and leaves unknown ones as text', () => {
    const root = html('hi @ada and @nobody, mail ada@example.com');
    const chips = root.querySelectorAll('.mention');
    expect(chips).toHaveLength(1);
    expect(chips[0]?.textContent).toBe('@Ada Lovelace');
    expect(chips[0]?.classList.contains('mention-me')).toBe(true);
    expect(root.textContent).toContain('@nobody');
    expect(root.textContent).toContain('ada@example.com');
  });

  it('does not treat snake_case or lone markers as emphasis', () => {
    expect(parseInline('snake_case_name')).toEqual([{ type: 'text', text: 'snake_case_name' }]);
    expect(parseInline('2 * 3 * 4')).toEqual([{ type: 'text', text: '2 * 3 * 4' }]);
    expect(parseInline('\\*not italic\\*')).toEqual([{ type: 'text', text: '*not italic*' }]);
  });

  it('survives deeply nested hostile input', () => {
    const deep = '>'.repeat(200) + ' x ' + '**'.repeat(500);
    expect(() => parseMarkdown(deep)).not.toThrow();
    expect(html(deep).textContent).toContain('x');
  });

  it('recognises emoji-only messages', () => {
    expect(isEmojiOnly('🎉')).toBe(true);
    expect(isEmojiOnly('👍🏽 ❤️')).toBe(true);
    expect(isEmojiOnly('hi 🎉')).toBe(false);
    expect(isEmojiOnly('123')).toBe(false);
  });
});
