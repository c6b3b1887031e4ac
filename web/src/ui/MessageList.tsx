//! The scrolling history of one channel: day separators, grouping of
//! consecutive messages, the "new messages" line, loading older pages when
//! scrolled to the top, and staying pinned to the bottom as messages arrive.

import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ChannelId } from '../api/types';
import type { TimelineItem } from '../state/messages';
import { formatDay, sameDay } from '../util/format';
import { useApp } from './context';
import { Icon } from './icons';
import { anchorAt, computeWindow, prefixOffsets, restoreAnchor, type Anchor } from './virtual';
import { MessageItem, PendingItem } from './MessageItem';

/** Messages by one author within this many milliseconds share one header. */
const GROUP_WINDOW_MS = 5 * 60_000;

export interface Row {
  key: string;
  kind: 'day' | 'new' | 'item';
  label?: string;
  item?: TimelineItem;
  grouped?: boolean;
}

/** Lays out items into rows with day separators, the new-messages line (above `lineBeforeId`) and grouping. */
export function buildRows(items: TimelineItem[], lineBeforeId: number | null, now = Date.now()): Row[] {
  const rows: Row[] = [];
  let previous: { author: number; at: number; deleted: boolean } | null = null;
  let newLineShown = false;
  for (const item of items) {
    const author = item.kind === 'message' ? item.message.author_id : item.pending.authorId;
    const at = item.kind === 'message' ? item.message.created_at : item.pending.createdAt;
    const deleted = item.kind === 'message' && item.message.deleted_at !== null;
    let breakGroup = false;
    if (!previous || !sameDay(new Date(previous.at), new Date(at))) {
      rows.push({ key: `day-${new Date(at).toDateString()}`, kind: 'day', label: formatDay(at, now) });
      breakGroup = true;
    }
    if (!newLineShown && lineBeforeId !== null && item.kind === 'message' && item.message.id === lineBeforeId) {
      rows.push({ key: 'new-line', kind: 'new' });
      newLineShown = true;
      breakGroup = true;
    }
    const grouped = !breakGroup && previous !== null && previous.author === author && !previous.deleted && !deleted && at - previous.at < GROUP_WINDOW_MS;
    rows.push({ key: item.kind === 'message' ? `m-${item.message.id}` : `p-${item.pending.clientId}`, kind: 'item', item, grouped });
    previous = { author, at, deleted };
  }
  return rows;
}

/** Lists with more rows than this are windowed: only rows near the viewport are in the DOM. */
export const VIRTUALISE_ABOVE = 150;
/** Extra pixels rendered above and below the viewport. */
const OVERSCAN_PX = 900;
const ESTIMATE_ITEM_PX = 56;
const ESTIMATE_SEPARATOR_PX = 40;

