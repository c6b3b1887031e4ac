//! Pure helpers behind the admin console's security and directory pages.

import type { AutoRule, OrgUnit, ScimToken } from '../api/adminExtras';

/** A YYYY-MM-DD value (UTC) for a date input, from milliseconds. */
export function dayValue(millis: number | null | undefined): string {
  if (millis === null || millis === undefined || !Number.isFinite(millis)) return '';
  return new Date(millis).toISOString().slice(0, 10);
}

/** Why a department or team name cannot be used (names are unique per kind, ignoring case), or null. */
export function unitNameProblem(name: string, existing: Pick<OrgUnit, 'id' | 'name'>[], exceptId?: number): string | null {
  const trimmed = name.trim();
  if (!trimmed) return 'Enter a name.';
  if (trimmed.length > 100) return 'Use at most 100 characters.';
  const lower = trimmed.toLowerCase();
  if (existing.some((unit) => unit.id !== exceptId && unit.name.toLowerCase() === lower)) return `“${trimmed}” is already taken.`;
  return null;
}

export interface RuleRow {
  id: number;
  unitLabel: string;
  channelLabel: string;
}

/** Rules with readable labels, sorted by unit then channel. Unknown units or channels keep their id. */
export function ruleRows(rules: AutoRule[], units: OrgUnit[], channelNames: Map<number, string>): RuleRow[] {
  const byId = new Map(units.map((unit) => [unit.id, unit] as const));
  return rules
    .map((rule) => {
      const unit = byId.get(rule.unit_id);
      const unitLabel = unit ? `${unit.kind === 'department' ? 'Department' : 'Team'} ${unit.name}` : `Unit ${rule.unit_id}`;
      const channel = channelNames.get(rule.channel_id);
      return { id: rule.id, unitLabel, channelLabel: channel ? `#${channel}` : `Channel ${rule.channel_id}` };
    })
    .sort((a, b) => a.unitLabel.localeCompare(b.unitLabel) || a.channelLabel.localeCompare(b.channelLabel));
}

/** Active tokens first (newest first), then revoked ones. */
export function sortScimTokens(tokens: ScimToken[]): ScimToken[] {
  return [...tokens].sort((a, b) => Number(a.revoked_at !== null) - Number(b.revoked_at !== null) || b.created_at - a.created_at);
}

/** A short description of a session's device from its user agent. */
export function deviceLabel(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : null;
  const system = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Windows/.test(userAgent) ? 'Windows' : /Mac OS X/.test(userAgent) ? 'macOS' : /Linux/.test(userAgent) ? 'Linux' : null;
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? userAgent.slice(0, 40);
}
