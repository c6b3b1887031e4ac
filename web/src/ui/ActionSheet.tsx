//! The phone's pattern for a message's actions: a long press opens this
//! bottom sheet with large targets (the quick reactions, reply in thread,
//! copy, edit, pin, delete). It is a modal <dialog>, so focus stays in it
//! and Escape or a tap on the dimmed page closes it.

import { useEffect, useRef } from 'preact/hooks';
import type { Message } from '../api/types';
import { useApp } from './context';
import { QUICK_REACTIONS } from './emoji';
import { Icon, type IconName } from './icons';

export interface SheetAction {
  label: string;
  icon: IconName;
  danger?: boolean;
  run: () => void;
}

/** After the finger that opened the sheet lifts, its click may still land on the backdrop for a moment. */
const SETTLE_MS = 150;

export function ActionSheet({ message, meId, actions, onClose }: { message: Message; meId: number; actions: SheetAction[]; onClose: () => void }) {
  const app = useApp();
  const dialog = useRef<HTMLDialogElement>(null);
  // The sheet opens under a finger still on the glass: the click its lift
  // produces must not count as a tap on the backdrop.
  const armed = useRef(false);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onLift = () => {
      timer = setTimeout(() => (armed.current = true), SETTLE_MS);
    };
    window.addEventListener('pointerup', onLift, { once: true });
    window.addEventListener('touchend', onLift, { once: true });
    const closed = app.modalOpened();
    return () => {
      clearTimeout(timer);
      window.removeEventListener('pointerup', onLift);
      window.removeEventListener('touchend', onLift);
      closed();
    };
  }, []);
  const preview = message.text.trim() || (message.attachments.length ? `${message.attachments.length} attachment${message.attachments.length === 1 ? '' : 's'}` : '');
  const choose = (run: () => void) => {
    onClose();
    run();
  };
  return (
    <dialog
      ref={dialog}
      class="action-sheet"
      aria-label="Message actions"
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
      onClick={(event) => {
        if (event.target === dialog.current && armed.current) onClose();
      }}
    >
      <div class="action-sheet-inner">
        <span class="action-sheet-handle" aria-hidden="true" />
        {preview && <p class="action-sheet-preview">{preview}</p>}
        <div class="sheet-reactions" role="group" aria-label="React">
          {QUICK_REACTIONS.map((emoji) => {
            const mine = message.reactions.some((reaction) => reaction.emoji === emoji && reaction.user_ids.includes(meId));
            return (
              <button key={emoji} type="button" class="sheet-reaction" aria-pressed={mine} aria-label={`React with ${emoji}`} onClick={() => choose(() => void app.toggleReaction(message, emoji))}>
                {emoji}
              </button>
            );
          })}
        </div>
        {actions.map((action) => (
          <button key={action.label} type="button" class={`sheet-action${action.danger ? ' danger' : ''}`} onClick={() => choose(action.run)}>
            <Icon name={action.icon} size={20} /> {action.label}
          </button>
        ))}
        <button type="button" class="sheet-action sheet-cancel" onClick={onClose}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
