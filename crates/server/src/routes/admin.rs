//! User administration and the directory, for the admin console. Mounted
//! under `/api/v1` by [`crate::router`].
//!
//! - `/admin/users`: every account (deactivated too), role changes,
//!   deactivation and reactivation, account expiry.
//! - `/admin/guests`: guest accounts limited to the channels they are
//!   invited to, with an expiry date.
//! - `/admin/departments`, `/admin/teams`: org units and their members.
//! - `/admin/auto-membership-rules`: "members of this unit belong in this
//!   channel".
//! - `/admin/scim-tokens`: the identity provider's bearer tokens.
//!
//! Who may do what is `conclave_domain::permissions` (see
//! docs/permissions.md); every change is audited with before and after.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use conclave_domain::directory::{
    AutoMembershipRule, NewOrgUnit, OrgUnit, OrgUnitKind, ScimToken, UserListFilter, org_unit_name,
};
use conclave_domain::permissions::{AdmissionPath, Granter};
use conclave_domain::{Channel, Command, Role, User, UserId, permissions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiJson, ApiPath, ApiQuery, submit};
use crate::api::UserDto;
use crate::audit::{Actor, Change};
use crate::auth::{Authed, ClientAddress};
use crate::error::{ApiError, ApiResult};
use crate::scim::directory;
use crate::state::AppState;

/// Request bodies here are small.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Channels one guest invitation may name.
const MAX_GUEST_CHANNELS: usize = 100;

/// This module's routes, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}/role", put(change_role))
        .route("/admin/users/{id}/deactivate", post(deactivate_user))
        .route("/admin/users/{id}/reactivate", post(reactivate_user))
        .route("/admin/users/{id}/unlock", post(unlock_user))
        .route("/admin/users/{id}/expiry", put(set_expiry))
        .route("/admin/guests", post(invite_guest))
        .route(
            "/admin/departments",
            get(list_departments).post(create_department),
        )
        .route(
            "/admin/departments/{id}",
            get(get_department)
                .patch(rename_department)
                .delete(delete_department),
        )
        .route(
            "/admin/departments/{id}/members/{user_id}",
            put(add_department_member).delete(remove_department_member),
        )
        .route("/admin/teams", get(list_teams).post(create_team))
        .route(
            "/admin/teams/{id}",
            get(get_team).patch(rename_team).delete(delete_team),
        )
        .route(
            "/admin/teams/{id}/members/{user_id}",
            put(add_team_member).delete(remove_team_member),
        )
        .route(
            "/admin/auto-membership-rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/admin/auto-membership-rules/{id}",
            axum::routing::delete(delete_rule),
        )
        .route(
            "/admin/scim-tokens",
            get(list_scim_tokens).post(create_scim_token),
        )
        .route(
            "/admin/scim-tokens/{id}",
            axum::routing::delete(revoke_scim_token),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_users,
        change_role,
        deactivate_user,
        reactivate_user,
        unlock_user,
        set_expiry,
        invite_guest,
        list_departments,
        create_department,
        get_department,
        rename_department,
        delete_department,
        add_department_member,
        remove_department_member,
        list_teams,
        create_team,
        get_team,
        rename_team,
        delete_team,
        add_team_member,
        remove_team_member,
        list_rules,
        create_rule,
        delete_rule,
        list_scim_tokens,
        create_scim_token,
        revoke_scim_token,
    ),
    components(schemas(
        AdminUserDto,
        ChangeRoleRequest,
        ExpiryRequest,
        InviteGuestRequest,
        OrgUnitDto,
        OrgUnitDetailDto,
        UnitNameRequest,
        RuleDto,
        CreateRuleRequest,
        ScimTokenDto,
        CreateScimTokenRequest,
        CreatedScimTokenDto,
    ))
)]
pub struct Doc;

fn actor(authed: &Authed, address: Option<String>) -> Actor {
    Actor::user(
        &authed.user,
        address.or_else(|| authed.session.address.clone()),
    )
}