export function MessageList({ channelId, emptyTitle }: { channelId: ChannelId; emptyTitle: string }) {
  const app = useApp();
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const spacerTop = useRef<HTMLDivElement>(null);
  const spacerBottom = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const initialDone = useRef<ChannelId | null>(null);
  const heights = useRef(new Map<string, number>());
  const anchor = useRef<Anchor | null>(null);
  const layout = useRef<{ keys: string[]; offsets: number[] }>({ keys: [], offsets: [0] });
  const [showJump, setShowJump] = useState(false);
  const [view, setView] = useState({ top: 0, height: 800 });
  const [, setMeasured] = useState(0);

  const timeline = app.messages.channelTimeline(channelId);
  const items = useMemo(() => app.messages.channelItems(channelId), [app.messages.version, channelId]);
  const meId = app.me?.id ?? 0;
  const lineBefore = app.newMessagesLine.get(channelId) ?? null;
  const rows = useMemo(() => buildRows(items, lineBefore), [items, lineBefore]);
  const loadingOlder = app.loadingOlder.has(channelId);

  const keys = rows.map((row) => row.key);
  const offsets = prefixOffsets(rows.map((row) => heights.current.get(row.key) ?? (row.kind === 'item' ? ESTIMATE_ITEM_PX : ESTIMATE_SEPARATOR_PX)));
  layout.current = { keys, offsets };
  const windowed = rows.length > VIRTUALISE_ABOVE;
  const rowsTop = spacerTop.current?.offsetTop ?? 0;
  const slice = windowed ? computeWindow(offsets, view.top - rowsTop, view.height, OVERSCAN_PX) : { start: 0, end: rows.length, padTop: 0, padBottom: 0 };

  useLayoutEffect(() => {
    const element = scroller.current;
    const first = spacerTop.current;
    if (!element || !first) return;
    // Measure the rendered rows: each row is one element between the spacers.
    let changed = false;
    let node = first.nextElementSibling as HTMLElement | null;
    for (let index = slice.start; index < slice.end && node && node !== spacerBottom.current; index += 1) {
      const next = node.nextElementSibling as HTMLElement | null;
      const height = next ? next.offsetTop - node.offsetTop : node.offsetHeight;
      const key = rows[index]!.key;
      if (height > 0 && heights.current.get(key) !== height) {
        heights.current.set(key, height);
        changed = true;
      }
      node = next;
    }
    const { offsets: current } = layout.current;
    const top = first.offsetTop;
    if (initialDone.current !== channelId && timeline.loaded && app.newMessagesLine.has(channelId)) {
      initialDone.current = channelId;
      const lineIndex = rows.findIndex((row) => row.kind === 'new');
      if (lineIndex >= 0) {
        element.scrollTop = Math.max(0, top + current[lineIndex]! - element.clientHeight / 3);
        atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
      } else {
        element.scrollTop = element.scrollHeight;
        atBottom.current = true;
      }
    } else if (atBottom.current) {
      element.scrollTop = element.scrollHeight;
    } else if (anchor.current) {
      // Older pages loaded above, or rows above changed height: keep the same row in view.
      const wanted = restoreAnchor(keys, current, anchor.current);
      if (wanted !== null && Math.abs(top + wanted - element.scrollTop) > 1) element.scrollTop = top + wanted;
    }
    anchor.current = anchorAt(keys, current, element.scrollTop - top);
    if (element.scrollTop !== view.top || element.clientHeight !== view.height) setView({ top: element.scrollTop, height: element.clientHeight });
    else if (changed) setMeasured((count) => count + 1);
  });

  // Images and previews grow after they load: re-measure, staying at the bottom or anchored.
  useLayoutEffect(() => {
    const element = scroller.current;
    const inner = content.current;
    if (!element || !inner || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => setMeasured((count) => count + 1));
    observer.observe(inner);
    observer.observe(element);
    return () => observer.disconnect();
  }, [channelId]);

  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    const distance = element.scrollHeight - element.scrollTop - element.clientHeight;
    atBottom.current = distance < 80;
    const top = spacerTop.current?.offsetTop ?? 0;
    anchor.current = anchorAt(layout.current.keys, layout.current.offsets, element.scrollTop - top);
    setView({ top: element.scrollTop, height: element.clientHeight });
    setShowJump(distance > 600);
    if (element.scrollTop < 400) void app.loadOlder(channelId);
    if (atBottom.current) app.markReadIfViewing();
  };

  const users = app.users;
  return (
    <div class="message-scroller" ref={scroller} onScroll={onScroll} tabIndex={0} role="log" aria-label="Messages" aria-live="polite" aria-relevant="additions">
      <div class="message-content" ref={content}>
        {timeline.loaded && !timeline.hasMoreBefore && (
          <div class="channel-start">
            <h2>{emptyTitle}</h2>
            <p class="muted">{items.length === 0 ? 'No messages yet. Say hello!' : 'This is the very beginning of the conversation.'}</p>
          </div>
        )}
        {(loadingOlder || (timeline.loaded && timeline.hasMoreBefore)) && <div class="loading-older">{loadingOlder ? 'Loading earlier messages…' : ''}</div>}
        {!timeline.loaded && !app.loadErrors.has(channelId) && <div class="loading-older">Loading messages…</div>}
        {app.loadErrors.has(channelId) && (
          <div class="load-error" role="alert">
            Could not load messages: {app.loadErrors.get(channelId)}
          </div>
        )}
        <div class="virtual-spacer" ref={spacerTop} style={{ height: `${slice.padTop}px` }} aria-hidden="true" />
        {rows.slice(slice.start, slice.end).map((row) => {
          if (row.kind === 'day') {
            return (
              <div class="day-separator" key={row.key} role="separator" aria-label={row.label}>
                <span>{row.label}</span>
              </div>
            );
          }
          if (row.kind === 'new') {
            return (
              <div class="new-messages-line" key={row.key} role="separator" aria-label="New messages">
                <span>New messages</span>
              </div>
            );
          }
          const item = row.item!;
          if (item.kind === 'pending') {
            return <PendingItem key={row.key} pending={item.pending} author={users.get(item.pending.authorId)} grouped={Boolean(row.grouped)} />;
          }
          return (
            <MessageItem
              key={row.key}
              message={item.message}
              author={app.user(item.message.author_id)}
              grouped={Boolean(row.grouped)}
              meId={meId}
              usersVersion={users.size}
            />
          );
        })}
        <div class="virtual-spacer" ref={spacerBottom} style={{ height: `${slice.padBottom}px` }} aria-hidden="true" />
      </div>
      {showJump && (
        <button
          type="button"
          class="jump-latest"
          onClick={() => {
            const element = scroller.current;
            if (element) element.scrollTop = element.scrollHeight;
          }}
        >
          <Icon name="chevronDown" size={16} /> Jump to latest
        </button>
      )}
    </div>
  );
}
