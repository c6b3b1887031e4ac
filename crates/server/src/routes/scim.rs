//! The SCIM 2.0 service provider (RFC 7643/7644), mounted under `/scim/v2`
//! by [`crate::router`]: discovery, Users, Groups and `.search`. Every
//! request needs a SCIM bearer token (`conclave scim token create`); every
//! failure answers a SCIM error body. The behaviour lives in
//! [`crate::scim`]; this file only routes.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::{self, ResourceKind};
use crate::scim::{Query, ScimBody, ScimClient, groups, list_response, respond, users};
use crate::state::AppState;

/// This module's routes, relative to `/scim/v2`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .route("/.search", post(search_all))
        .fallback(not_found)
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi(paths(
    service_provider_config,
    resource_types,
    resource_type,
    schemas,
    schema_by_id,
    list_users,
    create_user,
    search_users,
    get_user,
    replace_user,
    patch_user,
    delete_user,
    list_groups,
    create_group,
    search_groups,
    get_group,
    replace_group,
    patch_group,
    delete_group,
    search_all,
))]
pub struct Doc;

async fn not_found() -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}

fn params(uri: &Uri) -> ScimResult<HashMap<String, String>> {
    axum::extract::Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|rejection| ScimError::invalid_syntax(rejection.body_text()))
}

fn ok(body: &Value) -> Response {
    respond(StatusCode::OK, body)
}

fn list_of(kind: ResourceKind, resources: Vec<Value>, query: &Query) -> Response {
    ok(&list_response(
        resources
            .into_iter()
            .map(|resource| (kind, resource))
            .collect(),
        query,
    ))
}

/// What the service supports.
#[utoipa::path(get, path = "/scim/v2/ServiceProviderConfig", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "application/scim+json ServiceProviderConfig"), (status = 401, description = "SCIM error")))]
pub async fn service_provider_config(
    State(state): State<AppState>,
    client: ScimClient,
) -> Response {
    ok(&schema::service_provider_config(
        &client.base,
        crate::scim::MAX_COUNT,
        state.config.limits.max_json_bytes,
    ))
}

/// The resource types: User and Group.
#[utoipa::path(get, path = "/scim/v2/ResourceTypes", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse of ResourceType")))]
pub async fn resource_types(client: ScimClient) -> Response {
    let all = schema::all_resource_types(&client.base);
    ok(
        &json!({"schemas": [schema::LIST_RESPONSE], "totalResults": all.len(), "startIndex": 1, "itemsPerPage": all.len(), "Resources": all}),
    )
}

/// One resource type by name.
#[utoipa::path(get, path = "/scim/v2/ResourceTypes/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "ResourceType"), (status = 404, description = "SCIM error")))]
pub async fn resource_type(client: ScimClient, Path(id): Path<String>) -> ScimResult<Response> {
    schema::all_resource_types(&client.base)
        .into_iter()
        .find(|resource_type| resource_type["id"].as_str() == Some(id.as_str()))
        .map(|found| ok(&found))
        .ok_or_else(|| ScimError::not_found(format!("no ResourceType {id:?}")))
}

/// Every schema with full attribute definitions.
#[utoipa::path(get, path = "/scim/v2/Schemas", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse of Schema")))]
pub async fn schemas(client: ScimClient) -> Response {
    let all = schema::all_schemas(&client.base);
    ok(
        &json!({"schemas": [schema::LIST_RESPONSE], "totalResults": all.len(), "startIndex": 1, "itemsPerPage": all.len(), "Resources": all}),
    )
}

/// One schema by URN.
#[utoipa::path(get, path = "/scim/v2/Schemas/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Schema"), (status = 404, description = "SCIM error")))]
pub async fn schema_by_id(client: ScimClient, Path(id): Path<String>) -> ScimResult<Response> {
    schema::all_schemas(&client.base)
        .into_iter()
        .find(|schema| {
            schema["id"]
                .as_str()
                .is_some_and(|urn| urn.eq_ignore_ascii_case(&id))
        })
        .map(|found| ok(&found))
        .ok_or_else(|| ScimError::not_found(format!("no Schema {id:?}")))
}

/// Users, filtered and paged (`filter`, `startIndex`, `count`,
/// `attributes`, `excludedAttributes`).
#[utoipa::path(get, path = "/scim/v2/Users", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse of User"), (status = 400, description = "SCIM error, e.g. invalidFilter")))]
pub async fn list_users(
    State(state): State<AppState>,
    client: ScimClient,
    uri: Uri,
) -> ScimResult<Response> {
    let query = Query::from_params(&params(&uri)?)?;
    let found = users::search(&state, &client.base, query.filter.as_ref()).await?;
    Ok(list_of(ResourceKind::User, found, &query))
}

/// Users, queried with a SearchRequest body.
#[utoipa::path(post, path = "/scim/v2/Users/.search", tag = "scim", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/scim+json"), responses((status = 200, description = "ListResponse of User")))]
pub async fn search_users(
    State(state): State<AppState>,
    client: ScimClient,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let query = Query::from_search(&body)?;
    let found = users::search(&state, &client.base, query.filter.as_ref()).await?;
    Ok(list_of(ResourceKind::User, found, &query))
}

fn one(kind: ResourceKind, resource: Value, uri: &Uri) -> ScimResult<Response> {
    let query = Query::from_params(&params(uri)?)?;
    let projected = crate::scim::document::project(
        kind,
        resource.clone(),
        &query.attributes,
        &query.excluded_attributes,
    );
    let mut response = ok(&projected);
    if let Some(version) = resource
        .get("meta")
        .and_then(|meta| meta.get("version"))
        .and_then(Value::as_str)
        && let Ok(value) = axum::http::HeaderValue::from_str(version)
    {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, value);
    }
    Ok(response)
}

