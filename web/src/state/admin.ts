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

/** How much a role may do, lowest first: raising a role gives more power. */
const ROLE_RANK: Record<Role, number> = { guest: 0, member: 1, compliance: 2, admin: 3, owner: 4 };

export const ROLE_NAMES: Record<Role, string> = {
  owner: 'owner',
  admin: 'admin',
  compliance: 'compliance officer',
  member: 'member',
  guest: 'guest',
};

/** What each role may do, in one line, for confirmations. */
const ROLE_POWERS: Record<Role, string> = {
  owner: 'full control of the workspace, including every admin and the compliance archive',
  admin: 'manage people, guests, channels and security settings',
  compliance: 'read the audit log and every edit history, set retention and legal holds, export and erase',
  member: 'create channels and message anyone in the workspace',
  guest: 'see only the channels they are invited to',
};

export interface Confirmation {
  title: string;
  body: string;
  confirmLabel: string;
}

/** Whether moving from `from` to `to` gives more power. */
export function raisesPrivileges(from: Role, to: Role): boolean {
  return ROLE_RANK[to] > ROLE_RANK[from];
}

/** The question an admin answers before a role change is saved. */
export function roleChangeConfirmation(name: string, from: Role, to: Role): Confirmation {
  const raising = raisesPrivileges(from, to);
  return {
    title: `Make ${name} ${article(ROLE_NAMES[to])} ${ROLE_NAMES[to]}?`,
    body: `${name} is ${article(ROLE_NAMES[from])} ${ROLE_NAMES[from]} now. As ${article(ROLE_NAMES[to])} ${ROLE_NAMES[to]} they will be able to ${ROLE_POWERS[to]}.${
      raising ? '' : ` They lose what ${article(ROLE_NAMES[from])} ${ROLE_NAMES[from]} may do.`
    } The change takes effect at once and is recorded in the audit log.`,
    confirmLabel: raising ? `Make ${ROLE_NAMES[to]}` : `Change to ${ROLE_NAMES[to]}`,
  };
}

/** The question before deactivating an account. */
export function deactivationConfirmation(name: string): Confirmation {
  return {
    title: `Deactivate ${name}?`,
    body: `${name} is signed out everywhere at once: every session, open window and access token stops working, and they cannot sign in again until someone reactivates the account. Their messages stay.`,
    confirmLabel: 'Deactivate',
  };
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** WhatsApp customers are stored as accounts that never sign in; they are not staff. */
export function isExternalContact(user: Pick<User, 'email'>): boolean {
  return user.email.endsWith('@whatsapp.invalid');
}
