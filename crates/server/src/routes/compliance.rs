//! Retention, legal holds, eDiscovery export and erasure (compliance officers).
//! Mounted under `/api/v1` by [`crate::router`].
//!
//! Only active compliance officers and owners may call these; every change
//! and every export is audited. Dates in requests are `YYYY-MM-DD` (UTC) or
//! RFC 3339; times in responses are milliseconds since the epoch, as
//! everywhere in the API.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use conclave_domain::User;
use conclave_domain::compliance::{
    ErasureOutcome, ExportFilter, LegalHold, NewLegalHold, PurgeReport, RetentionPolicy,
    RetentionScope,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiJson, ApiPath, ApiQuery};
use crate::audit::{Actor, Change};
use crate::auth::Authed;
use crate::compliance::export::{ExportFormat, Manifest, ManifestFilters, write_export};
use crate::compliance::{Checkpoint, exports_dir, parse_time};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// This module's routes, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compliance/channels", get(list_channels))
        .route("/compliance/holds", get(list_holds).post(create_hold))
        .route("/compliance/holds/{id}/release", post(release_hold))
        .route(
            "/compliance/retention",
            get(list_retention).put(set_retention),
        )
        .route("/compliance/retention/run", post(run_retention))
        .route("/compliance/erasures", post(erase))
        .route("/compliance/exports", get(list_exports).post(create_export))
        .route("/compliance/exports/{id}", get(get_export))
        .route(
            "/compliance/exports/{id}/files/{*name}",
            get(download_export_file),
        )
        .route("/compliance/journal/checkpoint", get(journal_checkpoint))
        .route("/compliance/journal/verify", get(journal_verify))
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_channels,
        list_holds,
        create_hold,
        release_hold,
        list_retention,
        set_retention,
        run_retention,
        erase,
        list_exports,
        create_export,
        get_export,
        download_export_file,
        journal_checkpoint,
        journal_verify
    ),
    components(schemas(
        NamedChannelDto,
        HoldDto,
        CreateHoldRequest,
        RetentionPolicyDto,
        SetRetentionRequest,
        PurgeReportDto,
        EraseRequest,
        ErasureDto,
        CreateExportRequest,
        ExportDto,
        Manifest,
        Checkpoint,
        JournalVerdict
    ))
)]
pub struct Doc;

fn officer(authed: &Authed) -> ApiResult<&User> {
    let user = &authed.user;
    if conclave_domain::permissions::can_act_for_compliance(user) {
        Ok(user)
    } else {
        Err(ApiError::forbidden(
            "only compliance officers and owners manage the compliance archive",
        ))
    }
}

fn actor(authed: &Authed) -> Actor {
    Actor::user(&authed.user, authed.session.address.clone())
}

