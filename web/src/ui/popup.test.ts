import { describe, expect, it } from 'vitest';
import { placePopup } from './popup';

const viewport = { width: 1280, height: 800 };
const menu = { width: 200, height: 180 };
const anchorAt = (top: number, right = 1200) => ({ top, bottom: top + 32, left: right - 32, right });

describe('placePopup', () => {
  it.each([
    ['opens below an anchor near the top', anchorAt(100), 'below', null],
    ['flips above the last message at the bottom of the viewport', anchorAt(740), 'above', null],
    ['stays below when it just fits', anchorAt(800 - 32 - 180 - 8), 'below', null],
  ])('%s', (_name, anchor, vertical, maxHeight) => {
    expect(placePopup(anchor, menu, viewport)).toMatchObject({ vertical, maxHeight });
  });

  it('limits the height to the larger side when it fits on neither', () => {
    const placement = placePopup(anchorAt(300), { width: 200, height: 700 }, viewport);
    expect(placement.vertical).toBe('below');
    expect(placement.maxHeight).toBe(800 - 332 - 8);
    const high = placePopup(anchorAt(500), { width: 200, height: 700 }, viewport);
    expect(high.vertical).toBe('above');
    expect(high.maxHeight).toBe(492);
  });

  it('moves sideways to stay within the width of a phone', () => {
    const phone = { width: 390, height: 844 };
    expect(placePopup(anchorAt(100, 380), menu, phone).shiftX).toBe(0);
    expect(placePopup(anchorAt(100, 120), menu, phone).shiftX).toBe(88);
    expect(placePopup(anchorAt(100, 420), menu, phone).shiftX).toBe(-38);
  });
});
