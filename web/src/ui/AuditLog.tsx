//! The audit log tab of the admin console: who did what to whom and when,
//! with people shown by name and email (not "user 3"), filters with a
//! person picker for the actor, and the JSON Lines export.

import { useEffect, useMemo, useState } from 'preact/hooks';
import type { AdminUser, AuditEntry } from '../api/types';
import { auditQuery, type AuditFilters } from '../state/admin';
import { errorText } from '../state/app';
import { formatDateTime } from '../util/format';
import { useApp } from './context';

export function AuditLog() {
  const app = useApp();
  const [filters, setFilters] = useState<AuditFilters>({});
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [people, setPeople] = useState<Map<number, AdminUser>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const load = (current = filters) => {
    setError(null);
    app.api
      .audit(auditQuery(current, 200))
      .then(setEntries)
      .catch((failure) => setError(errorText(failure)));
  };
  useEffect(() => {
    load();
    // Everyone who may read the audit log may list every account: names for the ids.
    app.api
      .adminUsers({ limit: 1000 })
      .then((list) => setPeople(new Map(list.map((user) => [user.id, user] as const))))
      .catch(() => undefined);
  }, []);
  const download = async () => {
    try {
      const blob = await app.api.auditExport(auditQuery(filters));
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `conclave-audit-${new Date().toISOString().slice(0, 10)}.jsonl`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const field = (key: 'action' | 'targetKind' | 'from' | 'to', label: string, type: 'text' | 'date' = 'text') => (
    <label class="field compact">
      <span>{label}</span>
      {type === 'date' ? (
        <input type="date" name={`audit-${key}`} value={filters[key] ?? ''} onInput={(event) => setFilters({ ...filters, [key]: event.currentTarget.value })} />
      ) : (
        <input type="text" name={`audit-${key}`} value={filters[key] ?? ''} onInput={(event) => setFilters({ ...filters, [key]: event.currentTarget.value })} />
      )}
    </label>
  );
  const actor = filters.actorId ? people.get(Number(filters.actorId)) : undefined;
  return (
    <div class="stack">
      <form
        class="audit-filters"
        onSubmit={(event) => {
          event.preventDefault();
          load();
        }}
      >
        {field('action', 'Action')}
        <ActorPicker
          people={people}
          chosen={actor ?? null}
          onChange={(person) => {
            const next = { ...filters, actorId: person ? String(person.id) : undefined };
            setFilters(next);
            load(next);
          }}
        />
        {field('targetKind', 'Target kind')}
        {field('from', 'From', 'date')}
        {field('to', 'To', 'date')}
        <div class="row-actions">
          <button type="submit" class="button primary">
            Filter
          </button>
          <button type="button" class="button" onClick={() => void download()}>
            Export JSON Lines
          </button>
        </div>
      </form>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {!entries ? (
        <p class="muted">Loading…</p>
      ) : entries.length === 0 ? (
        <p class="muted">No entries match.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Audit entries">
          <table class="audit-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => {
                const who = entry.actor_id !== null ? people.get(entry.actor_id) : undefined;
                return (
                  <tr key={entry.id}>
                    <td>{formatDateTime(entry.at)}</td>
                    <td>{who ? <PersonCell person={who} /> : entry.actor_label}</td>
                    <td>
                      <code>{entry.action}</code>
                    </td>
                    <td>
                      <TargetCell entry={entry} people={people} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function PersonCell({ person }: { person: AdminUser }) {
  return (
    <span class="audit-person">
      <span>{person.name}</span>
      <span class="muted">{person.email}</span>
    </span>
  );
}

/** The target in words: a person by name and email, a channel by its name, anything else by kind and id. */
function TargetCell({ entry, people }: { entry: AuditEntry; people: Map<number, AdminUser> }) {
  const app = useApp();
  const id = entry.target_id !== null && /^\d+$/.test(entry.target_id) ? Number(entry.target_id) : null;
  if (entry.target_kind === 'user' && id !== null) {
    const person = people.get(id);
    if (person) return <PersonCell person={person} />;
  }
  if (entry.target_kind === 'channel' && id !== null) {
    const channel = app.channels.summaries.get(id)?.channel;
    if (channel && (channel.kind === 'public' || channel.kind === 'private')) return <span>#{channel.name}</span>;
  }
  return (
    <span>
      {entry.target_kind}
      {entry.target_id ? ` ${entry.target_id}` : ''}
    </span>
  );
}

/** Chooses the actor filter by name or email; Enter takes the only match. */
function ActorPicker({ people, chosen, onChange }: { people: Map<number, AdminUser>; chosen: AdminUser | null; onChange: (person: AdminUser | null) => void }) {
  const [query, setQuery] = useState('');
  const matches = useMemo(() => {
    const needle = query.trim().toLowerCase();
    if (!needle) return [];
    return [...people.values()].filter((person) => person.name.toLowerCase().includes(needle) || person.email.toLowerCase().includes(needle)).slice(0, 6);
  }, [query, people]);
  const pick = (person: AdminUser) => {
    setQuery('');
    onChange(person);
  };
  if (chosen) {
    return (
      <div class="field compact actor-chosen">
        <span>Actor</span>
        <span class="chip">
          {chosen.name}
          <button type="button" aria-label={`Remove actor filter ${chosen.name}`} onClick={() => onChange(null)}>
            ×
          </button>
        </span>
      </div>
    );
  }
  return (
    <div class="field compact actor-picker">
      <label for="audit-actor">Actor</label>
      <input
        id="audit-actor"
        type="search"
        name="audit-actor"
        autoComplete="off"
        placeholder="Name or email"
        value={query}
        onInput={(event) => setQuery(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && matches.length === 1) {
            event.preventDefault();
            pick(matches[0]!);
          } else if (event.key === 'Escape' && query) {
            event.preventDefault();
            event.stopPropagation();
            setQuery('');
          }
        }}
      />
      {matches.length > 0 && (
        <ul class="actor-matches" role="list" aria-label="Matching people">
          {matches.map((person) => (
            <li key={person.id}>
              <button type="button" class="link-button" onClick={() => pick(person)}>
                {person.name} <span class="muted">{person.email}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