fn directory_admin(authed: &Authed) -> ApiResult<()> {
    if permissions::can_manage_directory(&authed.user) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage the directory"))
    }
}

async fn record(state: &AppState, actor: &Actor, change: Change<'_>) -> ApiResult<()> {
    crate::audit::record(&*state.store, actor, change).await
}

/// An account as administrators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminUserDto {
    #[serde(flatten)]
    pub user: UserDto,
    /// When the account deactivates itself (guests, contractors).
    pub expires_at: Option<i64>,
    /// Sign-in is refused until then after too many failures; absent when
    /// not locked.
    pub locked_until: Option<i64>,
    pub departments: Vec<String>,
    pub teams: Vec<String>,
}

async fn admin_users(state: &AppState, users: Vec<User>) -> ApiResult<Vec<AdminUserDto>> {
    let units: HashMap<i64, OrgUnit> = state
        .store
        .org_units(None)
        .await?
        .into_iter()
        .map(|unit| (unit.id, unit))
        .collect();
    let mut units_of: HashMap<UserId, Vec<&OrgUnit>> = HashMap::new();
    for (unit_id, user_id) in state.store.org_unit_memberships().await? {
        if let Some(unit) = units.get(&unit_id) {
            units_of.entry(user_id).or_default().push(unit);
        }
    }
    let mut out = Vec::with_capacity(users.len());
    for user in users {
        let mine = units_of.get(&user.id).map(Vec::as_slice).unwrap_or(&[]);
        let names = |kind: OrgUnitKind| {
            mine.iter()
                .filter(|unit| unit.kind == kind)
                .map(|unit| unit.name.clone())
                .collect()
        };
        let locked_until = state
            .store
            .login_throttle(user.id)
            .await?
            .locked_until
            .filter(|until| *until > crate::now_millis());
        out.push(AdminUserDto {
            expires_at: state.store.account_expiry(user.id).await?,
            locked_until,
            departments: names(OrgUnitKind::Department),
            teams: names(OrgUnitKind::Team),
            user: UserDto::from(&user),
        });
    }
    Ok(out)
}

async fn admin_user(state: &AppState, user: User) -> ApiResult<AdminUserDto> {
    admin_users(state, vec![user])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("user"))
}

async fn target(state: &AppState, id: UserId) -> ApiResult<User> {
    state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("user"))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AdminUserQuery {
    /// Text in the name, handle or email.
    pub q: Option<String>,
    /// owner, admin, compliance, member or guest.
    pub role: Option<String>,
    /// true: active only; false: deactivated only.
    pub active: Option<bool>,
    /// Users with ids above this one (paging).
    pub after: Option<i64>,
    /// 1–1000, default 100.
    pub limit: Option<i64>,
}

