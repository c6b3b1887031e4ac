//! Passwords, bearer tokens, and the extractor that turns a request's token
//! into the signed-in user.

use std::net::SocketAddr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use conclave_domain::{Session, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// Hashes a password with argon2id and a random salt (PHC string format).
/// CPU- and memory-heavy: from async code use [`hash_password_off_thread`].
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes on the password workers (see [`password_workers`]).
pub async fn hash_password_off_thread(password: String) -> Result<String, ApiError> {
    run_on_password_worker(move || hash_password(&password)).await?
}

/// Verifies on the password workers (see [`password_workers`]).
pub async fn verify_password_off_thread(
    password: String,
    stored: String,
) -> Result<bool, ApiError> {
    run_on_password_worker(move || verify_password(&password, &stored)).await
}

type PasswordJob = Box<dyn FnOnce() + Send>;

/// Two threads that do all argon2 work in the process. Each argon2id run
/// needs 19 MiB; on the general blocking pool every thread's allocator
/// arena would keep such a buffer, and a burst of sign-ins grew the server
/// by gigabytes. Two dedicated threads bound that to two buffers, reused,
/// and bound the CPU spent on hashing to what two cores can do.
/// Process-wide like Tokio's own blocking pool, started on first use.
fn password_workers() -> &'static std::sync::mpsc::SyncSender<PasswordJob> {
    static WORKERS: std::sync::OnceLock<std::sync::mpsc::SyncSender<PasswordJob>> =
        std::sync::OnceLock::new();
    WORKERS.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<PasswordJob>(1024);
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        for index in 0..2 {
            let receiver = std::sync::Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("password-{index}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password worker");
            }
        }
        sender
    })
}

async fn run_on_password_worker<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: PasswordJob = Box::new(move || {
        let _ = reply.send(work());
    });
    // A full queue means a flood of sign-ins: refuse rather than queue forever.
    password_workers().try_send(job).map_err(|_| {
        ApiError::Unavailable("too many sign-ins at once; try again shortly".into())
    })?;
    answer
        .await
        .map_err(|_| ApiError::Internal("the password worker stopped".into()))
}

/// A fresh bearer token: 256 random bits, hex encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored instead of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The signed-in caller of a request.
#[derive(Debug, Clone)]
pub struct Authed {
    pub user: User,
    pub session: Session,
}

impl Authed {
    /// Resolves a bearer token to its live session and active, unexpired
    /// user, refusing a session that is restricted until MFA enrolment or policy acceptance
    /// (see [`crate::auth_policy`]).
    pub async fn from_token(state: &AppState, token: &str) -> Result<Authed, ApiError> {
        let authed = Authed::resolve(state, token).await?;
        state.auth.gate.enforce(state, &authed, None).await?;
        Ok(authed)
    }

    async fn resolve(state: &AppState, token: &str) -> Result<Authed, ApiError> {
        if token.is_empty() || token.len() > 256 {
            return Err(ApiError::Unauthenticated);
        }
        let hash = token_hash(token);
        let Some((session, user)) = state
            .store
            .session_by_token_hash(&hash, crate::now_millis())
            .await?
        else {
            return Err(crate::accounts::signed_out_reason(&*state.store, &hash).await);
        };
        if !user.active {
            return Err(ApiError::AccountDeactivated);
        }
        // An account past its expiry date (guests, contractors) is refused
        // from that moment, not only once the sweep has deactivated it.
        if let Some(expires_at) = state.store.account_expiry(user.id).await?
            && expires_at <= crate::now_millis()
        {
            return Err(ApiError::AccountDeactivated);
        }
        Ok(Authed { user, session })
    }
}

pub fn bearer_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ApiError::Unauthenticated)?;
        let authed = Authed::resolve(state, token).await?;
        state.limits.check_request(authed.user.id)?;
        state
            .auth
            .gate
            .enforce(state, &authed, Some(parts.uri.path()))
            .await?;
        Ok(authed)
    }
}

/// The peer's address, when the server was started with connect info.
pub struct ClientAddress(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip().to_string()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_differ_by_salt() {
        let first = hash_password("correct horse battery").unwrap();
        let second = hash_password("correct horse battery").unwrap();
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second);
        assert!(verify_password("correct horse battery", &first));
        assert!(!verify_password("wrong", &first));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let token = new_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, new_token());
        assert_eq!(token_hash(&token).len(), 64);
        assert_ne!(token_hash(&token), token);
    }
}
