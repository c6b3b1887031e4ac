//! The compliance console, for compliance officers and owners: retention
//! policies (and running retention now), legal holds, eDiscovery exports
//! with authenticated downloads, erasure of a person, and the journal's
//! verification and checkpoint. The rules behind the forms live in
//! state/compliance.ts; the requests in api/compliance.ts.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  complianceApi,
  EXPORT_FORMATS,
  type Erasure,
  type ExportFormat,
  type ExportRecord,
  type JournalCheckpoint,
  type JournalVerdict,
  type LegalHold,
  type PurgeReport,
  type RetentionPolicy,
} from '../api/compliance';
import type { AdminUser, Channel, ChannelId } from '../api/types';
import {
  describeFailure,
  downloadName,
  erasureConfirmed,
  exportProblem,
  FORMAT_LABELS,
  holdNameFromRefusal,
  holdProblem,
  manifestCounts,
  manifestFilters,
  plural,
  purgeSummary,
  retentionRequest,
  retentionRows,
  rfc3339Millis,
  sortHolds,
  type Failure,
  type RetentionForm,
} from '../state/compliance';
import { dayValue } from '../state/adminExtras';
import { formatBytes, formatDateTime } from '../util/format';
import { useApp } from './context';
import { Modal } from './Dialogs';
import './compliance.css';

type Tab = 'retention' | 'holds' | 'exports' | 'erasure' | 'journal';

const TABS: [Tab, string][] = [
  ['retention', 'Retention'],
  ['holds', 'Legal holds'],
  ['exports', 'Exports'],
  ['erasure', 'Erasure'],
  ['journal', 'Journal'],
];

export function ComplianceConsole() {
  const app = useApp();
  const [tab, setTab] = useState<Tab>('retention');
  const channels = useKnownChannels();
  const onKeyDown = (event: KeyboardEvent) => {
    const index = TABS.findIndex(([key]) => key === tab);
    let next = index;
    if (event.key === 'ArrowRight') next = (index + 1) % TABS.length;
    else if (event.key === 'ArrowLeft') next = (index - 1 + TABS.length) % TABS.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = TABS.length - 1;
    else return;
    event.preventDefault();
    const key = TABS[next]![0];
    setTab(key);
    (document.getElementById(`compliance-tab-${key}`) as HTMLElement | null)?.focus();
  };
  return (
    <Modal title="Compliance" onClose={() => app.setModal(null)} className="admin-dialog compliance-dialog">
      <div class="tabs" role="tablist" aria-label="Compliance sections" onKeyDown={onKeyDown}>
        {TABS.map(([key, label]) => (
          <button
            type="button"
            role="tab"
            key={key}
            id={`compliance-tab-${key}`}
            aria-controls={`compliance-panel-${key}`}
            aria-selected={tab === key}
            tabIndex={tab === key ? 0 : -1}
            class="tab"
            onClick={() => setTab(key)}
          >
            {label}
          </button>
        ))}
      </div>
      <div class="modal-body stack" role="tabpanel" id={`compliance-panel-${tab}`} aria-labelledby={`compliance-tab-${tab}`}>
        {tab === 'retention' ? (
          <RetentionPanel channels={channels} />
        ) : tab === 'holds' ? (
          <HoldsPanel channels={channels} />
        ) : tab === 'exports' ? (
          <ExportsPanel channels={channels} />
        ) : tab === 'erasure' ? (
          <ErasurePanel />
        ) : (
          <JournalPanel />
        )}
      </div>
    </Modal>
  );
}

// ---- shared pieces -----------------------------------------------------------

function ErrorNotice({ failure }: { failure: Failure | null }) {
  if (!failure) return null;
  return (
    <p class="form-error" role="alert">
      {failure.message}
      {failure.code && <span class="error-code"> (error code: {failure.code})</span>}
    </p>
  );
}

