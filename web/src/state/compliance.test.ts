import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { exportFilePath, type ExportManifest, type LegalHold, type RetentionPolicy } from '../api/compliance';
import {
  dateRangeProblem,
  describeFailure,
  downloadName,
  erasureConfirmed,
  exportProblem,
  holdNameFromRefusal,
  holdProblem,
  manifestCounts,
  manifestFilters,
  mayUseCompliance,
  parseRetentionDays,
  purgeSummary,
  retentionRequest,
  retentionRows,
  sortHolds,
} from './compliance';

describe('retention days', () => {
  it.each([
    ['1', { days: 1 }],
    [' 365 ', { days: 365 }],
    ['36500', { days: 36_500 }],
  ])('accepts %j', (text, expected) => {
    expect(parseRetentionDays(text)).toEqual(expected);
  });
  it.each([
    ['', /Enter a number of days/],
    ['0', /between 1 and 36500/],
    ['36501', /between 1 and 36500/],
    ['-5', /whole days/],
    ['1.5', /whole days/],
    ['ten', /whole days/],
    ['1e3', /whole days/],
  ])('refuses %j', (text, problem) => {
    const outcome = parseRetentionDays(text);
    expect('problem' in outcome && outcome.problem).toMatch(problem);
  });
});

describe('retention requests', () => {
  const form = { scope: 'channel' as const, team: '', channelId: '7', days: '30', forever: false };
  it('builds global, team and channel requests', () => {
    expect(retentionRequest({ ...form, scope: 'global' })).toEqual({ request: { scope: 'global', days: 30 } });
    expect(retentionRequest({ ...form, scope: 'team', team: ' Sales ' })).toEqual({ request: { scope: 'team', team: 'Sales', days: 30 } });
    expect(retentionRequest(form)).toEqual({ request: { scope: 'channel', channel_id: 7, days: 30 } });
  });
  it('keeps forever with null days, ignoring the days field', () => {
    expect(retentionRequest({ ...form, days: 'nonsense', forever: true })).toEqual({ request: { scope: 'channel', channel_id: 7, days: null } });
  });
  it('asks for the target and valid days', () => {
    expect(retentionRequest({ ...form, channelId: '' })).toEqual({ problem: 'Choose a channel.' });
    expect(retentionRequest({ ...form, scope: 'team', team: '  ' })).toEqual({ problem: 'Enter the team’s name.' });
    expect(retentionRequest({ ...form, days: '0' })).toHaveProperty('problem');
  });
  it('lists policies global first, then teams, then channels by label', () => {
    const policy = (scope: RetentionPolicy['scope'], days: number | null, extra: Partial<RetentionPolicy> = {}): RetentionPolicy => ({ scope, team: null, channel_id: null, days, updated_at: 0, ...extra });
    const rows = retentionRows(
      [policy('channel', 30, { channel_id: 9 }), policy('channel', 1, { channel_id: 5 }), policy('team', null, { team: 'Legal' }), policy('global', 3650)],
      new Map([[5, 'zeta']]),
    );
    expect(rows.map((row) => [row.key, row.targetLabel, row.daysLabel])).toEqual([
      ['global', 'Every channel without its own policy', '3,650 days'],
      ['team:Legal', 'Team Legal', 'Kept forever'],
      ['channel:5', '#zeta', '1 day'],
      ['channel:9', 'Channel 9', '30 days'],
    ]);
  });
  it('summarises a retention run', () => {
    expect(purgeSummary({ messages: 2, versions: 1, reactions: 0, attachments: 1, events_redacted: 3, held: 0, oldest: 1, newest: 2 })).toBe(
      'Removed 2 messages, 1 earlier version, 0 reactions, 1 attachment; 3 journal entries redacted.',
    );
    expect(purgeSummary({ messages: 0, versions: 0, reactions: 0, attachments: 0, events_redacted: 0, held: 1, oldest: null, newest: null })).toMatch(/1 expired message kept because a legal hold covers it\.$/);
  });
});

describe('dates', () => {
  it('accepts empty, single and ordered days (the end day is included)', () => {
    expect(dateRangeProblem('', '')).toBeNull();
    expect(dateRangeProblem('2026-01-01', '')).toBeNull();
    expect(dateRangeProblem('2026-01-01', '2026-01-01')).toBeNull();
  });
  it('refuses reversed ranges and non-dates', () => {
    expect(dateRangeProblem('2026-02-01', '2026-01-31')).toMatch(/before the start/);
    expect(dateRangeProblem('01/02/2026', '')).toMatch(/start date is not a date/);
    expect(dateRangeProblem('', '2026-13-45')).toMatch(/end date is not a date/);
  });
});