/// Every account, deactivated ones included (admins and compliance
/// officers).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(AdminUserQuery),
    responses((status = 200, body = [AdminUserDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<AdminUserQuery>,
) -> ApiResult<Json<Vec<AdminUserDto>>> {
    if !permissions::can_list_all_users(&authed.user) {
        return Err(ApiError::forbidden(
            "only admins and compliance officers list every account",
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    if query.q.as_deref().is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::InvalidRequest(
            "q must be at most 100 characters".into(),
        ));
    }
    let role = match query.role.as_deref() {
        None => None,
        Some(text) => Some(
            Role::parse(text)
                .ok_or_else(|| ApiError::InvalidRequest(format!("unknown role {text:?}")))?,
        ),
    };
    let users = state
        .store
        .list_users(UserListFilter {
            query: query.q.map(|q| q.trim().to_string()),
            role,
            active: query.active,
            after_id: query.after,
            limit,
        })
        .await?;
    Ok(Json(admin_users(&state, users).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeRoleRequest {
    /// owner, admin, compliance, member or guest.
    pub role: String,
}

/// Changes a user's role. Admins manage members, compliance officers and
/// guests; only owners grant or remove owner and admin.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/role", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ChangeRoleRequest,
    responses((status = 200, body = AdminUserDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn change_role(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ChangeRoleRequest>,
) -> ApiResult<Json<AdminUserDto>> {
    let role = Role::parse(&request.role)
        .ok_or_else(|| ApiError::InvalidRequest(format!("unknown role {:?}", request.role)))?;
    let user = target(&state, id).await?;
    if !permissions::can_change_role(&authed.user, &user, role) {
        return Err(ApiError::forbidden(
            "you may not give this person that role",
        ));
    }
    if user.role == role {
        return Ok(Json(admin_user(&state, user).await?));
    }
    directory::keep_an_owner(&*state.store, &user).await?;
    let changed = state.store.set_user_role(user.id, role).await?;
    record(
        &state,
        &actor(&authed, address),
        Change::new("user.role", "user", user.id)
            .before(&serde_json::json!({"role": user.role.as_str()}))
            .after(&serde_json::json!({"role": role.as_str()})),
    )
    .await?;
    Ok(Json(admin_user(&state, changed).await?))
}

/// Deactivates a user at once: sessions revoked, sockets closed within a
/// second, sign-in refused. Their messages stay.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/deactivate", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = AdminUserDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn deactivate_user(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AdminUserDto>> {
    let user = target(&state, id).await?;
    if !permissions::can_set_active(&authed.user, &user) {
        return Err(ApiError::forbidden("you may not deactivate this person"));
    }
    let user = directory::deactivate(&state, &user, &actor(&authed, address)).await?;
    Ok(Json(admin_user(&state, user).await?))
}

/// Lets a deactivated user sign in again (old sessions stay revoked).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/reactivate", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = AdminUserDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn reactivate_user(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AdminUserDto>> {
    let user = target(&state, id).await?;
    if !permissions::can_set_active(&authed.user, &user) {
        return Err(ApiError::forbidden("you may not reactivate this person"));
    }
    let user = if user.active {
        user
    } else {
        directory::reactivate(&state, &user, &actor(&authed, address)).await?
    };
    Ok(Json(admin_user(&state, user).await?))
}

/// Lifts a sign-in lock (after too many failed attempts) before it ends by
/// itself, and forgets the failures.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/unlock", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = AdminUserDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn unlock_user(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AdminUserDto>> {
    let user = target(&state, id).await?;
    if !permissions::can_set_active(&authed.user, &user) {
        return Err(ApiError::forbidden("you may not unlock this person"));
    }
    let before = state.store.login_throttle(user.id).await?;
    if before.failures > 0 || before.locked_until.is_some() {
        state.store.clear_login_failures(user.id).await?;
        record(
            &state,
            &actor(&authed, address),
            Change::new("user.unlock", "user", user.id).before(&serde_json::json!({
                "failures": before.failures, "locked_until": before.locked_until
            })),
        )
        .await?;
    }
    Ok(Json(admin_user(&state, user).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExpiryRequest {
    /// Milliseconds since the epoch, in the future; null removes the
    /// expiry.
    pub expires_at: Option<i64>,
}

fn check_expiry(expires_at: Option<i64>) -> ApiResult<()> {
    if let Some(at) = expires_at
        && at <= crate::now_millis()
    {
        return Err(ApiError::InvalidRequest(
            "expires_at must be in the future".into(),
        ));
    }
    Ok(())
}

/// Sets or clears the moment an account deactivates itself.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/expiry", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ExpiryRequest,
    responses((status = 200, body = AdminUserDto), (status = 403, body = crate::error::ErrorBody)))]
pub async fn set_expiry(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ExpiryRequest>,
) -> ApiResult<Json<AdminUserDto>> {
    let user = target(&state, id).await?;
    if !permissions::can_set_active(&authed.user, &user) {
        return Err(ApiError::forbidden(
            "you may not change this person's expiry",
        ));
    }
    check_expiry(request.expires_at)?;
    let before = state.store.account_expiry(user.id).await?;
    state
        .store
        .set_account_expiry(user.id, request.expires_at)
        .await?;
    record(
        &state,
        &actor(&authed, address),
        Change::new("user.expiry", "user", user.id)
            .before(&serde_json::json!({"expires_at": before}))
            .after(&serde_json::json!({"expires_at": request.expires_at})),
    )
    .await?;
    Ok(Json(admin_user(&state, user).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InviteGuestRequest {
    pub email: String,
    pub name: String,
    /// Without one, the guest signs in through SSO or gets one later.
    pub password: Option<String>,
    /// When the account deactivates itself, milliseconds since the epoch.
    pub expires_at: i64,
    /// The only channels the guest may see: public channels, and private
    /// channels the inviter is a member of.
    pub channel_ids: Vec<i64>,
}

/// Loads a channel that `authed` may bring people into along `path`
/// (`permissions::can_admit`): a private channel only when they are a
/// member of it (404 otherwise, as for any channel they cannot read), an
/// archive never.
async fn invitable_channel(
    state: &AppState,
    authed: &Authed,
    id: i64,
    path: AdmissionPath,
) -> ApiResult<Channel> {
    let channel = state
        .store
        .channel_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    let membership = state.store.membership(id, authed.user.id).await?;
    super::channels::admit(
        state,
        Granter::Person {
            user: &authed.user,
            membership: membership.as_ref(),
        },
        &channel,
        path,
    )
    .await?;
    Ok(channel)
}

/// Creates a guest account with an expiry date, a member of exactly the
/// given channels.
#[utoipa::path(post, path = "/api/v1/admin/guests", tag = "admin", security(("bearer" = [])), request_body = InviteGuestRequest,
    responses((status = 201, body = AdminUserDto), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn invite_guest(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<InviteGuestRequest>,
) -> ApiResult<(StatusCode, Json<AdminUserDto>)> {
    directory_admin(&authed)?;
    check_expiry(Some(request.expires_at))?;
    if request.channel_ids.is_empty() || request.channel_ids.len() > MAX_GUEST_CHANNELS {
        return Err(ApiError::InvalidRequest(format!(
            "invite a guest to 1 to {MAX_GUEST_CHANNELS} channels"
        )));
    }
    let mut channels = Vec::new();
    for id in &request.channel_ids {
        channels
            .push(invitable_channel(&state, &authed, *id, AdmissionPath::GuestInvitation).await?);
    }
    let user = super::users::create_local_user(
        &state,
        &request.email,
        &request.name,
        Role::Guest,
        request.password.as_deref(),
    )
    .await?;
    state
        .store
        .set_account_expiry(user.id, Some(request.expires_at))
        .await?;
    let at = crate::now_millis();
    for channel in &channels {
        submit(
            &state,
            Command::SetMembership {
                channel_id: channel.id,
                user_id: user.id,
                actor_id: authed.user.id,
                member: true,
                at,
            },
        )
        .await?;
    }
    let dto = admin_user(&state, user).await?;
    record(
        &state,
        &actor(&authed, address),
        Change::new("guest.invite", "user", dto.user.id).after(&serde_json::json!({
            "user": &dto, "channel_ids": request.channel_ids,
        })),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(dto)))
}

/// A department or a team.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgUnitDto {
    pub id: i64,
    /// department or team.
    pub kind: String,
    pub name: String,
    pub external_id: Option<String>,
    pub member_count: usize,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgUnitDetailDto {
    #[serde(flatten)]
    pub unit: OrgUnitDto,
    pub member_ids: Vec<i64>,
    /// The channels its members are added to automatically.
    pub channel_ids: Vec<i64>,
    /// After adding someone: the channels its rules name that they were
    /// not added to, because the caller may not bring anyone in there
    /// (private channels the caller is not a member of, WhatsApp archives,
    /// archived channels). Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels_skipped: Vec<i64>,
}

fn unit_dto(unit: &OrgUnit, member_count: usize) -> OrgUnitDto {
    OrgUnitDto {
        id: unit.id,
        kind: unit.kind.as_str().to_string(),
        name: unit.name.clone(),
        external_id: unit.external_id.clone(),
        member_count,
        created_at: unit.created_at,
        updated_at: unit.updated_at,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UnitNameRequest {
    pub name: String,
}

async fn list_units(
    state: &AppState,
    authed: &Authed,
    kind: OrgUnitKind,
) -> ApiResult<Vec<OrgUnitDto>> {
    directory_admin(authed)?;
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for (unit_id, _) in state.store.org_unit_memberships().await? {
        *counts.entry(unit_id).or_default() += 1;
    }
    Ok(state
        .store
        .org_units(Some(kind))
        .await?
        .iter()
        .map(|unit| unit_dto(unit, counts.get(&unit.id).copied().unwrap_or(0)))
        .collect())
}

async fn unit_of(state: &AppState, kind: OrgUnitKind, id: i64) -> ApiResult<OrgUnit> {
    let not_found = match kind {
        OrgUnitKind::Department => ApiError::NotFound("department"),
        OrgUnitKind::Team => ApiError::NotFound("team"),
    };
    state
        .store
        .org_unit(id)
        .await?
        .filter(|unit| unit.kind == kind)
        .ok_or(not_found)
}

async fn unit_detail(state: &AppState, unit: &OrgUnit) -> ApiResult<OrgUnitDetailDto> {
    let member_ids = state.store.org_unit_member_ids(unit.id).await?;
    let channel_ids = state
        .store
        .auto_membership_rules()
        .await?
        .iter()
        .filter(|rule| rule.unit_id == unit.id)
        .map(|rule| rule.channel_id)
        .collect();
    Ok(OrgUnitDetailDto {
        unit: unit_dto(unit, member_ids.len()),
        member_ids,
        channel_ids,
        channels_skipped: Vec::new(),
    })
}

async fn create_unit(
    state: &AppState,
    authed: &Authed,
    address: Option<String>,
    kind: OrgUnitKind,
    name: &str,
) -> ApiResult<OrgUnitDetailDto> {
    directory_admin(authed)?;
    org_unit_name(name)?;
    let unit = state
        .store
        .create_org_unit(NewOrgUnit {
            kind,
            name: name.trim().to_string(),
            external_id: None,
            at: crate::now_millis(),
        })
        .await?;
    let detail = unit_detail(state, &unit).await?;
    record(
        state,
        &actor(authed, address),
        Change::new(&format!("{}.create", kind.as_str()), kind.as_str(), unit.id).after(&detail),
    )
    .await?;
    Ok(detail)
}

async fn rename_unit(
    state: &AppState,
    authed: &Authed,
    address: Option<String>,
    kind: OrgUnitKind,
    id: i64,
    name: &str,
) -> ApiResult<OrgUnitDetailDto> {
    directory_admin(authed)?;
    org_unit_name(name)?;
    let unit = unit_of(state, kind, id).await?;
    let renamed = state
        .store
        .update_org_unit(
            unit.id,
            name.trim(),
            unit.external_id.clone(),
            crate::now_millis(),
        )
        .await?;
    record(
        state,
        &actor(authed, address),
        Change::new(&format!("{}.rename", kind.as_str()), kind.as_str(), unit.id)
            .before(&serde_json::json!({"name": unit.name}))
            .after(&serde_json::json!({"name": renamed.name})),
    )
    .await?;
    unit_detail(state, &renamed).await
}

async fn delete_unit(
    state: &AppState,
    authed: &Authed,
    address: Option<String>,
    kind: OrgUnitKind,
    id: i64,
) -> ApiResult<StatusCode> {
    directory_admin(authed)?;
    let unit = unit_of(state, kind, id).await?;
    let before = unit_detail(state, &unit).await?;
    directory::set_unit_members(
        state,
        unit.id,
        &[],
        &directory::UnitGranter::Person(authed.user.clone()),
    )
    .await?;
    state.store.delete_org_unit(unit.id).await?;
    record(
        state,
        &actor(authed, address),
        Change::new(&format!("{}.delete", kind.as_str()), kind.as_str(), unit.id).before(&before),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_member(
    state: &AppState,
    authed: &Authed,
    address: Option<String>,
    kind: OrgUnitKind,
    id: i64,
    user_id: UserId,
    member: bool,
) -> ApiResult<OrgUnitDetailDto> {
    directory_admin(authed)?;
    let unit = unit_of(state, kind, id).await?;
    target(state, user_id).await?;
    let change = directory::set_unit_member(
        state,
        unit.id,
        user_id,
        member,
        &directory::UnitGranter::Person(authed.user.clone()),
    )
    .await?;
    if change.changed {
        let action = format!(
            "{}.{}",
            kind.as_str(),
            if member {
                "member_add"
            } else {
                "member_remove"
            }
        );
        record(
            state,
            &actor(authed, address),
            Change::new(&action, kind.as_str(), unit.id).after(&serde_json::json!({
                "user_id": user_id, "channels_skipped": change.channels_skipped,
            })),
        )
        .await?;
    }
    let mut detail = unit_detail(state, &unit).await?;
    detail.channels_skipped = change.channels_skipped;
    Ok(detail)
}

macro_rules! unit_routes {
    ($kind:expr, $path:literal, $tag:literal, $list:ident, $create:ident, $get:ident, $rename:ident, $delete:ident, $add:ident, $remove:ident) => {
        #[doc = concat!("Every ", $tag, " with its member count (admins).")]
        #[utoipa::path(get, path = concat!("/api/v1/admin/", $path), tag = "admin", security(("bearer" = [])),
            responses((status = 200, body = [OrgUnitDto]), (status = 403, body = crate::error::ErrorBody)))]
        pub async fn $list(State(state): State<AppState>, authed: Authed) -> ApiResult<Json<Vec<OrgUnitDto>>> {
            Ok(Json(list_units(&state, &authed, $kind).await?))
        }

        #[doc = concat!("Creates a ", $tag, "; names are unique, compared case-insensitively.")]
        #[utoipa::path(post, path = concat!("/api/v1/admin/", $path), tag = "admin", security(("bearer" = [])), request_body = UnitNameRequest,
            responses((status = 201, body = OrgUnitDetailDto), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
        pub async fn $create(
            State(state): State<AppState>,
            ClientAddress(address): ClientAddress,
            authed: Authed,
            ApiJson(request): ApiJson<UnitNameRequest>,
        ) -> ApiResult<(StatusCode, Json<OrgUnitDetailDto>)> {
            Ok((StatusCode::CREATED, Json(create_unit(&state, &authed, address, $kind, &request.name).await?)))
        }

        #[doc = concat!("One ", $tag, " with its members and the channels they are added to.")]
        #[utoipa::path(get, path = concat!("/api/v1/admin/", $path, "/{id}"), tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)),
            responses((status = 200, body = OrgUnitDetailDto), (status = 404, body = crate::error::ErrorBody)))]
        pub async fn $get(State(state): State<AppState>, authed: Authed, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<OrgUnitDetailDto>> {
            directory_admin(&authed)?;
            let unit = unit_of(&state, $kind, id).await?;
            Ok(Json(unit_detail(&state, &unit).await?))
        }

        #[doc = concat!("Renames a ", $tag, ".")]
        #[utoipa::path(patch, path = concat!("/api/v1/admin/", $path, "/{id}"), tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)),
            request_body = UnitNameRequest, responses((status = 200, body = OrgUnitDetailDto), (status = 409, body = crate::error::ErrorBody)))]
        pub async fn $rename(
            State(state): State<AppState>,
            ClientAddress(address): ClientAddress,
            authed: Authed,
            ApiPath(id): ApiPath<i64>,
            ApiJson(request): ApiJson<UnitNameRequest>,
        ) -> ApiResult<Json<OrgUnitDetailDto>> {
            Ok(Json(rename_unit(&state, &authed, address, $kind, id, &request.name).await?))
        }

        #[doc = concat!("Deletes a ", $tag, ": its members leave it (and the channels only it gave them), its rules go.")]
        #[utoipa::path(delete, path = concat!("/api/v1/admin/", $path, "/{id}"), tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)),
            responses((status = 204, description = "deleted"), (status = 404, body = crate::error::ErrorBody)))]
        pub async fn $delete(
            State(state): State<AppState>,
            ClientAddress(address): ClientAddress,
            authed: Authed,
            ApiPath(id): ApiPath<i64>,
        ) -> ApiResult<StatusCode> {
            delete_unit(&state, &authed, address, $kind, id).await
        }

        #[doc = concat!("Adds a member to a ", $tag, " (and so to the channels its rules name, except private channels the caller is not a member of: see docs/permissions.md).")]
        #[utoipa::path(put, path = concat!("/api/v1/admin/", $path, "/{id}/members/{user_id}"), tag = "admin", security(("bearer" = [])),
            params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 200, body = OrgUnitDetailDto), (status = 404, body = crate::error::ErrorBody)))]
        pub async fn $add(
            State(state): State<AppState>,
            ClientAddress(address): ClientAddress,
            authed: Authed,
            ApiPath((id, user_id)): ApiPath<(i64, i64)>,
        ) -> ApiResult<Json<OrgUnitDetailDto>> {
            Ok(Json(set_member(&state, &authed, address, $kind, id, user_id, true).await?))
        }

        #[doc = concat!("Removes a member from a ", $tag, " (and from the channels only it gave them).")]
        #[utoipa::path(delete, path = concat!("/api/v1/admin/", $path, "/{id}/members/{user_id}"), tag = "admin", security(("bearer" = [])),
            params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 200, body = OrgUnitDetailDto), (status = 404, body = crate::error::ErrorBody)))]
        pub async fn $remove(
            State(state): State<AppState>,
            ClientAddress(address): ClientAddress,
            authed: Authed,
            ApiPath((id, user_id)): ApiPath<(i64, i64)>,
        ) -> ApiResult<Json<OrgUnitDetailDto>> {
            Ok(Json(set_member(&state, &authed, address, $kind, id, user_id, false).await?))
        }
    };
}

