//! How attachments look in a message: image thumbnails that open a
//! lightbox, video players, voice-note players with a progress bar, and
//! document cards.

import { createPortal } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import { fileUrl, hasThumbnail, thumbnailUrl } from '../api/client';
import type { Attachment } from '../api/types';
import { errorText } from '../state/app';
import { formatBytes, formatDuration, voiceNoteSeconds } from '../util/format';
import { downloadFile, useBlobUrl } from './blobs';
import { useApp } from './context';
import { Icon } from './icons';

export function AttachmentList({ attachments }: { attachments: Attachment[] }) {
  return (
    <div class="attachments">
      {attachments.map((attachment) => (
        <AttachmentView key={attachment.id} attachment={attachment} />
      ))}
    </div>
  );
}

function AttachmentView({ attachment }: { attachment: Attachment }) {
  const type = attachment.content_type || '';
  // Recorded voice notes are WebM, which content sniffing calls video/webm.
  if (type.startsWith('audio/') || /^voice-note/.test(attachment.name)) return <VoiceNote attachment={attachment} />;
  if (type.startsWith('image/')) return <ImageAttachment attachment={attachment} />;
  if (type.startsWith('video/')) return <VideoAttachment attachment={attachment} />;
  return <DocumentCard attachment={attachment} />;
}

function ImageAttachment({ attachment }: { attachment: Attachment }) {
  const app = useApp();
  const [open, setOpen] = useState(false);
  const path = hasThumbnail(attachment) ? thumbnailUrl(attachment) : fileUrl(attachment);
  const blob = useBlobUrl(app.api, path);
  const width = attachment.width ?? 0;
  const height = attachment.height ?? 0;
  // Reserve the box before the image arrives so the list does not jump.
  const scale = width && height ? Math.min(1, 360 / width, 280 / height) : 0;
  const style = scale ? { width: `${Math.round(width * scale)}px`, aspectRatio: `${width} / ${height}` } : undefined;
  return (
    <>
      <button class="image-attachment" type="button" style={style} onClick={() => setOpen(true)} aria-label={`Open image ${attachment.name}`}>
        {blob.status === 'ready' ? (
          <img src={blob.url} alt={attachment.name} loading="lazy" decoding="async" />
        ) : (
          <span class={`image-placeholder ${blob.status}`}>{blob.status === 'error' ? 'Image unavailable' : ''}</span>
        )}
      </button>
      {open && createPortal(<Lightbox attachment={attachment} onClose={() => setOpen(false)} />, document.body)}
    </>
  );
}

function Lightbox({ attachment, onClose }: { attachment: Attachment; onClose: () => void }) {
  const app = useApp();
  const blob = useBlobUrl(app.api, fileUrl(attachment));
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      class="lightbox"
      aria-label={attachment.name}
      onClose={onClose}
      onClick={(event) => {
        if (event.target === dialog.current) dialog.current?.close();
      }}
    >
      <div class="lightbox-bar">
        <span class="lightbox-name">{attachment.name}</span>
        <button class="icon-button light" type="button" aria-label="Download" onClick={() => void downloadFile(app.api, `${fileUrl(attachment)}?download=1`, attachment.name).catch((error) => app.toast(errorText(error)))}>
          <Icon name="download" />
        </button>
        <button class="icon-button light" type="button" aria-label="Close" onClick={() => dialog.current?.close()}>
          <Icon name="x" />
        </button>
      </div>
      {blob.status === 'ready' ? <img src={blob.url} alt={attachment.name} /> : <div class="lightbox-loading">{blob.status === 'error' ? 'Could not load the image.' : 'Loading…'}</div>}
    </dialog>
  );
}

