//! Profiles: each person edits their own display name, status text and
//! photo; everyone who may see the person in the directory sees them
//! (`GET /profiles`, the photo at `GET /users/{id}/avatar`), as they see
//! names: guests only people who share a channel with them.
//!
//! A photo is normalised here whatever the browser sent: decoded with
//! limits, cropped to the centre square, scaled to 256 px and re-encoded as
//! JPEG, then sealed in the blob store under the person's own key, so an
//! erasure's crypto-shredding covers it. Changes reach open clients as an
//! ephemeral `profile_updated` frame.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use conclave_domain::account::{self, UserProfile};
use std::collections::HashSet;

use conclave_domain::directory::UserListFilter;
use conclave_domain::{Role, User, UserId, validate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{OpenApi, ToSchema};

use super::{ApiJson, ApiPath};
use crate::api::UserDto;
use crate::audit::{Actor, Change};
use crate::auth::{Authed, ClientAddress};
use crate::error::{ApiError, ApiResult};
use crate::hub::Frame;
use crate::state::AppState;

/// The largest photo accepted before normalising, in bytes.
pub const MAX_AVATAR_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// The edge of a stored photo, in pixels.
pub const AVATAR_EDGE: u32 = 256;

/// This module's routes, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/profiles", get(list_profiles))
        .route("/users/me", get(my_profile).patch(update_my_profile))
        .route(
            "/users/me/avatar",
            put(upload_avatar)
                .delete(remove_avatar)
                .layer(DefaultBodyLimit::max(MAX_AVATAR_UPLOAD_BYTES)),
        )
        .route("/users/{id}/avatar", get(avatar))
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_profiles,
        my_profile,
        update_my_profile,
        upload_avatar,
        remove_avatar,
        avatar
    ),
    components(schemas(ProfileDto, MyProfileDto, UpdateProfileRequest))
)]
pub struct Doc;

/// What a person shows beyond their name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileDto {
    pub user_id: i64,
    /// A short line such as "On leave until Monday"; empty for none.
    pub status: String,
    /// Changes whenever the photo does (use it to bust caches); absent when
    /// the person has no photo.
    pub avatar_version: Option<i64>,
}