unit_routes!(
    OrgUnitKind::Department,
    "departments",
    "department",
    list_departments,
    create_department,
    get_department,
    rename_department,
    delete_department,
    add_department_member,
    remove_department_member
);
unit_routes!(
    OrgUnitKind::Team,
    "teams",
    "team",
    list_teams,
    create_team,
    get_team,
    rename_team,
    delete_team,
    add_team_member,
    remove_team_member
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleDto {
    pub id: i64,
    pub unit_id: i64,
    pub channel_id: i64,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

impl From<&AutoMembershipRule> for RuleDto {
    fn from(rule: &AutoMembershipRule) -> Self {
        RuleDto {
            id: rule.id,
            unit_id: rule.unit_id,
            channel_id: rule.channel_id,
            created_by: rule.created_by,
            created_at: rule.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRuleRequest {
    /// A department's or a team's id.
    pub unit_id: i64,
    /// A public or private channel.
    pub channel_id: i64,
}

/// Every auto-membership rule.
#[utoipa::path(get, path = "/api/v1/admin/auto-membership-rules", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [RuleDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_rules(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<RuleDto>>> {
    directory_admin(&authed)?;
    Ok(Json(
        state
            .store
            .auto_membership_rules()
            .await?
            .iter()
            .map(RuleDto::from)
            .collect(),
    ))
}

/// "Members of this department or team belong in this channel": adds the
/// current members now, and everyone who joins later; those who leave are
/// removed unless another rule still gives them the channel.
#[utoipa::path(post, path = "/api/v1/admin/auto-membership-rules", tag = "admin", security(("bearer" = [])), request_body = CreateRuleRequest,
    responses((status = 201, body = RuleDto), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create_rule(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<CreateRuleRequest>,
) -> ApiResult<(StatusCode, Json<RuleDto>)> {
    directory_admin(&authed)?;
    state
        .store
        .org_unit(request.unit_id)
        .await?
        .ok_or(ApiError::NotFound("department or team"))?;
    let channel =
        invitable_channel(&state, &authed, request.channel_id, AdmissionPath::NewRule).await?;
    let rule = state
        .store
        .create_auto_membership_rule(
            request.unit_id,
            channel.id,
            Some(authed.user.id),
            crate::now_millis(),
        )
        .await?;
    let added = directory::apply_rule(&state, &rule).await?;
    let dto = RuleDto::from(&rule);
    record(
        &state,
        &actor(&authed, address),
        Change::new(
            "auto_membership_rule.create",
            "auto_membership_rule",
            rule.id,
        )
        .after(&serde_json::json!({"rule": &dto, "members_added": added})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(dto)))
}

/// Deletes a rule; channel memberships it made stay.
#[utoipa::path(delete, path = "/api/v1/admin/auto-membership-rules/{id}", tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    directory_admin(&authed)?;
    let rule = state
        .store
        .auto_membership_rules()
        .await?
        .into_iter()
        .find(|rule| rule.id == id)
        .ok_or(ApiError::NotFound("rule"))?;
    state.store.delete_auto_membership_rule(id).await?;
    record(
        &state,
        &actor(&authed, address),
        Change::new("auto_membership_rule.delete", "auto_membership_rule", id)
            .before(&RuleDto::from(&rule)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScimTokenDto {
    pub id: i64,
    pub name: String,
    /// The owner or admin who minted it; SCIM acts with their rights
    /// (capped at admin) and the token dies when they lose them. Null for
    /// a token minted on the command line.
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<&ScimToken> for ScimTokenDto {
    fn from(token: &ScimToken) -> Self {
        ScimTokenDto {
            id: token.id,
            name: token.name.clone(),
            created_by: token.created_by,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateScimTokenRequest {
    /// A label, such as the identity provider's name.
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedScimTokenDto {
    #[serde(flatten)]
    pub token: ScimTokenDto,
    /// The bearer token, shown this once; only its hash is stored.
    pub secret: String,
}

/// SCIM tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/scim-tokens", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [ScimTokenDto]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_scim_tokens(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<ScimTokenDto>>> {
    directory_admin(&authed)?;
    Ok(Json(
        state
            .store
            .scim_tokens()
            .await?
            .iter()
            .map(ScimTokenDto::from)
            .collect(),
    ))
}

/// Creates a SCIM bearer token for an identity provider.
#[utoipa::path(post, path = "/api/v1/admin/scim-tokens", tag = "admin", security(("bearer" = [])), request_body = CreateScimTokenRequest,
    responses((status = 201, body = CreatedScimTokenDto), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create_scim_token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<CreateScimTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedScimTokenDto>)> {
    directory_admin(&authed)?;
    let (token, secret) =
        issue_scim_token(&*state.store, &request.name, Some(authed.user.id)).await?;
    let dto = ScimTokenDto::from(&token);
    record(
        &state,
        &actor(&authed, address),
        Change::new("scim_token.create", "scim_token", token.id).after(&dto),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedScimTokenDto { token: dto, secret }),
    ))
}

/// Makes a SCIM token: 256 random bits, stored as a SHA-256 hash. Shared by
/// the API and `conclave scim token create`. `maker` is the owner or admin
/// minting it through the API, whose rights (capped at admin) the token
/// carries for as long as they hold them; None is the command line's
/// operator token (see docs/permissions.md).
pub async fn issue_scim_token(
    store: &dyn conclave_store::Store,
    name: &str,
    maker: Option<UserId>,
) -> ApiResult<(ScimToken, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(
            "a token name is 1 to 100 characters".into(),
        ));
    }
    let secret = crate::auth::new_token();
    let token = store
        .create_scim_token(
            name,
            &crate::auth::token_hash(&secret),
            maker,
            crate::now_millis(),
        )
        .await?;
    Ok((token, secret))
}

/// Revokes a SCIM token at once.
#[utoipa::path(delete, path = "/api/v1/admin/scim-tokens/{id}", tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_scim_token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    directory_admin(&authed)?;
    if !state
        .store
        .revoke_scim_token(id, crate::now_millis())
        .await?
    {
        return Err(ApiError::NotFound("SCIM token"));
    }
    record(
        &state,
        &actor(&authed, address),
        Change::new("scim_token.revoke", "scim_token", id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
