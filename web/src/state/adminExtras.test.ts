import { describe, expect, it } from 'vitest';
import { dayValue, deviceLabel, ruleRows, sortScimTokens, unitNameProblem } from './adminExtras';

describe('admin extras', () => {
  it('turns milliseconds into a date input value', () => {
    expect(dayValue(Date.UTC(2026, 0, 31, 23, 59))).toBe('2026-01-31');
    expect(dayValue(null)).toBe('');
  });
  it('checks unit names for emptiness and case-insensitive clashes', () => {
    const units = [{ id: 1, name: 'Support' }];
    expect(unitNameProblem('  ', units)).toBe('Enter a name.');
    expect(unitNameProblem('support', units)).toMatch(/already taken/);
    expect(unitNameProblem('SUPPORT', units, 1)).toBeNull();
    expect(unitNameProblem('Sales', units)).toBeNull();
  });
  it('labels and sorts auto-membership rules', () => {
    const units = [
      { id: 1, kind: 'team' as const, name: 'Support', external_id: null, member_count: 1, created_at: 0, updated_at: 0 },
      { id: 2, kind: 'department' as const, name: 'Sales', external_id: null, member_count: 0, created_at: 0, updated_at: 0 },
    ];
    const rows = ruleRows(
      [
        { id: 10, unit_id: 1, channel_id: 5, created_by: null, created_at: 0 },
        { id: 11, unit_id: 2, channel_id: 6, created_by: null, created_at: 0 },
        { id: 12, unit_id: 9, channel_id: 7, created_by: null, created_at: 0 },
      ],
      units,
      new Map([[5, 'help']]),
    );
    expect(rows.map((row) => [row.unitLabel, row.channelLabel])).toEqual([
      ['Department Sales', 'Channel 6'],
      ['Team Support', '#help'],
      ['Unit 9', 'Channel 7'],
    ]);
  });
  it('puts active SCIM tokens first, newest first', () => {
    const token = (id: number, created_at: number, revoked_at: number | null) => ({ id, name: `t${id}`, created_at, last_used_at: null, revoked_at });
    expect(sortScimTokens([token(1, 1, null), token(2, 3, 5), token(3, 2, null)]).map((t) => t.id)).toEqual([3, 1, 2]);
  });
  it('describes devices', () => {
    expect(deviceLabel('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36')).toBe('Chrome on Linux');
    expect(deviceLabel(null)).toBe('Unknown device');
  });
});
