import { describe, expect, it } from 'vitest';
import { assignableRoles, auditQuery, endOfDay, mayToggleActive } from './admin';

describe('admin role rules', () => {
  const owner = { id: 1, role: 'owner' as const };
  const admin = { id: 2, role: 'admin' as const };
  const member = { id: 3, role: 'member' as const };
  it('owners manage everyone but themselves', () => {
    expect(assignableRoles(owner, admin)).toContain('owner');
    expect(assignableRoles(owner, owner)).toEqual([]);
    expect(mayToggleActive(owner, admin)).toBe(true);
  });
  it('admins manage members, compliance and guests only', () => {
    expect(assignableRoles(admin, member)).toEqual(['compliance', 'member', 'guest']);
    expect(assignableRoles(admin, { id: 4, role: 'admin' })).toEqual([]);
    expect(mayToggleActive(admin, owner)).toBe(false);
    expect(mayToggleActive(admin, member)).toBe(true);
  });
  it('nobody else changes roles', () => {
    expect(assignableRoles({ id: 5, role: 'compliance' }, member)).toEqual([]);
    expect(mayToggleActive(member, { id: 9, role: 'guest' })).toBe(false);
  });
});

describe('audit query', () => {
  it('turns filters into parameters with whole UTC days', () => {
    const query = new URLSearchParams(auditQuery({ action: ' user.role ', actorId: '7', from: '2026-01-02', to: '2026-01-02' }, 100));
    expect(query.get('action')).toBe('user.role');
    expect(query.get('actor_id')).toBe('7');
    expect(Number(query.get('from'))).toBe(Date.UTC(2026, 0, 2));
    expect(Number(query.get('to'))).toBe(Date.UTC(2026, 0, 3) - 1);
    expect(query.get('limit')).toBe('100');
  });
  it('ignores empty or malformed filters', () => {
    expect(auditQuery({ actorId: 'abc', from: 'yesterday' })).toBe('');
    expect(endOfDay('nope')).toBeNull();
  });
});
