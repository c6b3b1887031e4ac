//! The "Incoming webhooks" part of a channel's details: list the channel's
//! hooks, create one by name (its URL is shown once, with a copy button),
//! and revoke one after confirming. Shown to members who are not guests.

import { useEffect, useState } from 'preact/hooks';
import type { Channel, CreatedWebhook, Webhook } from '../api/types';
import { errorText } from '../state/app';
import { canRevokeWebhook, webhookUrl } from '../state/webhooks';
import { useApp } from './context';

export function ChannelWebhooks({ channel }: { channel: Channel }) {
  const app = useApp();
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const [copied, setCopied] = useState(false);
  const [confirming, setConfirming] = useState<Webhook | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = () =>
    app.api.webhooks(channel.id).then(setHooks, (failure) => setError(`Could not load webhooks: ${errorText(failure)}`));
  useEffect(() => {
    void load();
  }, [channel.id]);

  const closed = channel.archived || channel.read_only;
  const fullUrl = created ? webhookUrl(window.location.origin, created.url) : '';

  const create = async () => {
    const trimmed = name.trim();
    if (!trimmed) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    setCopied(false);
    try {
      const hook = await app.api.createWebhook(channel.id, trimmed);
      setCreated(hook);
      setName('');
      await load();
    } catch (failure) {
      setError(`Could not create the webhook: ${errorText(failure)}`);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (hook: Webhook) => {
    setBusy(true);
    setError(null);
    try {
      await app.api.revokeWebhook(hook.id);
      setConfirming(null);
      if (created?.id === hook.id) setCreated(null);
      setNotice(`The webhook “${hook.name}” was revoked.`);
      await load();
    } catch (failure) {
      setError(`Could not revoke the webhook: ${errorText(failure)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="channel-webhooks stack" aria-labelledby="channel-webhooks-title">
      <h3 id="channel-webhooks-title">Incoming webhooks</h3>
      <p class="muted">Outside tools post into this channel by sending Slack-style messages to a webhook's URL.</p>
      {!closed && (
        <form
          class="webhook-create"
          onSubmit={(event) => {
            event.preventDefault();
            void create();
          }}
        >
          <label>
            Webhook name
            <input value={name} maxLength={80} placeholder="CI builds" onInput={(event) => setName(event.currentTarget.value)} disabled={busy} />
          </label>
          <button type="submit" class="button small" disabled={busy || !name.trim()}>
            Create webhook
          </button>
        </form>
      )}
      {created && (
        <div class="secret-box webhook-secret" role="status" aria-label="New webhook URL">
          <p class="webhook-secret-note">The URL of “{created.name}”. Copy it now: it will not be shown again.</p>
          <code class="secret small" data-testid="webhook-url">
            {fullUrl}
          </code>
          <div class="row-actions">
            <button
              type="button"
              class="button small"
              onClick={() =>
                void navigator.clipboard
                  ?.writeText(fullUrl)
                  .then(() => setCopied(true))
                  .catch(() => setError('Copying failed; select the URL and copy it yourself.'))
              }
            >
              {copied ? 'Copied' : 'Copy URL'}
            </button>
            <button type="button" class="button small" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {notice && (
        <p class="muted" role="status">
          {notice}
        </p>
      )}
      {!hooks ? (
        <p class="muted">Loading webhooks…</p>
      ) : hooks.length === 0 ? (
        <p class="muted">No webhooks yet.</p>
      ) : (
        <ul class="member-list" role="list" aria-label="Webhooks">
          {hooks.map((hook) => (
            <li key={hook.id} class="member-manage-row">
              <span class="member-text">{hook.name}</span>
              {canRevokeWebhook(hook, app.me?.id, app.me?.role) &&
                (confirming?.id === hook.id ? (
                  <span class="row-actions" role="group" aria-label={`Confirm revoking ${hook.name}`}>
                    <span>Revoke? Posts to its URL stop at once.</span>
                    <button type="button" class="button small" disabled={busy} onClick={() => setConfirming(null)}>
                      Cancel
                    </button>
                    <button type="button" class="button small danger" disabled={busy} aria-label={`Confirm revoke ${hook.name}`} onClick={() => void revoke(hook)}>
                      Revoke webhook
                    </button>
                  </span>
                ) : (
                  <button type="button" class="button small" disabled={busy} aria-label={`Revoke ${hook.name}`} onClick={() => setConfirming(hook)}>
                    Revoke
                  </button>
                ))}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
