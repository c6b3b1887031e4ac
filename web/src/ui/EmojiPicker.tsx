//! A small popover of bundled emoji with a filter box.

import { useEffect, useRef, useState } from 'preact/hooks';
import { EMOJI } from './emoji';
import { useDismiss } from './popup';

export function EmojiPicker({ onPick, onClose, label = 'Choose an emoji' }: { onPick: (emoji: string) => void; onClose: () => void; label?: string }) {
  const [filter, setFilter] = useState('');
  const root = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  useDismiss(root, onClose);
  const query = filter.trim().toLowerCase();
  const shown = query ? EMOJI.filter((entry) => entry.name.includes(query)) : EMOJI;
  return (
    <div
      class="emoji-picker"
      ref={root}
      role="dialog"
      aria-label={label}
    >
      <input
        ref={input}
        class="emoji-filter"
        type="search"
        placeholder="Search emoji"
        aria-label="Search emoji"
        value={filter}
        onInput={(event) => setFilter(event.currentTarget.value)}
        onKeyDown={(event) => {
          // Enter picks the match when the filter leaves exactly one.
          if (event.key === 'Enter' && shown.length === 1) {
            event.preventDefault();
            onPick(shown[0]!.emoji);
          }
        }}
      />
      <div class="emoji-grid">
        {shown.map((entry) => (
          <button key={entry.emoji} type="button" class="emoji-cell" title={entry.name} aria-label={entry.name.split(' ')[0]} onClick={() => onPick(entry.emoji)}>
            {entry.emoji}
          </button>
        ))}
        {shown.length === 0 && <p class="muted emoji-none">No emoji found</p>}
      </div>
    </div>
  );
}