/** Runs an action, keeping its failure for display, then `after`. */
function useAction(after?: () => unknown) {
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<unknown>): Promise<boolean> => {
    setFailure(null);
    setBusy(true);
    try {
      await work();
      await after?.();
      return true;
    } catch (error) {
      setFailure(describeFailure(error));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const problem = (message: string) => setFailure({ message, code: null });
  return { failure, setFailure, problem, busy, act };
}

/** The channels the console can name: every public and private one, member or not (archived, imports and customer conversations included). Direct conversations are covered through custodians. */
function useKnownChannels(): Channel[] {
  const app = useApp();
  const [channels, setChannels] = useState<Channel[]>(() => namedChannels(app.channels.channelList().map((summary) => summary.channel)));
  useEffect(() => {
    complianceApi
      .channels(app.api)
      .then((entries) => setChannels(namedChannels([...app.channels.channelList().map((summary) => summary.channel), ...entries.map((entry) => entry.channel)])))
      .catch(() => undefined);
  }, [app]);
  return channels;
}

function namedChannels(list: Channel[]): Channel[] {
  const byId = new Map<ChannelId, Channel>();
  for (const channel of list) if (channel.kind === 'public' || channel.kind === 'private') byId.set(channel.id, channel);
  return [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function channelNameMap(channels: Channel[]): Map<ChannelId, string> {
  return new Map(channels.map((channel) => [channel.id, channel.name] as const));
}

function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function Section({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="settings-section stack" aria-labelledby={id}>
      <h3 id={id}>{title}</h3>
      {children}
    </section>
  );
}

/**
 * Searches every account (deactivated ones too) by name or email. With
 * `single`, choosing replaces the selection.
 */
function PeoplePicker({ label, name, selected, onChange, single = false, excludeIds = [] }: { label: string; name: string; selected: AdminUser[]; onChange: (people: AdminUser[]) => void; single?: boolean; excludeIds?: number[] }) {
  const app = useApp();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<AdminUser[]>([]);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [searching, setSearching] = useState(false);
  const sequence = useRef(0);
  useEffect(() => {
    const text = query.trim();
    if (!text) {
      setResults([]);
      setSearching(false);
      return;
    }
    setSearching(true);
    const mine = ++sequence.current;
    const timer = setTimeout(() => {
      app.api
        .adminUsers({ q: text, limit: 8 })
        .then((users) => {
          if (mine !== sequence.current) return;
          setFailure(null);
          setResults(users);
        })
        .catch((error) => mine === sequence.current && setFailure(describeFailure(error)))
        .finally(() => mine === sequence.current && setSearching(false));
    }, 200);
    return () => clearTimeout(timer);
  }, [query]);
  const chosen = new Set(selected.map((person) => person.id));
  const candidates = results.filter((person) => !chosen.has(person.id) && !excludeIds.includes(person.id));
  const verb = single ? 'Choose' : 'Add';
  return (
    <fieldset class="people-picker">
      <legend>{label}</legend>
      {selected.length > 0 && (
        <ul class="picked" role="list" aria-label={`${label}: chosen`}>
          {selected.map((person) => (
            <PersonItem key={person.id} person={person}>
              <button type="button" class="button small" onClick={() => onChange(selected.filter((other) => other.id !== person.id))}>
                Remove<span class="sr-only"> {person.name}</span>
              </button>
            </PersonItem>
          ))}
        </ul>
      )}
      <label class="field compact">
        <span>Search people</span>
        <input
          type="search"
          name={name}
          autoComplete="off"
          placeholder="Name or email"
          value={query}
          onInput={(event) => setQuery(event.currentTarget.value)}
          onKeyDown={(event) => {
            // Enter takes the only match, instead of submitting the form around the picker.
            const only = candidates.length === 1 ? candidates[0]! : null;
            if (event.key !== 'Enter' || !only) return;
            event.preventDefault();
            onChange(single ? [only] : [...selected, only]);
            setQuery('');
          }}
        />
      </label>
      <ErrorNotice failure={failure} />
      {query.trim() && !searching && candidates.length === 0 && !failure && <p class="muted">Nobody else matches “{query.trim()}”.</p>}
      {candidates.length > 0 && (
        <ul class="picker-results" role="list" aria-label={`${label}: matches`}>
          {candidates.map((person) => (
            <PersonItem key={person.id} person={person}>
              <button
                type="button"
                class="button small"
                onClick={() => {
                  onChange(single ? [person] : [...selected, person]);
                  setQuery('');
                }}
              >
                {verb}
                <span class="sr-only"> {person.name}</span>
              </button>
            </PersonItem>
          ))}
        </ul>
      )}
    </fieldset>
  );
}

/** One person in a picker's list: name, a pill when deactivated, email, then the action. */
function PersonItem({ person, children }: { person: AdminUser; children: ComponentChildren }) {
  return (
    <li class="picked-item">
      <span class="member-text">
        <span>
          {person.name}
          {!person.active && <span class="pill">Deactivated</span>}
        </span>
        <span class="muted">{person.email}</span>
      </span>
      {children}
    </li>
  );
}

function ChannelPicker({ legend, channels, selected, onChange }: { legend: string; channels: Channel[]; selected: number[]; onChange: (ids: number[]) => void }) {
  const [filter, setFilter] = useState('');
  const text = filter.trim().toLowerCase();
  const shown = text ? channels.filter((channel) => channel.name.toLowerCase().includes(text) || selected.includes(channel.id)) : channels;
  return (
    <fieldset class="channel-picks">
      <legend>{legend}</legend>
      {channels.length > 8 && (
        <label class="field compact">
          <span>Filter channels</span>
          <input type="search" value={filter} onInput={(event) => setFilter(event.currentTarget.value)} />
        </label>
      )}
      {channels.length === 0 ? (
        <p class="muted">No channels are visible to you.</p>
      ) : (
        <div class="channel-pick-list">
          {shown.map((channel) => (
            <label class="checkbox" key={channel.id}>
              <input type="checkbox" checked={selected.includes(channel.id)} onChange={(event) => onChange(event.currentTarget.checked ? [...selected, channel.id] : selected.filter((id) => id !== channel.id))} />
              <span>
                #{channel.name}
                {channel.archived ? ' (archived)' : ''}
              </span>
            </label>
          ))}
        </div>
      )}
    </fieldset>
  );
}

function DateRange({ prefix, from, to, onFrom, onTo }: { prefix: string; from: string; to: string; onFrom: (value: string) => void; onTo: (value: string) => void }) {
  return (
    <div class="date-range">
      <label class="field compact">
        <span>From (optional)</span>
        <input type="date" name={`${prefix}-from`} value={from} onInput={(event) => onFrom(event.currentTarget.value)} />
      </label>
      <label class="field compact">
        <span>To (optional, included)</span>
        <input type="date" name={`${prefix}-to`} value={to} onInput={(event) => onTo(event.currentTarget.value)} />
      </label>
    </div>
  );
}

// ---- retention -----------------------------------------------------------------

const EMPTY_RETENTION: RetentionForm = { scope: 'channel', team: '', channelId: '', days: '', forever: false };

function RetentionPanel({ channels }: { channels: Channel[] }) {
  const app = useApp();
  const [policies, setPolicies] = useState<RetentionPolicy[] | null>(null);
  const [form, setForm] = useState<RetentionForm>(EMPTY_RETENTION);
  const [saved, setSaved] = useState<string | null>(null);
  const [report, setReport] = useState<PurgeReport | null>(null);
  const load = async () => setPolicies(await complianceApi.retention(app.api));
  const listing = useAction();
  const saving = useAction(load);
  const running = useAction();
  useEffect(() => void listing.act(load), []);
  const rows = retentionRows(policies ?? [], channelNameMap(channels));
  const update = (patch: Partial<RetentionForm>) => (setForm({ ...form, ...patch }), setSaved(null));
  const submit = (event: Event) => {
    event.preventDefault();
    const outcome = retentionRequest(form);
    if ('problem' in outcome) return saving.problem(outcome.problem);
    void saving.act(async () => {
      const policy = await complianceApi.setRetention(app.api, outcome.request);
      const row = retentionRows([policy], channelNameMap(channels))[0];
      setSaved(row ? `${row.targetLabel}: ${row.daysLabel.toLowerCase()}.` : 'Saved.');
    });
  };
  return (
    <>
      <Section id="retention-title" title="Retention policies">
        <p class="muted">
          Messages older than their policy are removed for good, unless a legal hold covers them. A channel’s own policy wins over its team’s, which wins over the global one; with no policy at all,
          messages are kept forever.
        </p>
        <ErrorNotice failure={listing.failure} />
        {!policies ? (
          listing.failure ? null : <p class="muted">Loading…</p>
        ) : rows.length === 0 ? (
          <p class="muted empty-state">No retention policies yet: every message is kept forever.</p>
        ) : (
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Retention policies">
            <table class="audit-table retention-table">
              <thead>
                <tr>
                  <th scope="col">Scope</th>
                  <th scope="col">Applies to</th>
                  <th scope="col">Keeps messages</th>
                  <th scope="col">Changed</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.key} data-retention={row.key}>
                    <td>{row.scopeLabel}</td>
                    <td>{row.targetLabel}</td>
                    <td>{row.daysLabel}</td>
                    <td>{formatDateTime(row.policy.updated_at)}</td>
                    <td>
                      <button
                        type="button"
                        class="button small"
                        onClick={() =>
                          update({
                            scope: row.policy.scope,
                            team: row.policy.team ?? '',
                            channelId: row.policy.channel_id === null ? '' : String(row.policy.channel_id),
                            days: row.policy.days === null ? '' : String(row.policy.days),
                            forever: row.policy.days === null,
                          })
                        }
                      >
                        Edit<span class="sr-only"> policy for {row.targetLabel}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section id="retention-set-title" title="Set a policy">
        <form class="compliance-form stack" aria-label="Set a retention policy" onSubmit={submit} noValidate>
          <div class="form-grid">
            <label class="field compact">
              <span>Scope</span>
              <select name="retention-scope" aria-label="Scope" value={form.scope} onChange={(event) => update({ scope: event.currentTarget.value as RetentionForm['scope'] })}>
                <option value="global">Global (every channel)</option>
                <option value="team">Team</option>
                <option value="channel">Channel</option>
              </select>
            </label>
            {form.scope === 'team' && (
              <label class="field compact">
                <span>Team name</span>
                <input name="retention-team" value={form.team} onInput={(event) => update({ team: event.currentTarget.value })} />
              </label>
            )}
            {form.scope === 'channel' && (
              <label class="field compact">
                <span>Channel</span>
                <select name="retention-channel" aria-label="Channel" value={form.channelId} onChange={(event) => update({ channelId: event.currentTarget.value })}>
                  <option value="">Choose a channel…</option>
                  {channels.map((channel) => (
                    <option key={channel.id} value={String(channel.id)}>
                      #{channel.name}
                    </option>
                  ))}
                </select>
              </label>
            )}
            <label class="field compact">
              <span>Days to keep (1–36500)</span>
              <input name="retention-days" inputMode="numeric" autoComplete="off" disabled={form.forever} value={form.days} onInput={(event) => update({ days: event.currentTarget.value })} />
            </label>
          </div>
          <label class="checkbox">
            <input type="checkbox" name="retention-forever" checked={form.forever} onChange={(event) => update({ forever: event.currentTarget.checked })} />
            <span>
              Keep forever
              <small class="muted">Clears the limit for this scope; a channel or team kept forever ignores the global policy.</small>
            </span>
          </label>
          <ErrorNotice failure={saving.failure} />
          {saved && (
            <p class="form-success" role="status">
              Saved — {saved}
            </p>
          )}
          <div class="row-actions">
            <button type="submit" class="button primary" disabled={saving.busy}>
              Save policy
            </button>
          </div>
        </form>
      </Section>
      <Section id="retention-run-title" title="Run retention now">
        <p class="muted">The server also applies retention on its own schedule. Running it now removes every expired message at once.</p>
        <div class="row-actions">
          <button type="button" class="button" disabled={running.busy} onClick={() => void running.act(async () => setReport(await complianceApi.runRetention(app.api)))}>
            {running.busy ? 'Running…' : 'Run retention now'}
          </button>
        </div>
        <ErrorNotice failure={running.failure} />
        {report && (
          <div class="result-box" role="status" data-testid="retention-report">
            <p>{purgeSummary(report)}</p>
            {report.oldest !== null && report.newest !== null && (
              <p class="muted">
                Removed messages were written between {formatDateTime(report.oldest)} and {formatDateTime(report.newest)}.
              </p>
            )}
          </div>
        )}
      </Section>
    </>
  );
}

// ---- legal holds -----------------------------------------------------------------

function HoldsPanel({ channels }: { channels: Channel[] }) {
  const app = useApp();
  const [holds, setHolds] = useState<LegalHold[] | null>(null);
  const [includeReleased, setIncludeReleased] = useState(false);
  const [creating, setCreating] = useState(false);
  const [confirming, setConfirming] = useState<number | null>(null);
  const load = async (released = includeReleased) => setHolds(sortHolds(await complianceApi.holds(app.api, released)));
  const listing = useAction();
  useEffect(() => void listing.act(() => load(includeReleased)), [includeReleased]);
  const names = channelNameMap(channels);
  const person = (id: number) => app.user(id)?.name ?? `Person ${id}`;
  return (
    <>
      <Section id="holds-title" title="Legal holds">
        <p class="muted">While a hold is active, nothing it covers is removed by retention or erasure.</p>
        <div class="row-actions">
          <button type="button" class="button primary" aria-expanded={creating} onClick={() => setCreating(!creating)}>
            New hold
          </button>
          <label class="checkbox inline">
            <input type="checkbox" name="include-released" checked={includeReleased} onChange={(event) => setIncludeReleased(event.currentTarget.checked)} />
            <span>Show released holds</span>
          </label>
        </div>
        {creating && (
          <HoldForm
            channels={channels}
            onCreated={async (hold) => {
              setCreating(false);
              app.toast(`The hold “${hold.name}” is active.`);
              await load();
            }}
            onCancel={() => setCreating(false)}
          />
        )}
        <ErrorNotice failure={listing.failure} />
        {!holds ? (
          listing.failure ? null : <p class="muted">Loading…</p>
        ) : holds.length === 0 ? (
          <p class="muted empty-state">{includeReleased ? 'No legal holds have been placed.' : 'No active legal holds.'}</p>
        ) : (
          <ul class="hold-list" role="list" aria-label="Legal holds">
            {holds.map((hold) => (
              <li key={hold.id} class={`hold${hold.active ? '' : ' released'}`} data-hold-id={hold.id}>
                <div class="hold-head">
                  <span class="hold-name">{hold.name}</span>
                  <span class={`pill${hold.active ? ' on' : ''}`}>{hold.active ? 'Active' : 'Released'}</span>
                </div>
                <dl class="hold-details">
                  <dt>Custodians</dt>
                  <dd>{hold.custodian_ids.length ? hold.custodian_ids.map(person).join(', ') : 'None'}</dd>
                  <dt>Channels</dt>
                  <dd>{hold.channel_ids.length ? hold.channel_ids.map((id) => (names.has(id) ? `#${names.get(id)}` : `Channel ${id}`)).join(', ') : 'None'}</dd>
                  <dt>Messages</dt>
                  <dd>
                    {hold.from === null && hold.to === null
                      ? 'All dates'
                      : `${hold.from === null ? 'from the beginning' : `from ${dayValue(hold.from)}`} ${hold.to === null ? 'onwards' : `to ${dayValue(hold.to - 1)}`}`}
                  </dd>
                  <dt>Placed</dt>
                  <dd>{formatDateTime(hold.created_at)}</dd>
                  {hold.released_at !== null && (
                    <>
                      <dt>Released</dt>
                      <dd>{formatDateTime(hold.released_at)}</dd>
                    </>
                  )}
                </dl>
                {hold.active &&
                  (confirming === hold.id ? (
                    <ReleaseConfirm
                      hold={hold}
                      onDone={async () => {
                        setConfirming(null);
                        await load();
                      }}
                      onCancel={() => setConfirming(null)}
                    />
                  ) : (
                    <div class="row-actions">
                      <button type="button" class="button small danger" onClick={() => setConfirming(hold.id)}>
                        Release<span class="sr-only"> hold {hold.name}</span>
                      </button>
                    </div>
                  ))}
              </li>
            ))}
          </ul>
        )}
      </Section>
    </>
  );
}

function ReleaseConfirm({ hold, onDone, onCancel }: { hold: LegalHold; onDone: () => Promise<void>; onCancel: () => void }) {
  const app = useApp();
  const { failure, busy, act } = useAction();
  const confirm = useRef<HTMLButtonElement>(null);
  useEffect(() => confirm.current?.focus(), []);
  return (
    <div class="confirm-box stack" role="group" aria-label={`Release hold ${hold.name}`}>
      <p>Release “{hold.name}”? Retention and erasure apply again to everything it covered. A released hold cannot be reactivated.</p>
      <ErrorNotice failure={failure} />
      <div class="row-actions">
        <button
          ref={confirm}
          type="button"
          class="button small danger"
          disabled={busy}
          onClick={() =>
            void act(async () => {
              await complianceApi.releaseHold(app.api, hold.id);
              app.toast(`The hold “${hold.name}” was released.`);
              await onDone();
            })
          }
        >
          Confirm release
        </button>
        <button type="button" class="button small" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function HoldForm({ channels, onCreated, onCancel }: { channels: Channel[]; onCreated: (hold: LegalHold) => Promise<void>; onCancel: () => void }) {
  const app = useApp();
  const [name, setName] = useState('');
  const [custodians, setCustodians] = useState<AdminUser[]>([]);
  const [channelIds, setChannelIds] = useState<number[]>([]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const { failure, problem, busy, act } = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    const custodianIds = custodians.map((person) => person.id);
    const issue = holdProblem({ name, custodianIds, channelIds, from, to });
    if (issue) return problem(issue);
    void act(async () => {
      const hold = await complianceApi.createHold(app.api, { name: name.trim(), custodian_ids: custodianIds, channel_ids: channelIds, from: from || undefined, to: to || undefined });
      for (const person of custodians) app.users.set(person.id, person);
      await onCreated(hold);
    });
  };
  return (
    <form class="compliance-form stack" aria-label="New legal hold" onSubmit={submit} noValidate>
      <label class="field compact">
        <span>Hold name</span>
        <input name="hold-name" autoComplete="off" maxLength={100} value={name} onInput={(event) => setName(event.currentTarget.value)} />
      </label>
      <PeoplePicker label="Custodians" name="hold-custodian-search" selected={custodians} onChange={setCustodians} />
      <ChannelPicker legend="Channels" channels={channels} selected={channelIds} onChange={setChannelIds} />
      <DateRange prefix="hold" from={from} to={to} onFrom={setFrom} onTo={setTo} />
      <ErrorNotice failure={failure} />
      <div class="row-actions">
        <button type="submit" class="button primary" disabled={busy}>
          Place hold
        </button>
        <button type="button" class="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

// ---- exports -------------------------------------------------------------------

const FILES_SHOWN = 12;

function ExportsPanel({ channels }: { channels: Channel[] }) {
  const app = useApp();
  const [exports, setExports] = useState<ExportRecord[] | null>(null);
  const [format, setFormat] = useState<ExportFormat>('jsonl');
  const [custodians, setCustodians] = useState<AdminUser[]>([]);
  const [channelIds, setChannelIds] = useState<number[]>([]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [created, setCreated] = useState<ExportRecord | null>(null);
  const load = async () => setExports(await complianceApi.exports(app.api));
  const listing = useAction();
  const creating = useAction(load);
  useEffect(() => void listing.act(load), []);
  const submit = (event: Event) => {
    event.preventDefault();
    const issue = exportProblem({ format, from, to });
    if (issue) return creating.problem(issue);
    setCreated(null);
    void creating.act(async () => {
      const record = await complianceApi.createExport(app.api, {
        format,
        custodian_ids: custodians.map((person) => person.id),
        channel_ids: channelIds,
        from: from || undefined,
        to: to || undefined,
      });
      setCreated(record);
    });
  };
  return (
    <>
      <Section id="export-new-title" title="New eDiscovery export">
        <form class="compliance-form stack" aria-label="New export" onSubmit={submit} noValidate>
          <label class="field compact">
            <span>Format</span>
            <select name="export-format" aria-label="Format" value={format} onChange={(event) => setFormat(event.currentTarget.value as ExportFormat)}>
              {EXPORT_FORMATS.map((option) => (
                <option key={option} value={option}>
                  {FORMAT_LABELS[option]}
                </option>
              ))}
            </select>
          </label>
          <p class="muted">Leave custodians and channels empty to export every conversation.</p>
          <PeoplePicker label="Custodians" name="export-custodian-search" selected={custodians} onChange={setCustodians} />
          <ChannelPicker legend="Channels" channels={channels} selected={channelIds} onChange={setChannelIds} />
          <DateRange prefix="export" from={from} to={to} onFrom={setFrom} onTo={setTo} />
          <ErrorNotice failure={creating.failure} />
          {created && (
            <p class="form-success" role="status">
              Export {created.id} is ready: {manifestCounts(created.manifest)}.
            </p>
          )}
          <div class="row-actions">
            <button type="submit" class="button primary" disabled={creating.busy}>
              {creating.busy ? 'Exporting…' : 'Create export'}
            </button>
          </div>
        </form>
      </Section>
      <Section id="exports-title" title="Past exports">
        <ErrorNotice failure={listing.failure} />
        {!exports ? (
          listing.failure ? null : <p class="muted">Loading…</p>
        ) : exports.length === 0 ? (
          <p class="muted empty-state">No exports yet.</p>
        ) : (
          <ul class="export-list" role="list" aria-label="Past exports">
            {exports.map((record) => (
              <ExportItem key={record.id} record={record} />
            ))}
          </ul>
        )}
      </Section>
    </>
  );
}

function ExportItem({ record }: { record: ExportRecord }) {
  const app = useApp();
  const [showAll, setShowAll] = useState(false);
  const { failure, act } = useAction();
  const { manifest } = record;
  const created = rfc3339Millis(manifest.created_at);
  const files = showAll ? manifest.files : manifest.files.slice(0, FILES_SHOWN);
  const download = (name: string) => void act(async () => saveBlob(await complianceApi.exportFile(app.api, record.id, name), downloadName(record.id, name)));
  return (
    <li class="export-item" data-export-id={record.id}>
      <div class="hold-head">
        <span class="hold-name">{FORMAT_LABELS[manifest.format] ?? manifest.format}</span>
        <span class="muted">{created === null ? manifest.created_at : formatDateTime(created)}</span>
      </div>
      <p class="export-meta">
        <span class="muted">Export </span>
        <code>{record.id}</code>
      </p>
      <p class="export-meta">{manifestCounts(manifest)}</p>
      <p class="export-meta muted">Filters: {manifestFilters(manifest)}</p>
      <ErrorNotice failure={failure} />
      <ul class="export-files" role="list" aria-label={`Files of export ${record.id}`}>
        <li>
          <button type="button" class="link-button" onClick={() => download('manifest.json')}>
            Download manifest.json<span class="sr-only"> of export {record.id}</span>
          </button>
        </li>
        {files.map((file) => (
          <li key={file.name}>
            <button type="button" class="link-button" onClick={() => download(file.name)}>
              Download {file.name}
              <span class="sr-only"> of export {record.id}</span>
            </button>
            <span class="muted"> {formatBytes(file.bytes)}</span>
          </li>
        ))}
      </ul>
      {manifest.files.length > FILES_SHOWN && (
        <button type="button" class="button small" aria-expanded={showAll} onClick={() => setShowAll(!showAll)}>
          {showAll ? 'Show fewer files' : `Show all ${manifest.files.length} files`}
        </button>
      )}
    </li>
  );
}

// ---- erasure -------------------------------------------------------------------

function ErasurePanel() {
  const app = useApp();
  const [people, setPeople] = useState<AdminUser[]>([]);
  const [typed, setTyped] = useState('');
  const [result, setResult] = useState<{ person: AdminUser; erasure: Erasure } | null>(null);
  const [refusal, setRefusal] = useState<{ person: AdminUser; hold: string | null; message: string } | null>(null);
  const { failure, setFailure } = useAction();
  const [busy, setBusy] = useState(false);
  const person = people[0] ?? null;
  const confirmed = person !== null && erasureConfirmed(typed, person.email);
  const choose = (chosen: AdminUser[]) => {
    setPeople(chosen);
    setTyped('');
    setFailure(null);
    setRefusal(null);
    setResult(null);
  };
  const submit = (event: Event) => {
    event.preventDefault();
    if (!person || !confirmed) return;
    setRefusal(null);
    setResult(null);
    void (async () => {
      setBusy(true);
      try {
        setFailure(null);
        const erasure = await complianceApi.erase(app.api, person.id);
        setResult({ person, erasure });
        setPeople([]);
        setTyped('');
      } catch (error) {
        const described = describeFailure(error);
        if (described.code === 'conflict') setRefusal({ person, hold: holdNameFromRefusal(described.message), message: described.message });
        else setFailure(described);
      } finally {
        setBusy(false);
      }
    })();
  };
  return (
    <Section id="erasure-title" title="Erase a person">
      <p class="muted">
        Erasure answers a data-subject request: everything the person wrote, their earlier versions and their files become unrecoverable, and their profile is anonymised. It cannot be undone, and it is
        refused while a legal hold covers them.
      </p>
      <PeoplePicker label="Person to erase" name="erasure-search" selected={people} onChange={choose} single excludeIds={app.me ? [app.me.id] : []} />
      {person && (
        <form class="compliance-form stack danger-zone" aria-label={`Erase ${person.name}`} onSubmit={submit} noValidate>
          <label class="field compact">
            <span>
              Type <strong>{person.email}</strong> to confirm
            </span>
            <input name="erasure-confirm" autoComplete="off" spellcheck={false} value={typed} onInput={(event) => setTyped(event.currentTarget.value)} />
          </label>
          <div class="row-actions">
            <button type="submit" class="button danger" disabled={!confirmed || busy}>
              Erase {person.name} permanently
            </button>
          </div>
        </form>
      )}
      <ErrorNotice failure={failure} />
      {refusal && (
        <div class="form-error refusal" role="alert">
          {/* Said once, in plain words: the server's own wording only when no hold could be named. */}
          <p>
            <strong>Erasure refused.</strong>{' '}
            {refusal.hold
              ? `The legal hold “${refusal.hold}” covers ${refusal.person.name}, so nothing of theirs can be erased while it is in place. Release the hold first, then erase again.`
              : refusal.message}
          </p>
        </div>
      )}
      {result && (
        <div class="result-box" role="status" data-testid="erasure-result">
          <p>
            <strong>{result.person.name} was erased.</strong> {plural(result.erasure.messages, 'message')}, {plural(result.erasure.versions, 'earlier version')},{' '}
            {plural(result.erasure.attachments, 'attachment')} removed; {plural(result.erasure.events_redacted, 'journal entry', 'journal entries')} redacted.
          </p>
          {result.erasure.keys_destroyed > 0 && (
            <p data-testid="erasure-keys">Their encryption key was destroyed, so copies in backups cannot be read either.</p>
          )}
        </div>
      )}
      {busy && <p class="muted">Erasing…</p>}
    </Section>
  );
}

// ---- journal ---------------------------------------------------------------------

function JournalPanel() {
  const app = useApp();
  const [verdict, setVerdict] = useState<JournalVerdict | null>(null);
  const [checkpoint, setCheckpoint] = useState<JournalCheckpoint | null>(null);
  const [copied, setCopied] = useState(false);
  const verifying = useAction();
  const loading = useAction();
  const loadCheckpoint = () =>
    void loading.act(async () => {
      setCheckpoint(await complianceApi.checkpoint(app.api));
      setCopied(false);
    });
  useEffect(loadCheckpoint, []);
  const checkpointText = checkpoint ? JSON.stringify(checkpoint) : '';
  return (
    <>
      <Section id="journal-verify-title" title="Verify the journal">
        <p class="muted">Recomputes the journal’s hash chain and checks every stored message against it.</p>
        <div class="row-actions">
          <button type="button" class="button primary" disabled={verifying.busy} onClick={() => void verifying.act(async () => setVerdict(await complianceApi.verifyJournal(app.api)))}>
            {verifying.busy ? 'Verifying…' : 'Verify journal'}
          </button>
        </div>
        <ErrorNotice failure={verifying.failure} />
        {verdict &&
          (verdict.intact ? (
            <p class="result-box verdict intact" role="status" data-testid="journal-verdict">
              <strong>Intact.</strong> {plural(verdict.checked ?? 0, 'entry', 'entries')} checked.
            </p>
          ) : (
            <div class="form-error verdict broken" role="alert" data-testid="journal-verdict">
              <p>
                <strong>Broken</strong> at position {verdict.broken_position ?? '?'}
                {verdict.broken_position === 0 ? ' (a stored message has no journal entry)' : ''}.
              </p>
              {verdict.problem && <p>{verdict.problem}</p>}
            </div>
          ))}
      </Section>
      <Section id="journal-checkpoint-title" title="Current checkpoint">
        <p class="muted">Keep this outside Conclave (for example in a ticket or a signed email): a later verification proves the journal still extends it.</p>
        <ErrorNotice failure={loading.failure} />
        {!checkpoint ? (
          loading.failure ? null : <p class="muted">Loading…</p>
        ) : (
          <dl class="secret-box checkpoint" data-testid="journal-checkpoint">
            <dt>Position</dt>
            <dd data-field="position">{checkpoint.position}</dd>
            <dt>Hash</dt>
            <dd>
              <code class="secret small" data-field="hash">
                {checkpoint.hash}
              </code>
            </dd>
            <dt>Taken</dt>
            <dd data-field="at">{rfc3339Millis(checkpoint.at) === null ? checkpoint.at : `${formatDateTime(rfc3339Millis(checkpoint.at)!)} (${checkpoint.at})`}</dd>
          </dl>
        )}
        <div class="row-actions">
          <button
            type="button"
            class="button small"
            disabled={!checkpoint}
            onClick={() =>
              void navigator.clipboard
                ?.writeText(checkpointText)
                .then(() => setCopied(true))
                .catch(() => loading.problem('Copying failed; select the hash and copy it yourself.'))
            }
          >
            {copied ? 'Copied' : 'Copy checkpoint'}
          </button>
          <button type="button" class="button small" disabled={loading.busy} onClick={loadCheckpoint}>
            Refresh
          </button>
        </div>
      </Section>
    </>
  );
}
