//! Pure rules behind the admin console: who may change which role, and how
//! audit filters become a query string.

import type { Role, User } from '../api/types';

export const ROLES: Role[] = ['owner', 'admin', 'compliance', 'member', 'guest'];

/** The roles `actor` may give `target` (empty when the role cannot be changed). Mirrors docs/permissions.md. */
export function assignableRoles(actor: Pick<User, 'id' | 'role'>, target: Pick<User, 'id' | 'role'>): Role[] {
  if (actor.id === target.id) return [];
  if (actor.role === 'owner') return ROLES;
  if (actor.role !== 'admin') return [];
  if (target.role === 'owner' || target.role === 'admin') return [];
  return ['compliance', 'member', 'guest'];
}

/** Whether `actor` may deactivate or reactivate `target`. */
export function mayToggleActive(actor: Pick<User, 'id' | 'role'>, target: Pick<User, 'id' | 'role'>): boolean {
  if (actor.id === target.id) return false;
  if (actor.role === 'owner') return true;
  return actor.role === 'admin' && target.role !== 'owner' && target.role !== 'admin';
}

export interface AuditFilters {
  action?: string;
  actorId?: string;
  targetKind?: string;
  /** YYYY-MM-DD, from the start of the day (UTC). */
  from?: string;
  /** YYYY-MM-DD, to the end of the day (UTC). */
  to?: string;
}

const DAY_MS = 86_400_000;

export function auditQuery(filters: AuditFilters, limit?: number): string {
  const params = new URLSearchParams();
  if (filters.action?.trim()) params.set('action', filters.action.trim());
  if (filters.actorId?.trim() && /^\d+$/.test(filters.actorId.trim())) params.set('actor_id', filters.actorId.trim());
  if (filters.targetKind?.trim()) params.set('target_kind', filters.targetKind.trim());
  const from = dayStart(filters.from);
  if (from !== null) params.set('from', String(from));
  const to = dayStart(filters.to);
  if (to !== null) params.set('to', String(to + DAY_MS - 1));
  if (limit) params.set('limit', String(limit));
  return params.toString();
}

function dayStart(day: string | undefined): number | null {
  if (!day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const millis = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(millis) ? millis : null;
}

/** Milliseconds for the end of a YYYY-MM-DD day (UTC), for guest expiry. */
export function endOfDay(day: string): number | null {
  const start = dayStart(day);
  return start === null ? null : start + DAY_MS - 1;
}
