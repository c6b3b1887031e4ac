//! Renders the Markdown tree as Preact elements. Text is only ever passed
//! as element children or attribute values, which Preact escapes; this file
//! must never use dangerouslySetInnerHTML.

import type { ComponentChildren } from 'preact';
import { parseMarkdown, type Block, type Inline } from './parse';

export interface MentionResolver {
  /** Display name for a handle, or null when no such user is known. */
  (handle: string): { name: string; isMe: boolean } | null;
}

export function Markdown({ text, resolveMention }: { text: string; resolveMention?: MentionResolver }) {
  const blocks = parseMarkdown(text);
  return <div class="md">{renderBlocks(blocks, resolveMention ?? (() => null))}</div>;
}

function renderBlocks(blocks: Block[], resolve: MentionResolver): ComponentChildren {
  return blocks.map((block, index) => {
    switch (block.type) {
      case 'paragraph':
        return <p key={index}>{renderInline(block.children, resolve)}</p>;
      case 'code_block':
        return (
          <pre key={index} class="md-pre" data-language={block.language || undefined}>
            <code>{block.text}</code>
          </pre>
        );
      case 'quote':
        return <blockquote key={index}>{renderBlocks(block.children, resolve)}</blockquote>;
      case 'list': {
        const items = block.items.map((item, itemIndex) => <li key={itemIndex}>{renderInline(item, resolve)}</li>);
        return block.ordered ? <ol key={index}>{items}</ol> : <ul key={index}>{items}</ul>;
      }
    }
  });
}

function renderInline(nodes: Inline[], resolve: MentionResolver): ComponentChildren {
  return nodes.map((node, index) => {
    switch (node.type) {
      case 'text':
        return node.text;
      case 'break':
        return <br key={index} />;
      case 'strong':
        return <strong key={index}>{renderInline(node.children, resolve)}</strong>;
      case 'em':
        return <em key={index}>{renderInline(node.children, resolve)}</em>;
      case 'strike':
        return <s key={index}>{renderInline(node.children, resolve)}</s>;
      case 'code':
        return <code key={index}>{node.text}</code>;
      case 'link':
        return (
          <a key={index} href={node.href} target="_blank" rel="noopener noreferrer nofollow">
            {renderInline(node.children, resolve)}
          </a>
        );
      case 'mention': {
        const user = resolve(node.handle);
        if (!user) return `@${node.handle}`;
        return (
          <span key={index} class={user.isMe ? 'mention mention-me' : 'mention'} title={`@${node.handle}`}>
            @{user.name}
          </span>
        );
      }
    }
  });
}

/** Text whose only content is one to three emoji is shown large, as chat apps do. */
export function isEmojiOnly(text: string): boolean {
  const trimmed = text.trim();
  if (!trimmed || trimmed.length > 24) return false;
  const stripped = trimmed.replace(/\s+/g, '');
  const emoji = stripped.match(/\p{Extended_Pictographic}(\uFE0F|\u200D\p{Extended_Pictographic}|[\u{1F3FB}-\u{1F3FF}])*/gu);
  return emoji !== null && emoji.length <= 3 && emoji.join('') === stripped;
}
