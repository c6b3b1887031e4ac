//! SCIM 2.0 (RFC 7643/7644) provisioning, and the directory behaviour it
//! shares with the admin API.
//!
//! - `schema`: the schemas served and the attribute table everything else
//!   consults.
//! - `filter`: filter and PATCH-path parsing and evaluation.
//! - `document`: canonical JSON documents in, shaped representations out.
//! - `patch`: PATCH operations on documents.
//! - `users`, `groups`: the two resource types over the store.
//! - `directory`: org units, auto-membership rules, (de)activation, expiry.
//!
//! The HTTP routes live in `routes::scim`. Nothing here writes SQL; event
//! producing changes (deactivation, channel membership) go through the
//! group-commit writer.

pub mod directory;
pub mod document;
pub mod error;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod schema;
pub mod users;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use conclave_domain::directory::ScimToken;
use serde_json::Value;

use self::error::{ScimError, ScimResult};
use crate::audit::Actor;
use crate::state::AppState;

/// The media type of SCIM messages (RFC 7644 §8.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
/// How often a token's "last used" time is written, at most.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// An authenticated SCIM client: its token, its address, and the base URL
/// resources are located under.
///
/// SCIM acts with the rights of the person who minted the token, capped at
/// admin: the extractor admits a token only while its maker is an active
/// owner or admin (`permissions::can_use_scim_token`), checked at every
/// request; a token minted on the command line has no maker and acts as an
/// admin-capped operator. What an admin may not touch (owners' and admins'
/// accounts, `permissions::can_scim_manage`) SCIM may not touch either.
#[derive(Debug, Clone)]
pub struct ScimClient {
    pub token: ScimToken,
    pub address: Option<String>,
    /// `http://host/scim/v2`, for `meta.location` and `$ref`.
    pub base: String,
}

impl ScimClient {
    /// The audit log's actor for what this client does: the token by id in
    /// the label (`scim:token-3`), and its maker as the acting person when
    /// it has one.
    pub fn actor(&self) -> Actor {
        let label = format!("scim:token-{}", self.token.id);
        match self.token.created_by {
            Some(maker) => Actor::Delegate {
                id: maker,
                label,
                address: self.address.clone(),
            },
            None => Actor::label(&label, self.address.clone()),
        }
    }
}

/// Refuses a token whose maker is no longer an active owner or admin, and
/// revokes it then and there: a token dies with its maker's rights and
/// does not come back if they do. (Deactivation also revokes a maker's
/// tokens in its own transaction; this catches demotions, whatever made
/// them.)
async fn check_maker(state: &AppState, token: &ScimToken) -> ScimResult<()> {
    let Some(maker_id) = token.created_by else {
        return Ok(());
    };
    let maker = state.store.user_by_id(maker_id).await?;
    if maker
        .as_ref()
        .is_some_and(conclave_domain::permissions::can_use_scim_token)
    {
        return Ok(());
    }
    state
        .store
        .revoke_scim_token(token.id, crate::now_millis())
        .await?;
    tracing::info!(
        token_id = token.id,
        maker_id,
        "SCIM token revoked: its maker is no longer an active owner or admin"
    );
    Err(ScimError::new(
        StatusCode::UNAUTHORIZED,
        None,
        "this SCIM token was revoked: the person who minted it is no longer an active owner or admin",
    ))
}

/// The base URL of the SCIM service as this request reached it.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.config.public_url {
        return format!("{}/scim/v2", public.trim_end_matches('/'));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            host.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("http://{host}/scim/v2")
}

impl FromRequestParts<AppState> for ScimClient {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = crate::auth::bearer_token(parts)
            .filter(|token| !token.is_empty() && token.len() <= 256);
        let Some(token) = token else {
            return Err(ScimError::unauthorized());
        };
        let Some(token) = state
            .store
            .scim_token_by_hash(&crate::auth::token_hash(token))
            .await?
        else {
            return Err(ScimError::unauthorized());
        };
        check_maker(state, &token).await?;
        let now = crate::now_millis();
        if token
            .last_used_at
            .is_none_or(|used| now - used > TOUCH_INTERVAL_MS)
        {
            state.store.touch_scim_token(token.id, now).await?;
        }
        let address = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        Ok(ScimClient {
            token,
            address,
            base: base_url(state, &parts.headers),
        })
    }
}