describe('legal holds', () => {
  const form = { name: 'Matter 42', custodianIds: [3], channelIds: [], from: '', to: '' };
  it('needs a name, something to hold and a valid range', () => {
    expect(holdProblem(form)).toBeNull();
    expect(holdProblem({ ...form, custodianIds: [], channelIds: [4] })).toBeNull();
    expect(holdProblem({ ...form, name: '   ' })).toMatch(/Name the hold/);
    expect(holdProblem({ ...form, name: 'x'.repeat(101) })).toMatch(/at most 100/);
    expect(holdProblem({ ...form, name: 'a\u0007b' })).toMatch(/control characters/);
    expect(holdProblem({ ...form, custodianIds: [] })).toMatch(/at least one custodian or channel/);
    expect(holdProblem({ ...form, from: '2026-03-02', to: '2026-03-01' })).toMatch(/before the start/);
  });
  it('counts the name in characters, not UTF-16 units', () => {
    expect(holdProblem({ ...form, name: '📁'.repeat(100) })).toBeNull();
  });
  it('sorts active holds first, newest first', () => {
    const hold = (id: number, created_at: number, active: boolean): LegalHold => ({ id, name: `h${id}`, custodian_ids: [], channel_ids: [], from: null, to: null, created_at, released_at: active ? null : created_at + 1, active });
    expect(sortHolds([hold(1, 1, true), hold(2, 5, false), hold(3, 3, true)]).map((h) => h.id)).toEqual([3, 1, 2]);
  });
  it('reads the hold named in an erasure refusal', () => {
    expect(holdNameFromRefusal('the legal hold "Matter 42" covers this person; release it before erasing')).toBe('Matter 42');
    expect(holdNameFromRefusal('the legal hold "Say \\"hi\\" \\\\ now" covers this person')).toBe('Say "hi" \\ now');
    expect(holdNameFromRefusal('the legal hold "caf\\u{e9}" covers this person')).toBe('café');
    expect(holdNameFromRefusal('something else')).toBeNull();
  });
});

describe('erasure', () => {
  it('is confirmed only by the person’s email, ignoring case and spaces', () => {
    expect(erasureConfirmed(' Erin@Example.com ', 'erin@example.com')).toBe(true);
    expect(erasureConfirmed('erin@example.co', 'erin@example.com')).toBe(false);
    expect(erasureConfirmed('', '')).toBe(false);
  });
});

describe('exports', () => {
  const manifest: ExportManifest = {
    format: 'csv',
    created_at: '2026-11-22T05:00:00.000Z',
    filters: { from: '2026-01-01', to: null, custodians: ['erin@example.com'], channels: ['general', 'conversation 12'] },
    counts: { channels: 2, messages: 1, versions: 0, edits: 0, deletions: 1, attachments: 0, missing_attachments: 0, membership_changes: 0, files: 1 },
    files: [{ name: 'messages.csv', bytes: 10, sha256: 'ab' }],
  };
  it('describes counts and filters', () => {
    expect(manifestCounts(manifest)).toBe('1 message · 2 channels · 0 attachments · 1 file · 1 deletion');
    expect(manifestFilters(manifest)).toBe('custodians erin@example.com; channels #general, conversation 12; from 2026-01-01');
    expect(manifestFilters({ ...manifest, filters: { from: null, to: null, custodians: [], channels: [] } })).toBe('everything');
  });
  it('validates the format and range', () => {
    expect(exportProblem({ format: 'eml', from: '', to: '' })).toBeNull();
    expect(exportProblem({ format: 'pdf', from: '', to: '' })).toBe('Choose a format.');
    expect(exportProblem({ format: 'csv', from: '2026-02-02', to: '2026-02-01' })).toMatch(/before/);
  });
  it('builds download paths and names', () => {
    expect(exportFilePath('1700-abc', 'eml/general/12 #1.eml')).toBe('/compliance/exports/1700-abc/files/eml/general/12%20%231.eml');
    expect(downloadName('1700-abc', 'eml/general/12.eml')).toBe('1700-abc-12.eml');
  });
});

describe('access and failures', () => {
  it('opens the console to compliance officers and owners only', () => {
    expect(['owner', 'admin', 'compliance', 'member', 'guest'].filter((role) => mayUseCompliance(role))).toEqual(['owner', 'compliance']);
    expect(mayUseCompliance(undefined)).toBe(false);
  });
  it('keeps the server’s code and message', () => {
    expect(describeFailure(new ApiError(409, 'conflict', 'a hold named "X" already exists'))).toEqual({ message: 'a hold named "X" already exists', code: 'conflict' });
    expect(describeFailure(new ApiError(0, 'network', 'Cannot reach the server.'))).toEqual({ message: 'Cannot reach the server.', code: null });
    expect(describeFailure('odd')).toEqual({ message: 'Something went wrong.', code: null });
  });
});
