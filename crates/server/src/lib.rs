//! Conclave's edge: the REST API, the WebSocket, file transfer and the
//! embedded web client, over one [`Store`](conclave_store::Store).
//!
//! Architecture invariant: this crate is the only one that knows HTTP or
//! JSON wire formats. It never writes SQL; every event-producing write goes
//! through the group-commit writer in [`AppState`].

pub mod accounts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod auth_policy;
pub mod blobs;
pub mod compliance;
pub mod config;
pub mod connections;
pub mod error;
pub mod hub;
pub mod mfa;
pub mod oidc;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod scim;
pub mod state;
pub mod storage_health;
mod web;
pub mod whatsapp;
pub mod ws;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use futures_util::StreamExt;
pub use state::AppState;
use tokio::net::TcpListener;

use crate::hub::close_code;
use crate::routes::{
    audit as audit_routes, auth as auth_routes, channels, files, messages, system, users,
};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Every route, with body limits.
pub fn router(state: AppState) -> Router {
    let json_limit = state.config.limits.max_json_bytes;
    let upload_limit = usize::try_from(state.config.limits.max_upload_bytes).unwrap_or(usize::MAX);
    let api = Router::new()
        .route("/auth/login", post(auth_routes::login))
        .route("/auth/logout", post(auth_routes::logout))
        .route("/me", get(auth_routes::me))
        .route("/me/sessions", get(auth_routes::sessions))
        .route("/me/sessions/{id}", delete(auth_routes::revoke_session))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get))
        .route("/channels", get(channels::list).post(channels::create))
        .route("/channels/browse", get(channels::browse))
        .route("/conversations", post(channels::open_conversation))
        .route("/channels/{id}", get(channels::get).patch(channels::update))
        .route("/channels/{id}/join", post(channels::join))
        .route("/channels/{id}/leave", post(channels::leave))
        .route(
            "/channels/{id}/members",
            get(channels::members).post(channels::add_member),
        )
        .route(
            "/channels/{id}/members/{user_id}",
            delete(channels::remove_member),
        )
        .route("/channels/{id}/read", post(channels::mark_read))
        .route("/channels/{id}/pins", get(channels::pins))
        .route(
            "/channels/{id}/messages",
            get(messages::history).post(messages::post),
        )
        .route(
            "/messages/{id}",
            get(messages::get)
                .patch(messages::edit)
                .delete(messages::delete),
        )
        .route("/messages/{id}/versions", get(messages::versions))
        .route(
            "/messages/{id}/reactions/{emoji}",
            put(messages::add_reaction).delete(messages::remove_reaction),
        )
        .route(
            "/messages/{id}/pin",
            put(messages::add_pin).delete(messages::remove_pin),
        )
        .route("/files/{id}", get(files::download))
        .route("/files/{id}/thumbnail", get(files::thumbnail_download))
        .route("/audit", get(audit_routes::list))
        .route("/audit/export", get(audit_routes::export))
        .route("/openapi.json", get(system::openapi))
        .route("/ws", get(ws::connect))
        .layer(DefaultBodyLimit::max(json_limit))
        .merge(
            Router::new()
                .route("/files", post(files::upload))
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .merge(routes::compliance::router())
        .merge(routes::connectors::api_router())
        .merge(routes::admin::router())
        .merge(routes::identity::router())
        .merge(routes::passwords::router().layer(DefaultBodyLimit::max(json_limit)))
        .merge(routes::profiles::router())
        .merge(routes::webhooks::api_router().layer(DefaultBodyLimit::max(json_limit)))
        .fallback(|| async { error::ApiError::NotFound("route") });
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .nest("/api/v1", api)
        .merge(routes::webhooks::hooks_router())
        .nest(
            "/scim/v2",
            routes::scim::router().layer(DefaultBodyLimit::max(json_limit)),
        )
        .nest(
            "/connectors",
            routes::connectors::router().layer(DefaultBodyLimit::max(json_limit)),
        )
        .fallback(web::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(api_response_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            storage_health::watch,
        ))
        .with_state(state)
}

/// A known path asked with a method it does not accept: JSON like every
/// other error (axum adds the `Allow` header).
async fn method_not_allowed(method: axum::http::Method) -> error::ApiError {
    error::ApiError::MethodNotAllowed(method.to_string())
}