/// A JSON request body sent as `application/scim+json` (or plain JSON).
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let Some(content_type) = &content_type
            && !content_type.contains("json")
        {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                format!("send {CONTENT_TYPE}, not {content_type}"),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ScimError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        None,
                        "the request body is too large",
                    )
                } else {
                    ScimError::invalid_syntax(rejection.body_text())
                }
            })?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|error| ScimError::invalid_syntax(format!("the body is not JSON: {error}")))?;
        Ok(ScimBody(value))
    }
}

/// A SCIM JSON response with the SCIM media type, and when given, the
/// resource's entity tag and location.
pub fn respond(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    let meta = body.get("meta");
    if let Some(version) = meta
        .and_then(|meta| meta.get("version"))
        .and_then(Value::as_str)
        && let Ok(value) = HeaderValue::from_str(version)
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Some(location) = meta
            .and_then(|meta| meta.get("location"))
            .and_then(Value::as_str)
        && let Ok(value) = HeaderValue::from_str(location)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Refuses a write whose `If-Match` names another version (RFC 7644 §3.14).
pub fn check_if_match(headers: &HeaderMap, current: &Value) -> ScimResult<()> {
    let Some(wanted) = headers
        .get(header::IF_MATCH)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(());
    };
    let version = current
        .get("meta")
        .and_then(|meta| meta.get("version"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let matches = wanted.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || tag == version
            || tag.trim_start_matches("W/") == version.trim_start_matches("W/")
    });
    if matches {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource changed since that version",
        ))
    }
}

/// The list query parameters of RFC 7644 §3.4.2 and the `.search` body.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub filter: Option<filter::Filter>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
}

/// Results per page when a client does not say, and the most it may ask.
pub const DEFAULT_COUNT: usize = 100;
pub const MAX_COUNT: usize = 1000;

impl Query {
    /// From URL parameters.
    pub fn from_params(params: &std::collections::HashMap<String, String>) -> ScimResult<Query> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        let number = |name: &str| -> ScimResult<Option<i64>> {
            get(name)
                .map(|text| {
                    text.trim()
                        .parse::<i64>()
                        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
                })
                .transpose()
        };
        Query::build(
            get("filter").map(str::to_string),
            number("startIndex")?,
            number("count")?,
            document::split_list(get("attributes")),
            document::split_list(get("excludedAttributes")),
        )
    }

    /// From a `.search` body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> ScimResult<Query> {
        if !body.is_object() {
            return Err(ScimError::invalid_syntax(
                "a search request is a JSON object",
            ));
        }
        let text = |name: &str| -> ScimResult<Option<String>> {
            match filter::member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
            }
        };
        let number = |name: &str| -> ScimResult<Option<i64>> {
            match filter::member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(number)) => number
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} must be an integer"
                ))),
            }
        };
        let list = |name: &str| -> ScimResult<Vec<String>> {
            match filter::member(body, name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_str().map(str::to_string).ok_or_else(|| {
                            ScimError::invalid_value(format!("{name} holds strings"))
                        })
                    })
                    .collect(),
                Some(Value::String(text)) => Ok(document::split_list(Some(text))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} must be an array of strings"
                ))),
            }
        };
        Query::build(
            text("filter")?,
            number("startIndex")?,
            number("count")?,
            list("attributes")?,
            list("excludedAttributes")?,
        )
    }

    fn build(
        filter_text: Option<String>,
        start_index: Option<i64>,
        count: Option<i64>,
        attributes: Vec<String>,
        excluded_attributes: Vec<String>,
    ) -> ScimResult<Query> {
        let filter = match filter_text.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(filter::parse(text)?),
        };
        // RFC 7644 §3.4.2.4: values below 1 mean 1; a negative count means 0.
        let start_index = usize::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count = usize::try_from(count.unwrap_or(DEFAULT_COUNT as i64).max(0))
            .unwrap_or(0)
            .min(MAX_COUNT);
        Ok(Query {
            filter,
            start_index,
            count,
            attributes,
            excluded_attributes,
        })
    }
}

/// A ListResponse page over already-filtered, full representations.
pub fn list_response(resources: Vec<(schema::ResourceKind, Value)>, query: &Query) -> Value {
    let total = resources.len();
    let page: Vec<Value> = resources
        .into_iter()
        .skip(query.start_index - 1)
        .take(query.count)
        .map(|(kind, resource)| {
            document::project(
                kind,
                resource,
                &query.attributes,
                &query.excluded_attributes,
            )
        })
        .collect();
    serde_json::json!({
        "schemas": [schema::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": query.start_index,
        "itemsPerPage": page.len(),
        "Resources": page,
    })
}