impl From<&UserProfile> for ProfileDto {
    fn from(profile: &UserProfile) -> Self {
        ProfileDto {
            user_id: profile.user_id,
            status: profile.status_text.clone(),
            avatar_version: profile.avatar_key.as_ref().map(|_| profile.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyProfileDto {
    pub user: UserDto,
    pub profile: ProfileDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    /// A new display name (1 to 80 characters).
    pub name: Option<String>,
    /// A new status text (at most 100 characters; empty clears it).
    pub status: Option<String>,
}

fn empty_profile(user: &User) -> UserProfile {
    UserProfile {
        user_id: user.id,
        ..UserProfile::default()
    }
}

/// Tells everyone online who may see `user` about a changed profile, so
/// names and photos in open lists follow. Guests hear only of people who
/// share a channel with them, as the directory shows them.
async fn announce(state: &AppState, user: &User, profile: &UserProfile) {
    // The change is stored already: failing to tell open screens must not
    // turn it into an error for the person who made it.
    let recipients = match profile_audience(state, user).await {
        Ok(recipients) => recipients,
        Err(error) => {
            tracing::warn!(user_id = user.id, %error, "profile change not announced");
            return;
        }
    };
    let text = serde_json::json!({
        "type": "profile_updated",
        "user": UserDto::from(user),
        "profile": ProfileDto::from(profile),
    })
    .to_string();
    state.hub.deliver(
        recipients.iter(),
        None,
        &Frame {
            position: 0,
            text: text.into(),
        },
    );
}

/// The people online who may see `user`.
async fn profile_audience(state: &AppState, user: &User) -> ApiResult<Vec<UserId>> {
    let guests: HashSet<UserId> = state
        .store
        .list_users(UserListFilter {
            role: Some(Role::Guest),
            active: Some(true),
            limit: i64::MAX,
            ..UserListFilter::default()
        })
        .await?
        .into_iter()
        .map(|guest| guest.id)
        .collect();
    let mut channel_mates = HashSet::from([user.id]);
    if !guests.is_empty() {
        for channel_id in state.store.user_channel_ids(user.id).await? {
            channel_mates.extend(state.store.channel_member_ids(channel_id).await?);
        }
    }
    Ok(state
        .hub
        .online_users()
        .into_iter()
        .filter(|id| !guests.contains(id) || channel_mates.contains(id))
        .collect())
}

/// Every profile with a status or photo that the caller may see: a guest
/// sees only the people who share a channel with them, as in the directory.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [ProfileDto])))]
pub async fn list_profiles(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<ProfileDto>>> {
    let visible = crate::routes::users::visible_people(&state, &authed.user).await?;
    let profiles = state.store.user_profiles().await?;
    Ok(Json(
        profiles
            .iter()
            .filter(|profile| {
                visible
                    .as_ref()
                    .is_none_or(|people| people.contains(&profile.user_id))
            })
            .map(ProfileDto::from)
            .collect(),
    ))
}

/// The caller's account and profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = MyProfileDto)))]
pub async fn my_profile(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<MyProfileDto>> {
    let profile = state
        .store
        .user_profile(authed.user.id)
        .await?
        .unwrap_or_else(|| empty_profile(&authed.user));
    Ok(Json(MyProfileDto {
        user: UserDto::from(&authed.user),
        profile: ProfileDto::from(&profile),
    }))
}

/// Changes the caller's display name and/or status text. Audited.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses((status = 200, body = MyProfileDto), (status = 400, body = crate::error::ErrorBody)))]
pub async fn update_my_profile(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<UpdateProfileRequest>,
) -> ApiResult<Json<MyProfileDto>> {
    let name = match &request.name {
        Some(name) => {
            validate::display_name(name)?;
            Some(name.trim().to_string())
        }
        None => None,
    };
    let status = request
        .status
        .as_deref()
        .map(account::status_text)
        .transpose()?;
    let before = state
        .store
        .user_profile(authed.user.id)
        .await?
        .unwrap_or_else(|| empty_profile(&authed.user));
    let user = match &name {
        Some(name) if *name != authed.user.name => {
            state
                .store
                .update_user_profile(authed.user.id, &authed.user.email, name)
                .await?
        }
        _ => authed.user.clone(),
    };
    let profile = match &status {
        Some(status) if *status != before.status_text => {
            state
                .store
                .put_user_profile(UserProfile {
                    status_text: status.clone(),
                    updated_at: crate::now_millis(),
                    ..before.clone()
                })
                .await?
        }
        _ => before.clone(),
    };
    crate::audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("user.profile", "user", authed.user.id)
            .before(&serde_json::json!({"name": authed.user.name, "status": before.status_text}))
            .after(&serde_json::json!({"name": user.name, "status": profile.status_text})),
    )
    .await?;
    announce(&state, &user, &profile).await;
    Ok(Json(MyProfileDto {
        user: UserDto::from(&user),
        profile: ProfileDto::from(&profile),
    }))
}

/// Sets the caller's photo from an image (PNG, JPEG, GIF or WebP; the raw
/// bytes are the body, at most 5 MiB). It is cropped to the centre square
/// and scaled to 256 × 256.
#[utoipa::path(put, path = "/api/v1/users/me/avatar", tag = "users", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 200, body = ProfileDto), (status = 400, body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody)))]
pub async fn upload_avatar(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    body: Bytes,
) -> ApiResult<Json<ProfileDto>> {
    if body.is_empty() {
        return Err(ApiError::InvalidRequest(
            "send the image as the body".into(),
        ));
    }
    let bytes = body.to_vec();
    let square = tokio::task::spawn_blocking(move || square_avatar(bytes))
        .await
        .map_err(|error| ApiError::Internal(format!("avatar task: {error}")))?
        .map_err(|_| {
            ApiError::InvalidRequest("the photo must be a PNG, JPEG, GIF or WebP image".into())
        })?;
    // Keyed apart from attachments (the digest is of a prefixed copy), so
    // replacing a photo never deletes a shared file with the same bytes.
    let mut hasher = Sha256::new();
    hasher.update(b"conclave avatar\0");
    hasher.update(&square);
    let digest = hex::encode(hasher.finalize());
    let key = crate::blobs::content_key("sha256", &digest, authed.user.id);
    state
        .blobs
        .put_bytes(&key, square, authed.user.id)
        .await
        .map_err(|error| ApiError::Internal(format!("storing the photo: {error}")))?;
    let before = state
        .store
        .user_profile(authed.user.id)
        .await?
        .unwrap_or_else(|| empty_profile(&authed.user));
    let profile = state
        .store
        .put_user_profile(UserProfile {
            avatar_key: Some(key.clone()),
            updated_at: crate::now_millis(),
            ..before.clone()
        })
        .await?;
    if let Some(old) = before.avatar_key.filter(|old| *old != key) {
        remove_blob(&state, &old).await;
    }
    crate::audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("user.avatar", "user", authed.user.id)
            .after(&serde_json::json!({"avatar": true})),
    )
    .await?;
    announce(&state, &authed.user, &profile).await;
    Ok(Json(ProfileDto::from(&profile)))
}

/// Removes the caller's photo (initials are shown again).
#[utoipa::path(delete, path = "/api/v1/users/me/avatar", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = ProfileDto)))]
pub async fn remove_avatar(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
) -> ApiResult<Json<ProfileDto>> {
    let Some(before) = state.store.user_profile(authed.user.id).await? else {
        return Ok(Json(ProfileDto::from(&empty_profile(&authed.user))));
    };
    let Some(old) = before.avatar_key.clone() else {
        return Ok(Json(ProfileDto::from(&before)));
    };
    let profile = state
        .store
        .put_user_profile(UserProfile {
            avatar_key: None,
            updated_at: crate::now_millis(),
            ..before
        })
        .await?;
    remove_blob(&state, &old).await;
    crate::audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("user.avatar", "user", authed.user.id)
            .after(&serde_json::json!({"avatar": false})),
    )
    .await?;
    announce(&state, &authed.user, &profile).await;
    Ok(Json(ProfileDto::from(&profile)))
}

/// A person's photo, for anyone signed in who may see the person in the
/// directory (a guest: people who share a channel with them). 404 when they
/// have none or the caller may not see them.
#[utoipa::path(get, path = "/api/v1/users/{id}/avatar", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn avatar(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    if let Some(people) = crate::routes::users::visible_people(&state, &authed.user).await?
        && !people.contains(&id)
    {
        return Err(ApiError::NotFound("avatar"));
    }
    let key = state
        .store
        .user_profile(id)
        .await?
        .and_then(|profile| profile.avatar_key)
        .ok_or(ApiError::NotFound("avatar"))?;
    let bytes = state.blobs.read_all(&key).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            ApiError::NotFound("avatar")
        } else {
            ApiError::Internal(format!("reading the photo: {error}"))
        }
    })?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(response)
}

