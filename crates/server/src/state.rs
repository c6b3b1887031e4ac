//! What every handler receives: the store, the writer, the hub, the blob
//! store and the configuration. Built once by [`crate::AppState::new`];
//! there are no globals.

use std::sync::Arc;

use conclave_store::{GroupCommitter, GroupCommitterConfig, Store};

use crate::blobs::BlobStore;
use crate::config::ServerConfig;
use crate::hub::{Hub, HubSink};
use crate::ratelimit::RateLimits;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub writer: GroupCommitter,
    pub hub: Arc<Hub>,
    pub blobs: Arc<dyn BlobStore>,
    pub config: Arc<ServerConfig>,
    pub limits: Arc<RateLimits>,
    /// The MFA/policy access gate and the single sign-on client.
    pub auth: Arc<crate::auth_policy::AuthServices>,
    /// The WhatsApp Cloud API connector's HTTP client.
    pub connector: Arc<crate::whatsapp::Connector>,
    /// Set once shutdown began; readiness then fails.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// Whether a write found storage full; readiness then fails.
    pub storage: Arc<crate::storage_health::StorageHealth>,
    /// Turns for making thumbnails, so decodes at once stay few.
    pub thumbnails: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Wires the pieces together and starts the group-commit writer. Must be
    /// called inside a Tokio runtime.
    pub fn new(store: Arc<dyn Store>, blobs: Arc<dyn BlobStore>, config: ServerConfig) -> AppState {
        let hub = Arc::new(Hub::new(config.websocket.queue_frames));
        let sink = Arc::new(HubSink {
            hub: Arc::clone(&hub),
            store: Arc::clone(&store),
        });
        let writer =
            GroupCommitter::start(Arc::clone(&store), GroupCommitterConfig::default(), sink);
        AppState {
            store,
            writer,
            hub,
            blobs,
            limits: Arc::new(RateLimits::new(&config.limits)),
            auth: Arc::new(crate::auth_policy::AuthServices::default()),
            connector: Arc::new(crate::whatsapp::Connector::new()),
            config: Arc::new(config),
            shutting_down: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            storage: Arc::default(),
            thumbnails: Arc::new(tokio::sync::Semaphore::new(
                crate::routes::files::THUMBNAILS_AT_ONCE,
            )),
        }
    }
}
