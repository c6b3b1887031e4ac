//! REST calls for the admin console's security and directory pages: per-user
//! MFA reset, sessions and expiry; the MFA policy; acceptable-use policy
//! publishing; SCIM tokens; departments, teams and auto-membership rules.
//! Kept beside client.ts (as functions over an ApiClient) so the URLs live in one file.

import type { ApiClient } from './client';
import type { ChannelId, Millis, Policy, Session, UserId } from './types';

export type UnitKind = 'department' | 'team';

export interface OrgUnit {
  id: number;
  kind: UnitKind;
  name: string;
  external_id: string | null;
  member_count: number;
  created_at: Millis;
  updated_at: Millis;
}

export interface OrgUnitDetail extends OrgUnit {
  member_ids: UserId[];
  channel_ids: ChannelId[];
}

export interface AutoRule {
  id: number;
  unit_id: number;
  channel_id: ChannelId;
  created_by: UserId | null;
  created_at: Millis;
}

export interface ScimToken {
  id: number;
  name: string;
  created_at: Millis;
  last_used_at: Millis | null;
  revoked_at: Millis | null;
}

export interface MfaPolicy {
  required: boolean;
  required_by_config: boolean;
  required_by_admin: boolean;
}

export interface PolicyAcceptance {
  user_id: UserId;
  version: number;
  accepted_at: Millis;
  address: string | null;
}

const unitPath = (kind: UnitKind) => (kind === 'department' ? '/admin/departments' : '/admin/teams');

export const adminApi = {
  resetMfa: (api: ApiClient, userId: UserId) => api.request<unknown>('DELETE', `/users/${userId}/mfa`),
  userSessions: (api: ApiClient, userId: UserId) => api.request<Session[]>('GET', `/users/${userId}/sessions`),
  revokeUserSession: (api: ApiClient, userId: UserId, sessionId: number) => api.request<unknown>('DELETE', `/users/${userId}/sessions/${sessionId}`),
  revokeUserSessions: (api: ApiClient, userId: UserId) => api.request<unknown>('DELETE', `/users/${userId}/sessions`),
  setExpiry: (api: ApiClient, userId: UserId, expiresAt: Millis | null) => api.request<unknown>('PUT', `/admin/users/${userId}/expiry`, { expires_at: expiresAt }),

  mfaPolicy: (api: ApiClient) => api.request<MfaPolicy>('GET', '/auth/mfa-policy'),
  setMfaPolicy: (api: ApiClient, required: boolean) => api.request<MfaPolicy>('PUT', '/auth/mfa-policy', { required }),
  publishPolicy: (api: ApiClient, text: string) => api.request<Policy>('POST', '/policy', { text }),
  acceptances: (api: ApiClient, version: number) => api.request<PolicyAcceptance[]>('GET', `/policy/acceptances?version=${version}&limit=200`),

  scimTokens: (api: ApiClient) => api.request<ScimToken[]>('GET', '/admin/scim-tokens'),
  createScimToken: (api: ApiClient, name: string) => api.request<ScimToken & { secret: string }>('POST', '/admin/scim-tokens', { name }),
  revokeScimToken: (api: ApiClient, id: number) => api.request<unknown>('DELETE', `/admin/scim-tokens/${id}`),

  units: (api: ApiClient, kind: UnitKind) => api.request<OrgUnit[]>('GET', unitPath(kind)),
  unit: (api: ApiClient, kind: UnitKind, id: number) => api.request<OrgUnitDetail>('GET', `${unitPath(kind)}/${id}`),
  createUnit: (api: ApiClient, kind: UnitKind, name: string) => api.request<OrgUnit>('POST', unitPath(kind), { name }),
  renameUnit: (api: ApiClient, kind: UnitKind, id: number, name: string) => api.request<OrgUnit>('PATCH', `${unitPath(kind)}/${id}`, { name }),
  deleteUnit: (api: ApiClient, kind: UnitKind, id: number) => api.request<unknown>('DELETE', `${unitPath(kind)}/${id}`),
  addMember: (api: ApiClient, kind: UnitKind, id: number, userId: UserId) => api.request<unknown>('PUT', `${unitPath(kind)}/${id}/members/${userId}`),
  removeMember: (api: ApiClient, kind: UnitKind, id: number, userId: UserId) => api.request<unknown>('DELETE', `${unitPath(kind)}/${id}/members/${userId}`),

  rules: (api: ApiClient) => api.request<AutoRule[]>('GET', '/admin/auto-membership-rules'),
  createRule: (api: ApiClient, unitId: number, channelId: ChannelId) => api.request<AutoRule>('POST', '/admin/auto-membership-rules', { unit_id: unitId, channel_id: channelId }),
  deleteRule: (api: ApiClient, id: number) => api.request<unknown>('DELETE', `/admin/auto-membership-rules/${id}`),
};
