//! Writing a message: text with @mention autocomplete, emoji, files (picker,
//! paste, drag-and-drop via `filesSink`) uploaded with progress, and voice
//! notes recorded in the browser.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { Attachment, ChannelId, MessageId, User } from '../api/types';
import { uploadFile } from '../api/upload';
import { errorText } from '../state/app';
import { formatBytes, formatDuration, formatMegabytes, limitFromRefusal, oversizedFiles, voiceNoteName } from '../util/format';
import { newClientId } from '../util/ids';
import { Avatar } from './Avatar';
import { useApp } from './context';
import { EmojiPicker } from './EmojiPicker';
import { matchShortcodes, replaceShortcodes, shortcodeAtCaret, type Shortcode } from './emoji';
import { Icon } from './icons';

interface Upload {
  key: string;
  name: string;
  size: number;
  progress: number;
  attachment: Attachment | null;
  error: string | null;
  abort: () => void;
  previewUrl: string | null;
}

/** Drafts survive switching channels. */
const drafts = new Map<string, string>();

/** Asks the rendered MessageItem for `messageId` (in the thread panel or the channel) to open its edit box. */
export function requestEdit(messageId: MessageId, inThread: boolean): void {
  window.dispatchEvent(new CustomEvent(EDIT_REQUEST_EVENT, { detail: { messageId, inThread } }));
}
export const EDIT_REQUEST_EVENT = 'conclave:edit-message';

