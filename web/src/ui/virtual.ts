//! Windowing math for the message list: rows have measured, variable heights
//! (an estimate until measured); only the rows overlapping the viewport plus
//! an overscan margin are rendered, with spacers standing in for the rest.

export interface Window {
  /** First rendered row (inclusive). */
  start: number;
  /** One past the last rendered row. */
  end: number;
  /** Height of the spacer above the first rendered row. */
  padTop: number;
  /** Height of the spacer below the last rendered row. */
  padBottom: number;
}

/** offsets[i] is the top of row i; offsets[n] the total height. */
export function prefixOffsets(heights: readonly number[]): number[] {
  const offsets = new Array<number>(heights.length + 1);
  offsets[0] = 0;
  for (let index = 0; index < heights.length; index += 1) offsets[index + 1] = offsets[index]! + heights[index]!;
  return offsets;
}

/** The index of the row containing position `y` (clamped to the rows), by binary search. */
export function rowAt(offsets: readonly number[], y: number): number {
  const count = offsets.length - 1;
  if (count <= 0) return 0;
  let low = 0;
  let high = count - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (offsets[middle]! <= y) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * The rows to render for a viewport `[scrollTop, scrollTop + viewport)`
 * measured from the top of the first row, with `overscan` pixels extra on
 * each side.
 */
export function computeWindow(offsets: readonly number[], scrollTop: number, viewport: number, overscan: number): Window {
  const count = offsets.length - 1;
  const total = offsets[count] ?? 0;
  if (count <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const top = Math.max(0, scrollTop - overscan);
  const bottom = Math.min(total, scrollTop + viewport + overscan);
  const start = rowAt(offsets, top);
  const end = Math.max(start + 1, Math.min(count, rowAt(offsets, Math.max(top, bottom - 0.5)) + 1));
  return { start, end, padTop: offsets[start]!, padBottom: total - offsets[end]! };
}

/** Where a row sits relative to the viewport top, to restore it after rows above change. */
export interface Anchor {
  key: string;
  /** Row top minus scrollTop. */
  delta: number;
}

/** The first row whose bottom is below `scrollTop`, with its distance from it. */
export function anchorAt(keys: readonly string[], offsets: readonly number[], scrollTop: number): Anchor | null {
  if (keys.length === 0) return null;
  const index = rowAt(offsets, Math.max(0, scrollTop));
  return { key: keys[index]!, delta: offsets[index]! - scrollTop };
}

/** The scrollTop (relative to the rows) that puts `anchor` back where it was, or null if its row is gone. */
export function restoreAnchor(keys: readonly string[], offsets: readonly number[], anchor: Anchor): number | null {
  const index = keys.indexOf(anchor.key);
  if (index < 0) return null;
  return offsets[index]! - anchor.delta;
}
