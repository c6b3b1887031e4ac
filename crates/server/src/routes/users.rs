//! People: search, profiles, and creation by admins.
//!
//! Guests see only the people they share a channel with
//! (`permissions::can_see_whole_directory`); [`visible_people`] is that
//! rule's one implementation, used here and for presence subscriptions.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use conclave_domain::{NewUser, Role, User, UserId, permissions, text, validate};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ApiJson, ApiPath, ApiQuery};
use crate::api::{CreateUserRequest, UserDto};
use crate::auth::{Authed, ClientAddress, hash_password_off_thread};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct UserQuery {
    /// Text to look for in names, handles and emails.
    pub q: Option<String>,
    pub limit: Option<i64>,
}

/// The people `user` may see in the directory and hear the presence of:
/// None means everyone; a guest gets the people who share a channel with
/// them, and themselves.
pub async fn visible_people(state: &AppState, user: &User) -> ApiResult<Option<HashSet<UserId>>> {
    if permissions::can_see_whole_directory(user) {
        return Ok(None);
    }
    let mut people = HashSet::from([user.id]);
    for channel_id in state.store.user_channel_ids(user.id).await? {
        people.extend(state.store.channel_member_ids(channel_id).await?);
    }
    Ok(Some(people))
}

/// Active users matching a query (for a guest, only those who share a
/// channel with them).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(UserQuery),
    responses((status = 200, body = [UserDto])))]
pub async fn list(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> ApiResult<Json<Vec<UserDto>>> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let text = query.q.unwrap_or_default();
    if text.chars().count() > 100 {
        return Err(ApiError::InvalidRequest(
            "q must be at most 100 characters".into(),
        ));
    }
    let text = text.trim();
    let users = match visible_people(&state, &authed.user).await? {
        None => state.store.search_users(text, limit).await?,
        Some(people) => {
            let ids: Vec<UserId> = people.into_iter().collect();
            let needle = text.to_lowercase();
            let mut users: Vec<User> = state
                .store
                .users_by_ids(&ids)
                .await?
                .into_iter()
                .filter(|user| {
                    user.active
                        && (user.name.to_lowercase().contains(&needle)
                            || user.handle.contains(&needle)
                            || user.email.contains(&needle))
                })
                .collect();
            users.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            users.truncate(usize::try_from(limit).unwrap_or(50));
            users
        }
    };
    Ok(Json(users.iter().map(UserDto::from).collect()))
}

/// One user's profile (for a guest, only someone who shares a channel with
/// them).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = UserDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserDto>> {
    if let Some(people) = visible_people(&state, &authed.user).await?
        && !people.contains(&id)
    {
        return Err(ApiError::NotFound("user"));
    }
    let user = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(UserDto::from(&user)))
}

/// Creates a local account (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = UserDto), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    if !permissions::can_manage_users(&authed.user) {
        return Err(ApiError::forbidden("only admins create users"));
    }
    let role = match request.role.as_deref() {
        None => Role::Member,
        Some(text) => Role::parse(text)
            .ok_or_else(|| ApiError::InvalidRequest(format!("unknown role {text:?}")))?,
    };
    if role == Role::Owner && authed.user.role != Role::Owner {
        return Err(ApiError::forbidden("only owners create owners"));
    }
    let user = create_local_user(
        &state,
        &request.email,
        &request.name,
        role,
        Some(&request.password),
    )
    .await?;
    crate::audit::record(
        &*state.store,
        &crate::audit::Actor::user(&authed.user, address),
        crate::audit::Change::new("user.create", "user", user.id).after(&UserDto::from(&user)),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserDto::from(&user))))
}

/// Validates and creates a user with a unique handle derived from the email.
/// Shared by the API and the command line.
pub async fn create_local_user(
    state: &AppState,
    email: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> ApiResult<conclave_domain::User> {
    create_user_in(&*state.store, email, name, role, password).await
}

pub async fn create_user_in(
    store: &dyn conclave_store::Store,
    email: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> ApiResult<conclave_domain::User> {
    let email = validate::normalize_email(email);
    validate::email(&email)?;
    validate::display_name(name)?;
    let password_hash = match password {
        Some(password) => {
            conclave_domain::auth::check_password(password, &email)?;
            let password = password.to_string();
            Some(hash_password_off_thread(password).await?)
        }
        None => None,
    };
    if store.user_by_email(&email).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let base = text::handle_from_email(&email);
    let mut handle = base.clone();
    let mut suffix = 2;
    while !store
        .users_by_handles(std::slice::from_ref(&handle))
        .await?
        .is_empty()
    {
        handle = format!("{base}{suffix}");
        suffix += 1;
    }
    Ok(store
        .create_user(NewUser {
            email,
            handle,
            name: name.trim().to_string(),
            role,
            password_hash,
            created_at: crate::now_millis(),
        })
        .await?)
}