function VideoAttachment({ attachment }: { attachment: Attachment }) {
  const app = useApp();
  const [requested, setRequested] = useState(false);
  const blob = useBlobUrl(app.api, requested ? fileUrl(attachment) : null);
  if (!requested) {
    return (
      <button class="video-attachment poster" type="button" onClick={() => setRequested(true)} aria-label={`Play video ${attachment.name}`}>
        <span class="play-circle">
          <Icon name="play" size={28} />
        </span>
        <span class="video-meta">
          {attachment.name} · {formatBytes(attachment.size)}
        </span>
      </button>
    );
  }
  return (
    <div class="video-attachment">
      {blob.status === 'ready' ? (
        <video src={blob.url} controls autoPlay playsInline preload="metadata" aria-label={attachment.name} />
      ) : (
        <div class="video-loading">{blob.status === 'error' ? 'Could not load the video.' : 'Loading video…'}</div>
      )}
    </div>
  );
}

export function VoiceNote({ attachment }: { attachment: Attachment }) {
  const app = useApp();
  const [requested, setRequested] = useState(false);
  const blob = useBlobUrl(app.api, requested ? fileUrl(attachment) : null);
  const audio = useRef<HTMLAudioElement>(null);
  const [playing, setPlaying] = useState(false);
  const [current, setCurrent] = useState(0);
  // Recorded WebM files often report no duration; the name carries the recorded length.
  const [duration, setDuration] = useState(() => voiceNoteSeconds(attachment.name) ?? 0);

  useEffect(() => {
    if (requested && blob.status === 'ready') void audio.current?.play().catch(() => setPlaying(false));
  }, [requested, blob.status]);

  const toggle = () => {
    if (!requested) {
      setRequested(true);
      return;
    }
    const element = audio.current;
    if (!element) return;
    if (element.paused) void element.play();
    else element.pause();
  };
  const fraction = duration > 0 ? Math.min(1, current / duration) : 0;
  const seek = (event: MouseEvent) => {
    const element = audio.current;
    const bar = event.currentTarget as HTMLElement;
    if (!element || !duration) return;
    const rect = bar.getBoundingClientRect();
    element.currentTime = ((event.clientX - rect.left) / rect.width) * duration;
  };
  return (
    <div class="voice-note">
      <button class="voice-play" type="button" onClick={toggle} aria-label={playing ? 'Pause voice note' : 'Play voice note'}>
        <Icon name={playing ? 'pause' : 'play'} size={18} />
      </button>
      <div
        class="voice-track"
        role="progressbar"
        aria-label="Playback position"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
        onClick={seek}
      >
        <div class="voice-fill" style={{ width: `${fraction * 100}%` }} />
      </div>
      <span class="voice-time">
        {playing || current > 0 ? `${formatDuration(current)}${duration > 0 ? ` / ${formatDuration(duration)}` : ''}` : duration > 0 ? formatDuration(duration) : 'Voice'}
      </span>
      {blob.status === 'ready' && (
        <audio
          ref={audio}
          src={blob.url}
          preload="metadata"
          onPlay={() => setPlaying(true)}
          onPause={() => setPlaying(false)}
          onEnded={() => {
            setPlaying(false);
            setCurrent(0);
          }}
          onTimeUpdate={(event) => setCurrent(event.currentTarget.currentTime)}
          onLoadedMetadata={(event) => Number.isFinite(event.currentTarget.duration) && setDuration(event.currentTarget.duration)}
          onDurationChange={(event) => Number.isFinite(event.currentTarget.duration) && setDuration(event.currentTarget.duration)}
        />
      )}
    </div>
  );
}

function DocumentCard({ attachment }: { attachment: Attachment }) {
  const app = useApp();
  const extension = (attachment.name.split('.').pop() ?? '').slice(0, 4).toUpperCase();
  return (
    <div class="document-card">
      <span class="document-icon" aria-hidden="true">
        <Icon name="file" size={22} />
        <span class="document-ext">{extension}</span>
      </span>
      <span class="document-text">
        <span class="document-name">{attachment.name}</span>
        <span class="document-meta">
          {formatBytes(attachment.size)} · {attachment.content_type || 'file'}
        </span>
      </span>
      <button
        class="icon-button"
        type="button"
        aria-label={`Download ${attachment.name}`}
        onClick={() => void downloadFile(app.api, `${fileUrl(attachment)}?download=1`, attachment.name).catch((error) => app.toast(errorText(error)))}
      >
        <Icon name="download" />
      </button>
    </div>
  );
}
