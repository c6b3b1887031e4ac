//! Reading and exporting the audit log (admins and compliance officers).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use conclave_domain::{AuditEntry, AuditFilter, Role, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiQuery;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub address: Option<String>,
    /// The state before the change, as JSON, when something changed.
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl From<&AuditEntry> for AuditEntryDto {
    fn from(entry: &AuditEntry) -> Self {
        let parse = |text: &Option<String>| {
            text.as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
        };
        AuditEntryDto {
            id: entry.id,
            at: entry.at,
            actor_id: entry.actor_id,
            actor_label: entry.actor_label.clone(),
            action: entry.action.clone(),
            target_kind: entry.target_kind.clone(),
            target_id: entry.target_id.clone(),
            address: entry.address.clone(),
            before: parse(&entry.before),
            after: parse(&entry.after),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    pub actor_id: Option<i64>,
    /// An exact action, or a prefix ending in '.', such as `user.`.
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub from: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    pub to: Option<i64>,
    /// Entries older than this id, for paging.
    pub before: Option<i64>,
    /// 1–1000, default 100.
    pub limit: Option<i64>,
}

fn may_read_audit(user: &User) -> bool {
    user.active && matches!(user.role, Role::Owner | Role::Admin | Role::Compliance)
}

fn filter(query: AuditQuery, default_limit: i64, max: i64) -> ApiResult<AuditFilter> {
    let limit = query.limit.unwrap_or(default_limit);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be between 1 and {max}"
        )));
    }
    Ok(AuditFilter {
        actor_id: query.actor_id,
        action: query.action,
        target_kind: query.target_kind,
        target_id: query.target_id,
        from: query.from,
        to: query.to,
        before_id: query.before,
        limit,
    })
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = [AuditEntryDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntryDto>>> {
    if !may_read_audit(&authed.user) {
        return Err(ApiError::forbidden(
            "only admins and compliance officers read the audit log",
        ));
    }
    let entries = state.store.audit_entries(filter(query, 100, 1000)?).await?;
    Ok(Json(entries.iter().map(AuditEntryDto::from).collect()))
}

/// The audit log as JSON Lines, newest first (at most 10,000 entries per
/// request; page with `before`).
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "application/x-ndjson"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    if !may_read_audit(&authed.user) {
        return Err(ApiError::forbidden(
            "only admins and compliance officers export the audit log",
        ));
    }
    let entries = state
        .store
        .audit_entries(filter(query, 10_000, 10_000)?)
        .await?;
    crate::audit::record(
        &*state.store,
        &crate::audit::Actor::user(&authed.user, authed.session.address.clone()),
        crate::audit::Change::new("audit.export", "audit_log", entries.len()),
    )
    .await?;
    let mut body = String::new();
    for entry in &entries {
        body.push_str(&serde_json::to_string(&AuditEntryDto::from(entry)).unwrap_or_default());
        body.push('\n');
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit.jsonl\""),
    );
    Ok(response)
}
