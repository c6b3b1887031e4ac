import { describe, expect, it } from 'vitest';
import { anchorAt, computeWindow, prefixOffsets, restoreAnchor, rowAt } from './virtual';

describe('message list windowing', () => {
  const heights = Array.from({ length: 1000 }, (_, index) => (index % 3 === 0 ? 80 : 40));
  const offsets = prefixOffsets(heights);

  it('computes prefix offsets and finds the row at a position', () => {
    expect(prefixOffsets([10, 20, 30])).toEqual([0, 10, 30, 60]);
    const small = prefixOffsets([10, 20, 30]);
    expect(rowAt(small, 0)).toBe(0);
    expect(rowAt(small, 9.9)).toBe(0);
    expect(rowAt(small, 10)).toBe(1);
    expect(rowAt(small, 59)).toBe(2);
    expect(rowAt(small, 500)).toBe(2);
    expect(rowAt(small, -5)).toBe(0);
  });

  it('renders only the rows near the viewport, with spacers for the rest', () => {
    const total = offsets[1000]!;
    const window = computeWindow(offsets, 20_000, 800, 600);
    expect(window.end - window.start).toBeLessThan(60);
    expect(window.padTop).toBe(offsets[window.start]);
    expect(window.padTop + (offsets[window.end]! - offsets[window.start]!) + window.padBottom).toBe(total);
    expect(offsets[window.start]!).toBeLessThanOrEqual(20_000 - 600);
    expect(offsets[window.end]!).toBeGreaterThanOrEqual(20_000 + 800 + 600);
  });

  it('clamps at both ends and handles empty and tiny lists', () => {
    expect(computeWindow(prefixOffsets([]), 0, 800, 600)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
    expect(computeWindow(prefixOffsets([50, 50]), 0, 800, 600)).toEqual({ start: 0, end: 2, padTop: 0, padBottom: 0 });
    const top = computeWindow(offsets, 0, 800, 600);
    expect(top.start).toBe(0);
    const bottom = computeWindow(offsets, offsets[1000]! - 800, 800, 600);
    expect(bottom.end).toBe(1000);
    expect(bottom.padBottom).toBe(0);
  });

  it('keeps the anchored row in place when older rows are prepended', () => {
    const keys = heights.map((_, index) => `m-${index + 100}`);
    const anchor = anchorAt(keys, offsets, 5_010)!;
    const before = rowAt(offsets, 5_010);
    expect(anchor.key).toBe(keys[before]);
    // 100 older rows of 50 px arrive above.
    const older = Array.from({ length: 100 }, (_, index) => `m-${index}`);
    const grown = prefixOffsets([...older.map(() => 50), ...heights]);
    const restored = restoreAnchor([...older, ...keys], grown, anchor)!;
    expect(restored).toBe(5_010 + 100 * 50);
  });

  it('keeps the anchored row in place when a row above changes height', () => {
    const keys = heights.map((_, index) => `m-${index}`);
    const anchor = anchorAt(keys, offsets, 3_000)!;
    const changed: number[] = [...heights];
    changed[2] = 300; // an image above the viewport finished loading
    const restored = restoreAnchor(keys, prefixOffsets(changed), anchor)!;
    expect(restored).toBe(3_000 + 300 - heights[2]!);
    expect(restoreAnchor(['x'], prefixOffsets([10]), anchor)).toBeNull();
  });
});
