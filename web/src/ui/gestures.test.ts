import { describe, expect, it } from 'vitest';
import { readGesture, swipeOffset, swipeReplies } from './gestures';

describe('touch gestures on a message', () => {
  it.each([
    [0, 0, 'press'],
    [6, -8, 'press'],
    [0, 40, 'scroll'],
    [-50, 2, 'scroll'],
    [40, 5, 'swipe'],
    [30, 25, 'scroll'],
  ])('a move of (%i, %i) is a %s', (dx, dy, gesture) => {
    expect(readGesture(dx, dy)).toBe(gesture);
  });

  it('draws the message along, up to a limit, and replies past the threshold', () => {
    expect(swipeOffset(-20)).toBe(0);
    expect(swipeOffset(50)).toBe(50);
    expect(swipeOffset(300)).toBe(96);
    expect(swipeReplies(40)).toBe(false);
    expect(swipeReplies(80)).toBe(true);
  });
});
