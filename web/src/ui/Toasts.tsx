//! Short notes about what just happened ("Carol is now an admin."), in a
//! polite live region, each with an optional way back ("Undo"). While a
//! modal dialog is open the rest of the page is inert, so the outermost
//! dialog shows them instead of the shell.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { useApp } from './context';

/** True inside a modal dialog: nested dialogs leave the toasts to the outermost one. */
export const InsideModal = createContext(false);

export function Toasts() {
  const app = useApp();
  return (
    <div class="toasts" role="status" aria-live="polite">
      {app.toasts.map((toast) => (
        <div class={`toast${toast.action ? ' with-action' : ''}`} key={toast.id}>
          <span>{toast.text}</span>
          {toast.action && (
            <button
              type="button"
              class="toast-action"
              onClick={() => {
                const action = toast.action!;
                app.dismissToast(toast.id);
                void action.run();
              }}
            >
              {toast.action.label}
            </button>
          )}
        </div>
      ))}
    </div>
  );
}

/** The toasts of a modal dialog: only the outermost one shows them. */
export function ModalToasts() {
  return useContext(InsideModal) ? null : <Toasts />;
}