/// Provisions a user.
#[utoipa::path(post, path = "/scim/v2/Users", tag = "scim", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 201, description = "User"), (status = 409, description = "SCIM error, scimType uniqueness")))]
pub async fn create_user(
    State(state): State<AppState>,
    client: ScimClient,
    uri: Uri,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let created = users::create(&state, &client, &body).await?;
    created_response(ResourceKind::User, created, &uri)
}

/// 201 with the resource and its `Location`.
fn created_response(kind: ResourceKind, created: Value, uri: &Uri) -> ScimResult<Response> {
    let location = created
        .get("meta")
        .and_then(|meta| meta.get("location"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut response = one(kind, created, uri)?;
    *response.status_mut() = StatusCode::CREATED;
    if let Some(value) =
        location.and_then(|location| axum::http::HeaderValue::from_str(&location).ok())
    {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    Ok(response)
}

/// One user.
#[utoipa::path(get, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "User"), (status = 404, description = "SCIM error")))]
pub async fn get_user(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    uri: Uri,
) -> ScimResult<Response> {
    let account = users::load(&state, &id).await?;
    one(
        ResourceKind::User,
        users::render_one(&state, &client.base, &account).await?,
        &uri,
    )
}

/// Replaces a user (PUT).
#[utoipa::path(put, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"), responses((status = 200, description = "User")))]
pub async fn replace_user(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    one(
        ResourceKind::User,
        users::replace(&state, &client, &id, &headers, &body).await?,
        &uri,
    )
}

/// Changes a user with PATCH operations (RFC 7644 §3.5.2).
#[utoipa::path(patch, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"), responses((status = 200, description = "User")))]
pub async fn patch_user(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    one(
        ResourceKind::User,
        users::modify(&state, &client, &id, &headers, &body).await?,
        &uri,
    )
}

/// Deprovisions a user: deactivated at once and hidden from SCIM.
#[utoipa::path(delete, path = "/scim/v2/Users/{id}", tag = "scim", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, description = "SCIM error")))]
pub async fn delete_user(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<StatusCode> {
    users::delete(&state, &client, &id, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Groups (teams), filtered and paged.
#[utoipa::path(get, path = "/scim/v2/Groups", tag = "scim", security(("bearer" = [])),
    responses((status = 200, description = "ListResponse of Group")))]
pub async fn list_groups(
    State(state): State<AppState>,
    client: ScimClient,
    uri: Uri,
) -> ScimResult<Response> {
    let query = Query::from_params(&params(&uri)?)?;
    let found = groups::search(&state, &client.base, query.filter.as_ref()).await?;
    Ok(list_of(ResourceKind::Group, found, &query))
}

/// Groups, queried with a SearchRequest body.
#[utoipa::path(post, path = "/scim/v2/Groups/.search", tag = "scim", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/scim+json"), responses((status = 200, description = "ListResponse of Group")))]
pub async fn search_groups(
    State(state): State<AppState>,
    client: ScimClient,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let query = Query::from_search(&body)?;
    let found = groups::search(&state, &client.base, query.filter.as_ref()).await?;
    Ok(list_of(ResourceKind::Group, found, &query))
}

/// Creates a team.
#[utoipa::path(post, path = "/scim/v2/Groups", tag = "scim", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 201, description = "Group"), (status = 409, description = "SCIM error, scimType uniqueness")))]
pub async fn create_group(
    State(state): State<AppState>,
    client: ScimClient,
    uri: Uri,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let created = groups::create(&state, &client, &body).await?;
    created_response(ResourceKind::Group, created, &uri)
}

/// One team.
#[utoipa::path(get, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Group"), (status = 404, description = "SCIM error")))]
pub async fn get_group(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    uri: Uri,
) -> ScimResult<Response> {
    let team = groups::load(&state, &id).await?;
    one(
        ResourceKind::Group,
        groups::render_one(&state, &client.base, &team).await?,
        &uri,
    )
}

/// Replaces a team (PUT).
#[utoipa::path(put, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"), responses((status = 200, description = "Group")))]
pub async fn replace_group(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    one(
        ResourceKind::Group,
        groups::replace(&state, &client, &id, &headers, &body).await?,
        &uri,
    )
}

/// Changes a team with PATCH operations, e.g. `members[value eq "42"]`.
#[utoipa::path(patch, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"), responses((status = 200, description = "Group")))]
pub async fn patch_group(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    one(
        ResourceKind::Group,
        groups::modify(&state, &client, &id, &headers, &body).await?,
        &uri,
    )
}

/// Deletes a team.
#[utoipa::path(delete, path = "/scim/v2/Groups/{id}", tag = "scim", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, description = "SCIM error")))]
pub async fn delete_group(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<StatusCode> {
    groups::delete(&state, &client, &id, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Users and Groups at once, queried with a SearchRequest body.
#[utoipa::path(post, path = "/scim/v2/.search", tag = "scim", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/scim+json"), responses((status = 200, description = "ListResponse")))]
pub async fn search_all(
    State(state): State<AppState>,
    client: ScimClient,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let query = Query::from_search(&body)?;
    let mut found: Vec<(ResourceKind, Value)> =
        users::search(&state, &client.base, query.filter.as_ref())
            .await?
            .into_iter()
            .map(|user| (ResourceKind::User, user))
            .collect();
    found.extend(
        groups::search(&state, &client.base, query.filter.as_ref())
            .await?
            .into_iter()
            .map(|group| (ResourceKind::Group, group)),
    );
    Ok(ok(&list_response(found, &query)))
}