export function Composer({
  channelId,
  threadId = null,
  placeholder,
  filesSink,
  disabled,
  send,
  sendLabel = 'Send message',
  files = true,
}: {
  channelId: ChannelId;
  threadId?: MessageId | null;
  placeholder: string;
  filesSink?: { current: ((files: File[]) => void) | null };
  disabled?: string | null;
  /**
   * Sends the text and the uploaded files some other way than a chat
   * message (a WhatsApp reply); answers an error text, or null once it was
   * accepted.
   */
  send?: (text: string, attachments: Attachment[]) => Promise<string | null>;
  sendLabel?: string;
  /** Whether files and voice notes can be attached. */
  files?: boolean;
}) {
  const app = useApp();
  const draftKey = `${channelId}:${threadId ?? 0}`;
  const [text, setText] = useState(() => drafts.get(draftKey) ?? '');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [emojiOpen, setEmojiOpen] = useState(false);
  const [mention, setMention] = useState<{ query: string; start: number } | null>(null);
  const [suggestions, setSuggestions] = useState<User[]>([]);
  const [selected, setSelected] = useState(0);
  const [sendError, setSendError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [shortcode, setShortcode] = useState<{ query: string; start: number } | null>(null);
  const shortcodeMatches = shortcode ? matchShortcodes(shortcode.query, 6) : [];
  const textarea = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setText(drafts.get(draftKey) ?? '');
    setUploads([]);
    setMention(null);
    setShortcode(null);
    textarea.current?.focus({ preventScroll: true });
  }, [draftKey]);

  useEffect(() => {
    drafts.set(draftKey, text);
    const element = textarea.current;
    if (element) {
      element.style.height = 'auto';
      element.style.height = `${Math.min(element.scrollHeight, 240)}px`;
    }
  }, [text, draftKey]);

  // Mention suggestions follow the query after "@", fetched with a short debounce.
  useEffect(() => {
    if (!mention) {
      setSuggestions([]);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      app.api
        .searchUsers(mention.query, 8)
        .then((users) => {
          if (!live) return;
          for (const user of users) app.users.set(user.id, user);
          setSuggestions(users);
          setSelected(0);
        })
        .catch(() => live && setSuggestions([]));
    }, 120);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [mention?.query]);

  const addFiles = (files: File[]) => {
    if (!app.token) return;
    // Checked before sending a byte: a file over the server's limit would only be refused at the end.
    const tooLarge = oversizedFiles(files, app.uploadLimitBytes);
    if (tooLarge.length > 0) {
      const names = tooLarge.map((file) => file.name || 'The pasted file').join(', ');
      app.toast(`${names} ${tooLarge.length === 1 ? 'is' : 'are'} too large: files may be at most ${formatMegabytes(app.uploadLimitBytes ?? 0)}.`);
    }
    for (const file of files) if (!tooLarge.includes(file)) startUpload(file, file.name || `pasted-${Date.now()}.png`);
  };
  if (filesSink) filesSink.current = addFiles;

  const startUpload = (blob: Blob, name: string): Upload => {
    const key = newClientId();
    const handle = queueUpload(uploadQueue, () =>
      uploadFile(app.token ?? '', channelId, blob, name, (progress) => {
        setUploads((list) => list.map((upload) => (upload.key === key ? { ...upload, progress } : upload)));
      }),
    );
    const upload: Upload = {
      key,
      name,
      size: blob.size,
      progress: 0,
      attachment: null,
      error: null,
      abort: handle.abort,
      previewUrl: blob.type.startsWith('image/') ? URL.createObjectURL(blob) : null,
    };
    setUploads((list) => [...list, upload]);
    handle.promise.then(
      (attachment) => setUploads((list) => list.map((entry) => (entry.key === key ? { ...entry, attachment, progress: 1 } : entry))),
      (error: unknown) => {
        if (error instanceof ApiError && error.code === 'aborted') return;
        app.learnUploadLimit(error);
        setUploads((list) => list.map((entry) => (entry.key === key ? { ...entry, error: uploadErrorText(error) } : entry)));
      },
    );
    return upload;
  };

  const removeUpload = (key: string) => {
    setUploads((list) => {
      const upload = list.find((entry) => entry.key === key);
      if (upload) {
        upload.abort();
        if (upload.previewUrl) URL.revokeObjectURL(upload.previewUrl);
      }
      return list.filter((entry) => entry.key !== key);
    });
  };

  const uploading = uploads.some((upload) => !upload.attachment && !upload.error);
  const ready = uploads.filter((upload) => upload.attachment).map((upload) => upload.attachment!);
  const canSend = !disabled && !uploading && !sending && (text.trim().length > 0 || ready.length > 0);

  const submit = () => {
    if (!canSend) return;
    if (send) {
      const body = replaceShortcodes(text.trim());
      if (!body && ready.length === 0) return;
      setSending(true);
      setSendError(null);
      void send(body, ready).then((failure) => {
        setSending(false);
        if (failure) return setSendError(failure);
        for (const upload of uploads) if (upload.previewUrl) URL.revokeObjectURL(upload.previewUrl);
        setText('');
        setUploads([]);
        setShortcode(null);
        drafts.delete(draftKey);
      });
      return;
    }
    app.send(channelId, replaceShortcodes(text.trim()), { threadId, attachments: ready });
    for (const upload of uploads) if (upload.previewUrl) URL.revokeObjectURL(upload.previewUrl);
    setText('');
    setUploads([]);
    setMention(null);
    setShortcode(null);
    drafts.delete(draftKey);
  };

  const updateMention = (value: string, caret: number) => {
    const before = value.slice(0, caret);
    const match = /(^|[\s(])@([\w.-]{0,30})$/.exec(before);
    if (match) setMention({ query: match[2]!, start: caret - match[2]!.length - 1 });
    else setMention(null);
    setShortcode(match ? null : shortcodeAtCaret(before));
    setSelected(0);
  };

  /** Typing the closing colon of a known `:code:` turns it into its emoji at once. */
  const convertShortcodes = (element: HTMLTextAreaElement): string => {
    const caret = element.selectionStart;
    const before = element.value.slice(0, caret);
    const converted = replaceShortcodes(before);
    if (converted === before) return element.value;
    const next = converted + element.value.slice(caret);
    element.value = next;
    element.setSelectionRange(converted.length, converted.length);
    return next;
  };

  const pickShortcode = (entry: Shortcode) => {
    if (!shortcode) return;
    const element = textarea.current;
    const caret = element?.selectionStart ?? text.length;
    const next = `${text.slice(0, shortcode.start)}${entry.emoji} ${text.slice(caret)}`;
    setText(next);
    setShortcode(null);
    const position = shortcode.start + entry.emoji.length + 1;
    setTimeout(() => {
      element?.focus();
      element?.setSelectionRange(position, position);
    }, 0);
  };

  const pickMention = (user: User) => {
    if (!mention) return;
    const element = textarea.current;
    const caret = element?.selectionStart ?? text.length;
    const next = `${text.slice(0, mention.start)}@${user.handle} ${text.slice(caret)}`;
    setText(next);
    setMention(null);
    const position = mention.start + user.handle.length + 2;
    setTimeout(() => {
      element?.focus();
      element?.setSelectionRange(position, position);
    }, 0);
  };

  const insertText = (insert: string) => {
    const element = textarea.current;
    const start = element?.selectionStart ?? text.length;
    const end = element?.selectionEnd ?? text.length;
    setText(text.slice(0, start) + insert + text.slice(end));
    setTimeout(() => {
      element?.focus();
      element?.setSelectionRange(start + insert.length, start + insert.length);
    }, 0);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (shortcode && shortcodeMatches.length > 0) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const step = event.key === 'ArrowDown' ? 1 : -1;
        setSelected((selected + step + shortcodeMatches.length) % shortcodeMatches.length);
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') {
        event.preventDefault();
        const entry = shortcodeMatches[selected] ?? shortcodeMatches[0];
        if (entry) pickShortcode(entry);
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        setShortcode(null);
        return;
      }
    }
    if (mention && suggestions.length > 0) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const step = event.key === 'ArrowDown' ? 1 : -1;
        setSelected((selected + step + suggestions.length) % suggestions.length);
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') {
        event.preventDefault();
        const user = suggestions[selected];
        if (user) pickMention(user);
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        setMention(null);
        return;
      }
    }
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
    if (event.key === 'ArrowUp' && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && text === '') {
      const meId = app.me?.id;
      const items = threadId === null ? app.messages.channelItems(channelId) : app.messages.threadItems(threadId);
      for (let index = items.length - 1; index >= 0; index -= 1) {
        const item = items[index]!;
        if (item.kind === 'message' && item.message.author_id === meId && item.message.deleted_at === null && item.message.id !== threadId) {
          event.preventDefault();
          requestEdit(item.message.id, threadId !== null);
          break;
        }
      }
    }
  };

  const sendVoiceNote = (blob: Blob, extension: string, durationMs: number) => {
    if (!app.token) return;
    // The name carries the length: recorded WebM files do not say how long they are.
    const name = voiceNoteName(new Date().toISOString().replace(/[:.]/g, '-'), durationMs, extension);
    const handle = uploadFile(app.token, channelId, blob, name, () => undefined);
    handle.promise.then(
      (attachment) => {
        // A WhatsApp reply sends the note to the customer, not as a chat message.
        if (!send) return app.send(channelId, '', { threadId, attachments: [attachment] });
        void send('', [attachment]).then((failure) => failure && app.toast(`Voice note not sent: ${failure}`));
      },
      (error: unknown) => {
        app.learnUploadLimit(error);
        app.toast(`Voice note not sent: ${uploadErrorText(error)}`);
      },
    );
  };

  const listId = `mentions-${draftKey.replace(':', '-')}`;
  return (
    <div class="composer-wrap">
      {disabled ? (
        <div class="composer-disabled">{disabled}</div>
      ) : (
        <div class="composer">
          {shortcode && shortcodeMatches.length > 0 && (
            <ul class="mention-list shortcode-list" id={`${listId}-emoji`} role="listbox" aria-label="Emoji">
              {shortcodeMatches.map((entry, index) => (
                <li
                  key={entry.code}
                  id={`${listId}-emoji-${index}`}
                  role="option"
                  aria-selected={index === selected}
                  class={index === selected ? 'selected' : undefined}
                  onMouseDown={(event) => {
                    event.preventDefault();
                    pickShortcode(entry);
                  }}
                >
                  <span class="shortcode-emoji" aria-hidden="true">
                    {entry.emoji}
                  </span>
                  <span class="mention-name">:{entry.code}:</span>
                </li>
              ))}
            </ul>
          )}
          {mention && suggestions.length > 0 && (
            <ul class="mention-list" id={listId} role="listbox" aria-label="Mention someone">
              {suggestions.map((user, index) => (
                <li
                  key={user.id}
                  id={`${listId}-${user.id}`}
                  role="option"
                  aria-selected={index === selected}
                  class={index === selected ? 'selected' : undefined}
                  onMouseDown={(event) => {
                    event.preventDefault();
                    pickMention(user);
                  }}
                >
                  <Avatar user={user} size={24} />
                  <span class="mention-name">{user.name}</span>
                  <span class="muted">@{user.handle}</span>
                </li>
              ))}
            </ul>
          )}
          {uploads.length > 0 && (
            <ul class="upload-tray" aria-label="Attachments">
              {uploads.map((upload) => (
                <li key={upload.key} class={`upload${upload.error ? ' failed' : ''}`}>
                  {upload.previewUrl ? <img src={upload.previewUrl} alt="" class="upload-thumb" /> : <Icon name="file" size={22} />}
                  <span class="upload-text">
                    <span class="upload-name">{upload.name}</span>
                    <span class="upload-meta">{upload.error ? upload.error : upload.attachment ? formatBytes(upload.size) : `${Math.round(upload.progress * 100)}%`}</span>
                    {!upload.attachment && !upload.error && (
                      <progress max={1} value={upload.progress} aria-label={`Uploading ${upload.name}`} />
                    )}
                  </span>
                  <button type="button" class="icon-button small" aria-label={`Remove ${upload.name}`} onClick={() => removeUpload(upload.key)}>
                    <Icon name="x" size={14} />
                  </button>
                </li>
              ))}
            </ul>
          )}
          {sendError && (
            <p class="form-error composer-error" role="alert">
              {sendError}
            </p>
          )}
          <div class="composer-row">
            {files && (
              <button type="button" class="icon-button" aria-label="Attach files" title="Attach files" onClick={() => fileInput.current?.click()}>
                <Icon name="clip" />
              </button>
            )}
            <input
              ref={fileInput}
              type="file"
              multiple
              hidden
              aria-hidden="true"
              tabIndex={-1}
              onChange={(event) => {
                const files = [...(event.currentTarget.files ?? [])];
                event.currentTarget.value = '';
                addFiles(files);
              }}
            />
            <textarea
              ref={textarea}
              class="composer-input"
              rows={1}
              placeholder={placeholder}
              aria-label={placeholder}
              aria-autocomplete="list"
              aria-controls={shortcode && shortcodeMatches.length ? `${listId}-emoji` : mention && suggestions.length ? listId : undefined}
              aria-activedescendant={
                shortcode && shortcodeMatches[selected] ? `${listId}-emoji-${selected}` : mention && suggestions[selected] ? `${listId}-${suggestions[selected]!.id}` : undefined
              }
              value={text}
              onInput={(event) => {
                const element = event.currentTarget;
                const value = convertShortcodes(element);
                setText(value);
                updateMention(value, element.selectionStart);
                if (element.value.trim()) app.sendTyping(channelId, threadId);
              }}
              onKeyDown={onKeyDown}
              onBlur={() => {
                // Suggestions close when focus leaves (their options keep focus on mouse down).
                setMention(null);
                setShortcode(null);
              }}
              onPaste={(event) => {
                const files = [...(event.clipboardData?.files ?? [])];
                if (files.length > 0) {
                  event.preventDefault();
                  addFiles(files);
                }
              }}
            />
            <div class="emoji-anchor">
              <button type="button" class="icon-button" aria-label="Insert emoji" title="Insert emoji" aria-expanded={emojiOpen} onClick={() => setEmojiOpen(!emojiOpen)}>
                <Icon name="smile" />
              </button>
              {emojiOpen && (
                <EmojiPicker
                  label="Insert emoji"
                  onClose={() => setEmojiOpen(false)}
                  onPick={(emoji) => {
                    setEmojiOpen(false);
                    insertText(emoji);
                  }}
                />
              )}
            </div>
            {canSend || text.trim() || !files || typeof MediaRecorder === 'undefined' ? (
              <button type="button" class="send-button" aria-label={sendLabel} title={`${sendLabel} (Enter)`} disabled={!canSend} onClick={submit}>
                <Icon name="send" />
              </button>
            ) : (
              <VoiceRecorder onDone={sendVoiceNote} />
            )}
          </div>
        </div>
      )}
    </div>
  );
}

