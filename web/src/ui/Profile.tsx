//! "Your profile": display name, status text and photo. A chosen photo is
//! cropped to a square in the browser (a canvas, with zoom and position)
//! and sent as a 512-pixel JPEG; the server squares and scales it again.

import { useEffect, useRef, useState } from 'preact/hooks';
import { removeAvatar, updateMyProfile, uploadAvatar } from '../api/accounts';
import { errorText } from '../state/app';
import { squareCrop } from '../state/accounts';
import { Avatar } from './Avatar';
import { useApp } from './context';
import { Modal } from './Dialogs';

const OUTPUT_EDGE = 512;
const PREVIEW_EDGE = 160;

function drawCrop(canvas: HTMLCanvasElement, image: HTMLImageElement, zoom: number, panX: number, panY: number, edge: number): void {
  const crop = squareCrop(image.naturalWidth, image.naturalHeight, zoom, panX, panY);
  canvas.width = edge;
  canvas.height = edge;
  const context = canvas.getContext('2d');
  if (!context) return;
  context.fillStyle = '#fff';
  context.fillRect(0, 0, edge, edge);
  context.drawImage(image, crop.x, crop.y, crop.size, crop.size, 0, 0, edge, edge);
}

export function ProfileDialog() {
  const app = useApp();
  const me = app.me;
  const profile = me ? app.profiles.get(me.id) : undefined;
  const [name, setName] = useState(me?.name ?? '');
  const [status, setStatus] = useState(profile?.status ?? '');
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  const [zoom, setZoom] = useState(1);
  const [panX, setPanX] = useState(0);
  const [panY, setPanY] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const preview = useRef<HTMLCanvasElement>(null);
  const close = () => app.setModal(null);

  useEffect(() => {
    if (image && preview.current) drawCrop(preview.current, image, zoom, panX, panY, PREVIEW_EDGE);
  }, [image, zoom, panX, panY]);

  const choose = (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    if (!file.type.startsWith('image/')) return setError('Choose an image (JPEG, PNG, GIF or WebP).');
    if (file.size > 5 * 1024 * 1024) return setError('That photo is larger than 5 MB; choose a smaller one.');
    setError(null);
    const url = URL.createObjectURL(file);
    const loaded = new Image();
    loaded.onload = () => {
      setImage(loaded);
      setZoom(1);
      setPanX(0);
      setPanY(0);
    };
    loaded.onerror = () => setError('That image cannot be read.');
    loaded.src = url;
  };

  const save = async (event: Event) => {
    event.preventDefault();
    if (!me) return;
    setBusy(true);
    setError(null);
    try {
      const change: { name?: string; status?: string } = {};
      if (name.trim() !== me.name) change.name = name.trim();
      if (status.trim() !== (profile?.status ?? '')) change.status = status.trim();
      if (change.name !== undefined || change.status !== undefined) {
        const answer = await updateMyProfile(app.api, change);
        app.users.set(answer.user.id, answer.user);
        app.me = answer.user;
        app.profiles.set(answer.profile.user_id, answer.profile);
      }
      if (image) {
        const canvas = document.createElement('canvas');
        drawCrop(canvas, image, zoom, panX, panY, OUTPUT_EDGE);
        const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
        if (!blob) throw new Error('The photo could not be prepared.');
        const updated = await uploadAvatar(app.api, blob);
        app.profiles.set(updated.user_id, updated);
      }
      app.toast('Profile saved.');
      close();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const clearPhoto = async () => {
    try {
      const updated = await removeAvatar(app.api);
      app.profiles.set(updated.user_id, updated);
      setImage(null);
      app.toast('Photo removed.');
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  return (
    <Modal title="Your profile" onClose={close} className="profile-dialog">
      <form class="modal-body stack" onSubmit={save}>
        <div class="profile-photo">
          {image ? (
            <canvas ref={preview} class="profile-preview" width={PREVIEW_EDGE} height={PREVIEW_EDGE} role="img" aria-label="Photo preview" />
          ) : (
            <Avatar user={me ?? undefined} size={96} />
          )}
          <div class="stack">
            <label class="button small profile-file">
              {profile?.avatar_version || image ? 'Choose another photo' : 'Add a photo'}
              <input type="file" accept="image/*" class="sr-only" onChange={choose} />
            </label>
            {!image && profile?.avatar_version ? (
              <button type="button" class="button small" onClick={() => void clearPhoto()}>
                Remove photo
              </button>
            ) : null}
          </div>
        </div>
        {image && (
          <fieldset class="profile-crop stack">
            <legend>Crop</legend>
            <label class="field">
              <span>Zoom</span>
              <input type="range" min={1} max={4} step={0.05} value={zoom} onInput={(event) => setZoom(Number(event.currentTarget.value))} />
            </label>
            <label class="field">
              <span>Left – right</span>
              <input type="range" min={-1} max={1} step={0.02} value={panX} onInput={(event) => setPanX(Number(event.currentTarget.value))} />
            </label>
            <label class="field">
              <span>Up – down</span>
              <input type="range" min={-1} max={1} step={0.02} value={panY} onInput={(event) => setPanY(Number(event.currentTarget.value))} />
            </label>
          </fieldset>
        )}
        <label class="field">
          <span>Display name</span>
          <input name="name" required maxLength={80} value={name} onInput={(event) => setName(event.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Status</span>
          <input name="status" maxLength={100} placeholder="What should people know? e.g. On leave until Monday" value={status} onInput={(event) => setStatus(event.currentTarget.value)} />
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="account-actions">
          <button type="button" class="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save profile'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
