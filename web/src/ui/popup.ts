//! Behaviour every popup menu shares: it stays inside the viewport (flipping
//! above its anchor when there is no room below, scrolling inside itself
//! when there is room on neither side) and it closes on Escape and on a
//! press outside it. The placement rule is a pure function so it can be
//! tested without a layout engine.

import { useEffect, useLayoutEffect } from 'preact/hooks';

export interface Box {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export interface Placement {
  /** Whether the popup opens below its anchor (the default) or above it. */
  vertical: 'below' | 'above';
  /** A height limit when the popup is taller than the room it gets; null when it fits. */
  maxHeight: number | null;
  /** Pixels to move the popup sideways so it stays on screen (negative: to the left). */
  shiftX: number;
}

/** Room kept between a popup and the edge of the viewport. */
export const VIEWPORT_MARGIN = 8;

/**
 * Where a popup of `size` goes next to `anchor` in a viewport of
 * `viewport`: below when it fits there, otherwise on the side with more
 * room, limited to that room.
 */
export function placePopup(
  anchor: Box,
  size: { width: number; height: number },
  viewport: { width: number; height: number },
  margin = VIEWPORT_MARGIN,
): Placement {
  const roomBelow = Math.max(0, viewport.height - anchor.bottom - margin);
  const roomAbove = Math.max(0, anchor.top - margin);
  let vertical: Placement['vertical'] = 'below';
  let room = roomBelow;
  if (size.height > roomBelow && roomAbove > roomBelow) {
    vertical = 'above';
    room = roomAbove;
  }
  const maxHeight = size.height > room ? Math.floor(room) : null;
  return { vertical, maxHeight, shiftX: sideways(anchor, size.width, viewport.width, margin) };
}

/** How far a popup aligned to the anchor's right edge must move to stay within the viewport's width. */
function sideways(anchor: Box, width: number, viewportWidth: number, margin: number): number {
  const right = Math.min(anchor.right, viewportWidth - margin);
  const left = right - width;
  if (left < margin) return Math.min(margin - left, Math.max(0, viewportWidth - margin - right));
  return right - anchor.right;
}

/**
 * Keeps the element in `popup` on screen after it renders. The popup is
 * absolutely positioned below its offset parent by CSS; this measures both
 * and flips it above (class `popup-above`), limits its height or moves it
 * sideways as `placePopup` says.
 */
export function usePopupPlacement(popup: { current: HTMLElement | null }, deps: unknown[] = []): void {
  useLayoutEffect(() => {
    const element = popup.current;
    const anchor = element?.parentElement;
    if (!element || !anchor) return;
    element.classList.remove('popup-above');
    element.style.maxHeight = '';
    element.style.transform = '';
    const own = element.getBoundingClientRect();
    const placement = placePopup(anchor.getBoundingClientRect(), { width: own.width, height: own.height }, { width: window.innerWidth, height: window.innerHeight });
    if (placement.vertical === 'above') element.classList.add('popup-above');
    if (placement.maxHeight !== null) {
      element.style.maxHeight = `${placement.maxHeight}px`;
      element.style.overflowY = 'auto';
    }
    // The anchor's right edge is where CSS aligns the popup; correct only a real overflow.
    const overflowLeft = VIEWPORT_MARGIN - own.left;
    const overflowRight = own.right - (window.innerWidth - VIEWPORT_MARGIN);
    if (overflowLeft > 0) element.style.transform = `translateX(${overflowLeft}px)`;
    else if (overflowRight > 0) element.style.transform = `translateX(${-overflowRight}px)`;
    // A popup inside a scrolled list may still sit partly outside its scroller.
    if (typeof element.scrollIntoView === 'function') element.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, deps);
}

/**
 * While `open`, closes a popup on Escape and on a press (mouse, pen or
 * touch) outside `root`. The button that toggles the popup (marked
 * `aria-expanded="true"` while it is open) counts as inside, so its own
 * click can close it.
 */
export function useDismiss(root: { current: HTMLElement | null }, onClose: () => void, open = true): void {
  useEffect(() => {
    if (!open) return;
    const inside = (target: EventTarget | null) => {
      const node = target as Node | null;
      if (!node) return false;
      // The button that opened the popup toggles it itself.
      if (node instanceof Element && node.closest('[aria-expanded="true"]')) return true;
      return root.current?.contains(node) ?? false;
    };
    const onPointerDown = (event: PointerEvent) => {
      if (!inside(event.target)) onClose();
    };
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      // Escape closes the innermost thing only: the popup, not the dialog around it.
      event.stopPropagation();
      event.preventDefault();
      onClose();
    };
    document.addEventListener('pointerdown', onPointerDown, true);
    document.addEventListener('keydown', onKeyDown, true);
    return () => {
      document.removeEventListener('pointerdown', onPointerDown, true);
      document.removeEventListener('keydown', onKeyDown, true);
    };
  }, [onClose, open]);
}