/** Records a voice note with MediaRecorder; shows elapsed time with stop and cancel. */
function VoiceRecorder({ onDone }: { onDone: (blob: Blob, extension: string, durationMs: number) => void }) {
  const app = useApp();
  const [recording, setRecording] = useState<{ recorder: MediaRecorder; stream: MediaStream; startedAt: number } | null>(null);
  const [elapsed, setElapsed] = useState(0);
  const cancelled = useRef(false);

  useEffect(() => {
    if (!recording) return;
    const timer = setInterval(() => setElapsed((Date.now() - recording.startedAt) / 1000), 250);
    return () => clearInterval(timer);
  }, [recording]);

  useEffect(() => () => recording?.stream.getTracks().forEach((track) => track.stop()), [recording]);

  const start = async () => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const type = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/mp4'].find((candidate) => MediaRecorder.isTypeSupported(candidate));
      const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      const chunks: Blob[] = [];
      cancelled.current = false;
      recorder.ondataavailable = (event) => event.data.size > 0 && chunks.push(event.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((track) => track.stop());
        setRecording(null);
        setElapsed(0);
        if (cancelled.current || chunks.length === 0) return;
        const mime = recorder.mimeType || type || 'audio/webm';
        const extension = mime.includes('ogg') ? 'ogg' : mime.includes('mp4') ? 'm4a' : 'webm';
        onDone(new Blob(chunks, { type: mime.split(';')[0] }), extension, Date.now() - startedAt);
      };
      const startedAt = Date.now();
      recorder.start(250);
      setRecording({ recorder, stream, startedAt });
    } catch (error) {
      app.toast(`Cannot record: ${errorText(error)}`);
    }
  };

  if (!recording) {
    return (
      <button type="button" class="send-button mic" aria-label="Record voice note" title="Record voice note" onClick={() => void start()}>
        <Icon name="mic" />
      </button>
    );
  }
  return (
    <div class="recording" role="status">
      <span class="recording-dot" aria-hidden="true" />
      <span class="recording-time">{formatDuration(elapsed)}</span>
      <button
        type="button"
        class="icon-button"
        aria-label="Cancel recording"
        onClick={() => {
          cancelled.current = true;
          recording.recorder.stop();
        }}
      >
        <Icon name="trash" />
      </button>
      <button type="button" class="send-button" aria-label="Stop and send voice note" onClick={() => recording.recorder.stop()}>
        <Icon name="send" />
      </button>
    </div>
  );
}

/**
 * Uploads run one after another, so the server numbers the files in the
 * order they were attached and the message shows them in that order.
 */
interface UploadQueue {
  tail: Promise<unknown>;
}

const uploadQueue: UploadQueue = { tail: Promise.resolve() };

function queueUpload(queue: UploadQueue, start: () => { promise: Promise<Attachment>; abort: () => void }): { promise: Promise<Attachment>; abort: () => void } {
  let cancelled = false;
  let abortRunning: (() => void) | null = null;
  const promise = queue.tail.then(() => {
    if (cancelled) throw new ApiError(0, 'aborted', 'Upload cancelled.');
    const handle = start();
    abortRunning = handle.abort;
    return handle.promise;
  });
  queue.tail = promise.catch(() => undefined);
  return {
    promise,
    abort: () => {
      cancelled = true;
      abortRunning?.();
    },
  };
}

/** An upload failure in plain words; a size refusal names the limit in megabytes. */
function uploadErrorText(error: unknown): string {
  if (error instanceof ApiError && error.code === 'payload_too_large') {
    const limit = limitFromRefusal(error.message);
    if (limit !== null) return `Too large: files may be at most ${formatMegabytes(limit)}.`;
  }
  return errorText(error);
}
