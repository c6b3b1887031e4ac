//! The server's part of Conclave's one typed configuration. The binary fills
//! it from defaults, `conclave.toml` and `CONCLAVE_*` variables.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Where the database (SQLite), blobs and keys live.
    pub data_dir: PathBuf,
    /// PostgreSQL URL; absent means SQLite inside the data directory.
    pub database_url: Option<String>,
    /// The address people reach Conclave at, for links it prints.
    pub public_url: Option<String>,
    pub limits: Limits,
    pub sessions: SessionConfig,
    pub websocket: WebSocketConfig,
    /// Open connections: how many, and how long a request's head may take.
    pub connections: ConnectionConfig,
    /// Sign-in policy: lockout, MFA required.
    pub auth: crate::auth_policy::AuthPolicyConfig,
    /// OpenID Connect single sign-on.
    pub sso: crate::oidc::SsoConfig,
    /// Retention schedule and export settings.
    pub compliance: crate::compliance::ComplianceConfig,
    /// The WhatsApp Cloud API connector (secrets redacted in Debug).
    pub whatsapp: crate::whatsapp::WhatsAppConfig,
    /// Encryption at rest: where the master key comes from.
    pub encryption: EncryptionConfig,
    /// What new members find on their first sign-in.
    pub onboarding: crate::accounts::OnboardingConfig,
}

/// Where the master key that wraps every data key comes from. Neither set:
/// `master.key` in the data directory, generated on first start.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionConfig {
    /// A file holding the base64 master key, created (mode 0600) when
    /// missing; `conclave keys rotate` rewrites it.
    pub master_key_file: Option<PathBuf>,
    /// The base64 master key itself, best given as
    /// `CONCLAVE_ENCRYPTION__MASTER_KEY`; wins over `master_key_file`.
    pub master_key: Option<String>,
}

impl std::fmt::Debug for EncryptionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionConfig")
            .field("master_key_file", &self.master_key_file)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "(redacted)"),
            )
            .finish()
    }
}

impl ServerConfig {
    /// The keystore's file and the master key's source.
    pub fn keyring_location(&self) -> (PathBuf, conclave_store::keys::MasterKeySource) {
        use conclave_store::keys::MasterKeySource;
        let source = match (
            &self.encryption.master_key,
            &self.encryption.master_key_file,
        ) {
            (Some(value), _) => MasterKeySource::Value(value.clone()),
            (None, Some(path)) => MasterKeySource::File(path.clone()),
            (None, None) => MasterKeySource::File(self.data_dir.join("master.key")),
        };
        (self.data_dir.join("keys.db"), source)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest JSON request body, bytes.
    pub max_json_bytes: usize,
    /// Largest upload, bytes (default 100 MiB).
    pub max_upload_bytes: u64,
    /// Sustained messages per second one user may post, and the burst above it.
    pub messages_per_second: f64,
    pub messages_burst: f64,
    /// Sign-in attempts per minute for one address and email.
    pub logins_per_minute: f64,
    /// Failed sign-ins per minute from one address, whatever the emails
    /// (a budget against password spraying); successful sign-ins do not
    /// count.
    pub failed_logins_per_address_per_minute: f64,
    /// Other API requests per second per user, and the burst.
    pub requests_per_second: f64,
    pub requests_burst: f64,
    /// Sustained posts per second through one incoming webhook, and the
    /// burst above it.
    pub webhook_posts_per_second: f64,
    pub webhook_burst: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// How long a sign-in lasts, hours.
    pub lifetime_hours: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocketConfig {
    /// Frames queued for one connection before it counts as too slow.
    pub queue_frames: usize,
    /// How often the server pings, seconds; a peer silent for three
    /// intervals is dropped.
    pub heartbeat_secs: u64,
    /// Sockets one user may hold open at once (all their sessions
    /// together); an upgrade over it answers 429 `too_many_sockets`.
    /// 0 means no cap.
    pub max_per_user: usize,
    /// Sockets one client address may hold open at once, whoever signed
    /// in; sized for an office behind one NAT. 0 means no cap.
    pub max_per_address: usize,
}

/// `[connections]`: limits on TCP connections that keep a flood of
/// half-open or idle connections from exhausting file descriptors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Most connections open at once (HTTP and WebSocket). 0 means
    /// automatic: the open-file limit (raised to its hard limit at start)
    /// less a reserve for the database, files and logs. A configured value
    /// above that is lowered to it. At the limit, the oldest connection that
    /// has not yet sent a request (else the oldest idle keep-alive one) is
    /// closed to make room; when every connection is busy, the new one is
    /// closed.
    pub max_open: usize,
    /// How long a client has to send a request's head, milliseconds; it
    /// also bounds how long an idle keep-alive connection waits for its
    /// next request. A connection that takes longer is closed.
    pub header_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./conclave-data"),
            database_url: None,
            public_url: None,
            limits: Limits::default(),
            sessions: SessionConfig::default(),
            websocket: WebSocketConfig::default(),
            connections: ConnectionConfig::default(),
            auth: Default::default(),
            sso: Default::default(),
            compliance: Default::default(),
            whatsapp: Default::default(),
            encryption: Default::default(),
            onboarding: Default::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json_bytes: 256 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            messages_per_second: 10.0,
            messages_burst: 50.0,
            logins_per_minute: 10.0,
            failed_logins_per_address_per_minute: 30.0,
            requests_per_second: 50.0,
            requests_burst: 200.0,
            webhook_posts_per_second: 1.0,
            webhook_burst: 10.0,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            lifetime_hours: 24 * 30,
        }
    }
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            queue_frames: 4096,
            heartbeat_secs: 25,
            max_per_user: 32,
            max_per_address: 1024,
        }
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_open: 0,
            header_timeout_ms: 10_000,
        }
    }
}

/// The database URL can carry a password: never print it.
impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("public_url", &self.public_url)
            .field("limits", &self.limits)
            .field("sessions", &self.sessions)
            .field("websocket", &self.websocket)
            .field("onboarding", &self.onboarding)
            .field("connections", &self.connections)
            .field("auth", &self.auth)
            .field("sso", &self.sso)
            .field("compliance", &self.compliance)
            .field("whatsapp", &self.whatsapp)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_database_url() {
        let config = ServerConfig {
            database_url: Some("postgres://user:hunter2@db/conclave".into()),
            ..ServerConfig::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }
}