async fn remove_blob(state: &AppState, key: &str) {
    if let Err(error) = state.blobs.delete(key).await {
        tracing::warn!(%error, key, "could not delete a replaced photo");
    }
}

/// Decodes with limits (a decompression bomb is refused), crops the centre
/// square, scales it to [`AVATAR_EDGE`] and encodes JPEG over white.
pub fn square_avatar(bytes: Vec<u8>) -> Result<Vec<u8>, image::ImageError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(10_000);
    limits.max_image_height = Some(10_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode()?;
    let square = image
        .resize_to_fill(
            AVATAR_EDGE,
            AVATAR_EDGE,
            image::imageops::FilterType::Lanczos3,
        )
        .to_rgba8();
    let flattened = image::RgbImage::from_fn(square.width(), square.height(), |x, y| {
        let [r, g, b, a] = square.get_pixel(x, y).0;
        let over_white = |channel: u8| {
            ((u16::from(channel) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    });
    let mut encoded = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, 85)
        .encode_image(&flattened)?;
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_cropped_square_and_scaled() {
        let wide = image::RgbImage::from_pixel(900, 300, image::Rgb([200, 20, 20]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(wide)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let jpeg = square_avatar(png).unwrap();
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 256));
        assert!(square_avatar(b"not an image".to_vec()).is_err());
    }
}