/// Responses are never sniffed into another type, and never cached unless
/// their handler says otherwise (the web client's assets, file downloads):
/// API answers carry tokens and private text.
async fn api_response_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Serves until `shutdown` completes, then closes every socket with 1001
/// ("going away") and lets in-flight requests finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_deactivations(state.clone()));
    let gate_sweeper = tokio::spawn(sweep_access_changes(state.clone()));
    let expiry = tokio::spawn(scim::directory::sweep_expired_accounts(state.clone()));
    let retention = tokio::spawn(compliance::schedule(state.clone()));
    let resumed = tokio::spawn(resume_whatsapp_sends(state.clone()));
    let closing = state.clone();
    let limits = connections::ConnectionLimits::resolve(
        &state.config.connections,
        connections::raise_open_file_limit(),
    );
    let result = connections::serve(listener, router(state.clone()), limits, async move {
        shutdown.await;
        tracing::info!("shutting down: closing sockets");
        closing.shutting_down.store(true, Ordering::Release);
        closing.hub.close_all(close_code::GOING_AWAY);
        closing.connector.stopping.cancel();
    })
    .await;
    sweeper.abort();
    gate_sweeper.abort();
    expiry.abort();
    retention.abort();
    resumed.abort();
    // A send under way gets the Graph API client's own timeout to finish.
    state.connector.shut_down(Duration::from_secs(35)).await;
    result
}

/// Sends the WhatsApp replies no process is sending: at start those an
/// earlier run left queued, and then every minute those given back by
/// another process's shutdown or whose sender died (its claim lapsed), so a
/// crashed node's replies go out without waiting for a restart.
async fn resume_whatsapp_sends(state: AppState) {
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if state.connector.stopping.is_cancelled() {
            return;
        }
        if let Err(error) = whatsapp::resume_queued(&state).await {
            tracing::error!(%error, "resuming queued WhatsApp replies failed");
        }
    }
}

/// Closes the sockets of users a new acceptable-use policy or a newly
/// required MFA restricts, with [`close_code::POLICY_ACCEPTANCE_REQUIRED`]
/// or [`close_code::MFA_ENROLMENT_REQUIRED`]: at once when the change was
/// made here (the gate's `changed` signal), within half a second when
/// another process (the command line, another node) made it.
async fn sweep_access_changes(state: AppState) {
    let gate = &state.auth.gate;
    let mut known = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = gate.changed.notified() => {}
        }
        let facts = match gate.facts_now(&state).await {
            Ok(facts) => facts,
            Err(error) => {
                tracing::warn!(%error, "checking the access policy failed");
                continue;
            }
        };
        let restricts = known
            .as_ref()
            .is_some_and(|earlier| facts.restrict_more_than(earlier));
        known = Some(facts);
        if !restricts {
            continue;
        }
        // Sockets that passed the gate before this change but register
        // after the list below is taken check again (see `ws::run`).
        gate.forget_facts();
        state.hub.bump_gate_epoch();
        let online = state.hub.online_users();
        let mut checks = futures_util::stream::iter(online)
            .map(|user_id| {
                let state = &state;
                async move {
                    let restriction = gate.requirements_under(state, user_id, facts).await;
                    (user_id, restriction)
                }
            })
            .buffer_unordered(16);
        let mut closed = 0usize;
        while let Some((user_id, requirements)) = checks.next().await {
            match requirements.map(|pending| pending.restriction()) {
                Ok(Some(restriction)) => {
                    closed += state.hub.close_user(user_id, restriction.close_code());
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(user_id, %error, "checking a user's access failed"),
            }
        }
        tracing::info!(
            closed,
            "closed the sockets an access policy change restricts"
        );
    }
}

/// Notices users deactivated by another process (the command line, another
/// node) and closes their sockets within a fraction of a second.
async fn sweep_deactivations(state: AppState) {
    let mut since = now_millis();
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    loop {
        ticker.tick().await;
        // Look back a little: another process's clock and commit may lag.
        match state.store.deactivated_since(since - 5_000).await {
            Ok(deactivated) => {
                for (user_id, at) in deactivated {
                    state.hub.close_user(user_id, close_code::REVOKED);
                    since = since.max(at);
                }
            }
            Err(error) => tracing::warn!(%error, "checking for deactivated users failed"),
        }
    }
}
