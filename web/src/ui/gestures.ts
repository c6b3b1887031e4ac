//! Touch gestures on a message: a long press opens the action sheet, a
//! swipe to the right replies in a thread. The thresholds and the reading
//! of a movement are pure, so they are tested without a touch screen.

/** How long a finger rests on a message before its actions open. */
export const LONG_PRESS_MS = 450;
/** Movement that cancels a long press (the finger is scrolling, not pressing). */
export const PRESS_SLOP_PX = 10;
/** How far a message must be pulled right to reply in a thread. */
export const SWIPE_REPLY_PX = 64;
/** The furthest a message follows the finger. */
export const SWIPE_MAX_PX = 96;

export type Gesture = 'press' | 'scroll' | 'swipe';

/**
 * What a finger that has moved by (dx, dy) is doing: still pressing, a
 * vertical scroll (or a leftward move, which is nobody's), or a swipe to the
 * right, which must be clearly more sideways than up or down.
 */
export function readGesture(dx: number, dy: number): Gesture {
  if (Math.abs(dx) <= PRESS_SLOP_PX && Math.abs(dy) <= PRESS_SLOP_PX) return 'press';
  if (dx > PRESS_SLOP_PX && dx > Math.abs(dy) * 1.5) return 'swipe';
  return 'scroll';
}

/** How far the message is drawn to the right while swiping. */
export function swipeOffset(dx: number): number {
  return Math.max(0, Math.min(dx, SWIPE_MAX_PX));
}

/** Whether a swipe that ended at dx replies. */
export function swipeReplies(dx: number): boolean {
  return dx >= SWIPE_REPLY_PX;
}