fn optional_time(text: Option<&str>, end_of_day: bool, field: &str) -> ApiResult<Option<i64>> {
    text.map(|text| {
        parse_time(text, end_of_day)
            .map_err(|problem| ApiError::InvalidRequest(format!("{field}: {problem}")))
    })
    .transpose()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldDto {
    pub id: i64,
    pub name: String,
    pub custodian_ids: Vec<i64>,
    pub channel_ids: Vec<i64>,
    /// Messages at or after this time (ms), when limited.
    pub from: Option<i64>,
    /// Messages before this time (ms), when limited.
    pub to: Option<i64>,
    pub created_at: i64,
    pub released_at: Option<i64>,
    pub active: bool,
}

impl From<&LegalHold> for HoldDto {
    fn from(hold: &LegalHold) -> Self {
        HoldDto {
            id: hold.id,
            name: hold.name.clone(),
            custodian_ids: hold.custodian_ids.clone(),
            channel_ids: hold.channel_ids.clone(),
            from: hold.from,
            to: hold.to,
            created_at: hold.created_at,
            released_at: hold.released_at,
            active: hold.is_active(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NamedChannelDto {
    pub channel: crate::api::ChannelDto,
    pub member_count: i64,
}

/// Every public and private channel (archived, WhatsApp imports and
/// customer conversations included), by name, whether or not the officer
/// is a member: what holds, retention and exports name. Direct
/// conversations are reached through their custodians.
#[utoipa::path(get, path = "/api/v1/compliance/channels", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = [NamedChannelDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_channels(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<NamedChannelDto>>> {
    officer(&authed)?;
    let channels = state.store.named_channels().await?;
    Ok(Json(
        channels
            .iter()
            .map(|entry| NamedChannelDto {
                channel: crate::api::ChannelDto::from(&entry.channel),
                member_count: entry.member_count,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HoldQuery {
    /// Include released holds too.
    pub include_released: Option<bool>,
}

/// Legal holds, newest first.
#[utoipa::path(get, path = "/api/v1/compliance/holds", tag = "compliance", security(("bearer" = [])), params(HoldQuery),
    responses((status = 200, body = [HoldDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_holds(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<HoldQuery>,
) -> ApiResult<Json<Vec<HoldDto>>> {
    officer(&authed)?;
    let holds = state
        .store
        .holds(query.include_released.unwrap_or(false))
        .await?;
    Ok(Json(holds.iter().map(HoldDto::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHoldRequest {
    pub name: String,
    #[serde(default)]
    pub custodian_ids: Vec<i64>,
    #[serde(default)]
    pub channel_ids: Vec<i64>,
    /// `YYYY-MM-DD` or RFC 3339; messages at or after it.
    pub from: Option<String>,
    /// `YYYY-MM-DD` (inclusive day) or RFC 3339 (exclusive).
    pub to: Option<String>,
}

/// Places a legal hold on custodians and/or channels.
#[utoipa::path(post, path = "/api/v1/compliance/holds", tag = "compliance", security(("bearer" = [])), request_body = CreateHoldRequest,
    responses((status = 201, body = HoldDto), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn create_hold(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<CreateHoldRequest>,
) -> ApiResult<(StatusCode, Json<HoldDto>)> {
    officer(&authed)?;
    let new = NewLegalHold {
        name: request.name.trim().to_string(),
        custodian_ids: request.custodian_ids,
        channel_ids: request.channel_ids,
        from: optional_time(request.from.as_deref(), false, "from")?,
        to: optional_time(request.to.as_deref(), true, "to")?,
        created_at: crate::now_millis(),
    };
    new.check().map_err(ApiError::InvalidRequest)?;
    let hold = state.store.create_hold(new).await?;
    let dto = HoldDto::from(&hold);
    crate::audit::record(
        &*state.store,
        &actor(&authed),
        Change::new("hold.create", "legal_hold", hold.id).after(&dto),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(dto)))
}

/// Releases a legal hold; retention and erasure apply again to what it covered.
#[utoipa::path(post, path = "/api/v1/compliance/holds/{id}/release", tag = "compliance", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = HoldDto), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn release_hold(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<HoldDto>> {
    officer(&authed)?;
    let hold = state.store.release_hold(id, crate::now_millis()).await?;
    let dto = HoldDto::from(&hold);
    crate::audit::record(
        &*state.store,
        &actor(&authed),
        Change::new("hold.release", "legal_hold", hold.id)
            .before(&serde_json::json!({"active": true}))
            .after(&dto),
    )
    .await?;
    Ok(Json(dto))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionPolicyDto {
    /// `global`, `team` or `channel`.
    pub scope: String,
    pub team: Option<String>,
    pub channel_id: Option<i64>,
    /// Days kept; null keeps forever.
    pub days: Option<i64>,
    pub updated_at: i64,
}

impl From<&RetentionPolicy> for RetentionPolicyDto {
    fn from(policy: &RetentionPolicy) -> Self {
        let (scope, team, channel_id) = match &policy.scope {
            RetentionScope::Global => ("global", None, None),
            RetentionScope::Team(team) => ("team", Some(team.clone()), None),
            RetentionScope::Channel(id) => ("channel", None, Some(*id)),
        };
        RetentionPolicyDto {
            scope: scope.into(),
            team,
            channel_id,
            days: policy.days,
            updated_at: policy.updated_at,
        }
    }
}

/// Retention policies. Without a global policy messages are kept forever.
#[utoipa::path(get, path = "/api/v1/compliance/retention", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = [RetentionPolicyDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_retention(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<RetentionPolicyDto>>> {
    officer(&authed)?;
    let policies = state.store.retention_policies().await?;
    Ok(Json(
        policies.iter().map(RetentionPolicyDto::from).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRetentionRequest {
    /// `global`, `team` (with `team`) or `channel` (with `channel_id`).
    pub scope: String,
    pub team: Option<String>,
    pub channel_id: Option<i64>,
    /// 1–36500 days; null keeps forever.
    pub days: Option<i64>,
}

/// Sets one retention policy. Team policies are kept by team name and apply
/// once channels belong to teams.
#[utoipa::path(put, path = "/api/v1/compliance/retention", tag = "compliance", security(("bearer" = [])), request_body = SetRetentionRequest,
    responses((status = 200, body = RetentionPolicyDto), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn set_retention(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<SetRetentionRequest>,
) -> ApiResult<Json<RetentionPolicyDto>> {
    officer(&authed)?;
    let scope = match (request.scope.as_str(), request.team, request.channel_id) {
        ("global", None, None) => RetentionScope::Global,
        ("team", Some(team), None) if !team.trim().is_empty() => {
            RetentionScope::Team(team.trim().to_string())
        }
        ("channel", None, Some(id)) => RetentionScope::Channel(id),
        _ => {
            return Err(ApiError::InvalidRequest(
                "scope is \"global\", \"team\" with a team name, or \"channel\" with a channel_id"
                    .into(),
            ));
        }
    };
    conclave_domain::compliance::check_retention_days(request.days)
        .map_err(ApiError::InvalidRequest)?;
    let before = state
        .store
        .retention_policies()
        .await?
        .into_iter()
        .find(|policy| policy.scope == scope);
    let policy = state
        .store
        .set_retention(scope, request.days, crate::now_millis())
        .await?;
    let dto = RetentionPolicyDto::from(&policy);
    let mut change =
        Change::new("retention.set", "retention_policy", policy.scope.key()).after(&dto);
    if let Some(before) = before {
        change = change.before(&RetentionPolicyDto::from(&before));
    }
    crate::audit::record(&*state.store, &actor(&authed), change).await?;
    Ok(Json(dto))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeReportDto {
    pub messages: u64,
    pub versions: u64,
    pub reactions: u64,
    pub attachments: u64,
    pub events_redacted: u64,
    /// Expired messages kept because a legal hold (or a kept thread) covers them.
    pub held: u64,
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

impl From<&PurgeReport> for PurgeReportDto {
    fn from(report: &PurgeReport) -> Self {
        PurgeReportDto {
            messages: report.messages,
            versions: report.versions,
            reactions: report.reactions,
            attachments: report.attachments,
            events_redacted: report.events_redacted,
            held: report.held,
            oldest: report.oldest,
            newest: report.newest,
        }
    }
}

/// Applies retention now (the server also runs it on a schedule).
#[utoipa::path(post, path = "/api/v1/compliance/retention/run", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = PurgeReportDto), (status = 403, body = crate::error::ErrorBody)))]
pub async fn run_retention(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<PurgeReportDto>> {
    officer(&authed)?;
    let report =
        crate::compliance::run_retention(&*state.store, &*state.blobs, crate::now_millis()).await?;
    crate::compliance::live::announce_purge(&state.hub, &report);
    let dto = PurgeReportDto::from(&report);
    crate::audit::record(
        &*state.store,
        &actor(&authed),
        Change::new("retention.run", "retention", "manual").after(&dto),
    )
    .await?;
    Ok(Json(dto))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureDto {
    pub user_id: i64,
    pub messages: u64,
    pub versions: u64,
    pub attachments: u64,
    pub events_redacted: u64,
    /// Data keys destroyed: the person's content is unrecoverable from any
    /// copy, backups included.
    pub keys_destroyed: u64,
}

/// Right to erasure: makes everything the person authored unrecoverable and
/// anonymises their profile. Refused (409, naming the hold) while a legal
/// hold covers them.
#[utoipa::path(post, path = "/api/v1/compliance/erasures", tag = "compliance", security(("bearer" = [])), request_body = EraseRequest,
    responses((status = 200, body = ErasureDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<EraseRequest>,
) -> ApiResult<Json<ErasureDto>> {
    officer(&authed)?;
    if request.user_id == authed.user.id {
        return Err(ApiError::InvalidRequest("you cannot erase yourself".into()));
    }
    let outcome = crate::compliance::erase_person(
        &*state.store,
        &*state.blobs,
        request.user_id,
        crate::now_millis(),
    )
    .await?;
    match outcome {
        ErasureOutcome::RefusedByHold { hold } => {
            crate::audit::record(
                &*state.store,
                &actor(&authed),
                Change::new("erasure.refused", "user", request.user_id)
                    .after(&serde_json::json!({"hold": hold})),
            )
            .await?;
            Err(ApiError::Conflict(format!(
                "the legal hold {hold:?} covers this person; release it before erasing"
            )))
        }
        ErasureOutcome::Erased(report) => {
            if let Some(erased) = state.store.user_by_id(report.user_id).await? {
                crate::compliance::live::announce_erasure(&state.hub, &erased);
            }
            let dto = ErasureDto {
                user_id: report.user_id,
                messages: report.messages,
                versions: report.versions,
                attachments: report.attachments,
                events_redacted: report.events_redacted,
                keys_destroyed: report.keys_destroyed,
            };
            crate::audit::record(
                &*state.store,
                &actor(&authed),
                Change::new("erasure.complete", "user", request.user_id).after(&dto),
            )
            .await?;
            Ok(Json(dto))
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExportRequest {
    pub format: ExportFormat,
    /// `YYYY-MM-DD` or RFC 3339; messages at or after it.
    pub from: Option<String>,
    /// `YYYY-MM-DD` (inclusive day) or RFC 3339 (exclusive).
    pub to: Option<String>,
    /// Everything these people wrote or received.
    #[serde(default)]
    pub custodian_ids: Vec<i64>,
    #[serde(default)]
    pub channel_ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportDto {
    pub id: String,
    pub manifest: Manifest,
}

/// Runs an eDiscovery export into the server's export directory and answers
/// its manifest; download files with `GET /compliance/exports/{id}/files/{name}`.
#[utoipa::path(post, path = "/api/v1/compliance/exports", tag = "compliance", security(("bearer" = [])), request_body = CreateExportRequest,
    responses((status = 201, body = ExportDto), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn create_export(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<CreateExportRequest>,
) -> ApiResult<(StatusCode, Json<ExportDto>)> {
    officer(&authed)?;
    let from = optional_time(request.from.as_deref(), false, "from")?;
    let to = optional_time(request.to.as_deref(), true, "to")?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ApiError::InvalidRequest("to must be after from".into()));
    }
    let mut custodians = Vec::new();
    for id in &request.custodian_ids {
        let user = state
            .store
            .user_by_id(*id)
            .await?
            .ok_or(ApiError::NotFound("custodian"))?;
        custodians.push(user.email);
    }
    let mut channels = Vec::new();
    for id in &request.channel_ids {
        let channel = state
            .store
            .channel_by_id(*id)
            .await?
            .ok_or(ApiError::NotFound("channel"))?;
        channels.push(if channel.name.is_empty() {
            format!("conversation {}", channel.id)
        } else {
            channel.name
        });
    }
    let filter = ExportFilter {
        from,
        to,
        custodian_ids: request.custodian_ids,
        channel_ids: request.channel_ids,
    };
    let filters = ManifestFilters {
        from: request.from,
        to: request.to,
        custodians,
        channels,
    };
    let id = format!(
        "{}-{}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        &crate::auth::new_token()[..12]
    );
    let dir = exports_dir(&state.config.data_dir).join(&id);
    let manifest = write_export(
        &*state.store,
        &*state.blobs,
        request.format,
        &filter,
        filters,
        &dir,
        &state.config.compliance.mail_domain,
        Some(state.store.keyring().clone()),
    )
    .await;
    let manifest = match manifest {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(error.into());
        }
    };
    crate::audit::record(
        &*state.store,
        &actor(&authed),
        Change::new("export.create", "export", &id)
            .after(&serde_json::json!({"format": manifest.format, "filters": manifest.filters, "counts": manifest.counts})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ExportDto { id, manifest })))
}

/// Export ids are made here: digits, a dash, hex. Anything else never
/// reaches the filesystem.
fn export_dir(state: &AppState, id: &str) -> ApiResult<std::path::PathBuf> {
    let plausible =
        !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !plausible {
        return Err(ApiError::NotFound("export"));
    }
    Ok(exports_dir(&state.config.data_dir).join(id))
}

async fn read_manifest(dir: &std::path::Path) -> ApiResult<Manifest> {
    let text = tokio::fs::read(dir.join("manifest.json"))
        .await
        .map_err(|_| ApiError::NotFound("export"))?;
    serde_json::from_slice(&text)
        .map_err(|error| ApiError::Internal(format!("unreadable manifest: {error}")))
}

/// Exports made through the API, newest first.
#[utoipa::path(get, path = "/api/v1/compliance/exports", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = [ExportDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_exports(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<ExportDto>>> {
    officer(&authed)?;
    let root = exports_dir(&state.config.data_dir);
    let mut ids = Vec::new();
    if let Ok(mut entries) = tokio::fs::read_dir(&root).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            if let Some(name) = entry.file_name().to_str() {
                ids.push(name.to_string());
            }
        }
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut exports = Vec::new();
    for id in ids {
        if let Ok(manifest) = read_manifest(&root.join(&id)).await {
            exports.push(ExportDto { id, manifest });
        }
    }
    Ok(Json(exports))
}

/// One export's manifest.
#[utoipa::path(get, path = "/api/v1/compliance/exports/{id}", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ExportDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_export(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ExportDto>> {
    officer(&authed)?;
    let manifest = read_manifest(&export_dir(&state, &id)?).await?;
    Ok(Json(ExportDto { id, manifest }))
}

/// Downloads one file of an export (a name from its manifest, or
/// `manifest.json`). Each download is audited.
#[utoipa::path(get, path = "/api/v1/compliance/exports/{id}/files/{name}", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "the file"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn download_export_file(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    officer(&authed)?;
    let dir = export_dir(&state, &id)?;
    let manifest = read_manifest(&dir).await?;
    // Only names the manifest lists are served, so no path can escape.
    let listed = name == "manifest.json" || manifest.files.iter().any(|file| file.name == name);
    if !listed {
        return Err(ApiError::NotFound("export file"));
    }
    // Export files are sealed at rest (the manifest is not); files written
    // before that are served as they are.
    let file = crate::blobs::BlobReader::open_file(&dir.join(&name), state.store.keyring())
        .await
        .map_err(|_| ApiError::NotFound("export file"))?;
    crate::audit::record(
        &*state.store,
        &actor(&authed),
        Change::new("export.download", "export", format!("{id}/{name}")),
    )
    .await?;
    let content_type = match name.rsplit('.').next() {
        Some("json") => "application/json",
        Some("jsonl") => "application/x-ndjson",
        Some("csv") => "text/csv; charset=utf-8",
        Some("xml") => "application/xml",
        Some("eml") => "message/rfc822",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    };
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let base = name.rsplit('/').next().unwrap_or("file").replace('"', "");
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{base}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The journal's head with the time, for an outside party to keep.
#[utoipa::path(get, path = "/api/v1/compliance/journal/checkpoint", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = Checkpoint), (status = 403, body = crate::error::ErrorBody)))]
pub async fn journal_checkpoint(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Checkpoint>> {
    officer(&authed)?;
    let checkpoint = crate::compliance::checkpoint(&*state.store).await?;
    crate::audit::record(
        &*state.store,
        &actor(&authed),
        Change::new("journal.checkpoint", "journal", checkpoint.position),
    )
    .await?;
    Ok(Json(checkpoint))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JournalVerdict {
    pub intact: bool,
    /// Entries checked when intact.
    pub checked: Option<u64>,
    /// The first broken entry (0 when a stored message has no entry).
    pub broken_position: Option<i64>,
    pub problem: Option<String>,
}

/// Recomputes the journal's hash chain and checks the stored messages
/// against it.
#[utoipa::path(get, path = "/api/v1/compliance/journal/verify", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = JournalVerdict), (status = 403, body = crate::error::ErrorBody)))]
pub async fn journal_verify(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<JournalVerdict>> {
    officer(&authed)?;
    let verdict = match state.store.verify_journal().await? {
        Ok(checked) => JournalVerdict {
            intact: true,
            checked: Some(checked),
            broken_position: None,
            problem: None,
        },
        Err((position, problem)) => JournalVerdict {
            intact: false,
            checked: None,
            broken_position: Some(position),
            problem: Some(problem),
        },
    };
    Ok(Json(verdict))
}
