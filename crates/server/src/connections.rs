//! The accept loop: every TCP connection the server takes, with the limits
//! that keep a flood of them from taking the server down.
//!
//! - A request's head must arrive within `connections.header_timeout_ms`,
//!   which also bounds how long an idle keep-alive connection waits for its
//!   next request (hyper's HTTP/1 header-read timeout).
//! - At most `connections.max_open` connections are open at once, HTTP and
//!   upgraded WebSockets together, kept below the open-file limit so that
//!   the database, files and logs always have descriptors left. At the
//!   limit a connection that is doing nothing is closed to make room for
//!   the new one: the oldest that has not yet sent a request (what a
//!   slowloris holds), else the oldest idle keep-alive connection. So
//!   half-open and idle connections cannot lock out health checks and
//!   sign-ins. When every open connection is doing work (a request under
//!   way, a WebSocket), the new one is closed instead.
//!
//! It must not know routes or users: per-user and per-address WebSocket
//! caps live with the WebSocket ([`crate::ws`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ConnectionConfig;

/// Descriptors kept free of connections: for the database, files, logs.
const RESERVED_DESCRIPTORS: u64 = 256;
/// The fewest connections the automatic limit allows.
const MIN_MAX_OPEN: usize = 64;
/// The limit when the open-file limit cannot be read.
const FALLBACK_MAX_OPEN: usize = 768;
/// The pause after an accept fails for want of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// The limits the accept loop applies, resolved from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_open: usize,
    pub header_timeout: Duration,
}

impl ConnectionLimits {
    /// Resolves `config` against the process's open-file limit (`None`
    /// when unknown): `max_open` 0 means as many as that limit allows, and
    /// a configured value is never allowed above it.
    pub fn resolve(config: &ConnectionConfig, open_file_limit: Option<u64>) -> ConnectionLimits {
        let allowed = open_file_limit.map(|limit| {
            usize::try_from(
                limit
                    .saturating_sub(RESERVED_DESCRIPTORS)
                    .max(MIN_MAX_OPEN as u64),
            )
            .unwrap_or(usize::MAX)
        });
        let max_open = match (config.max_open, allowed) {
            (0, Some(allowed)) => allowed,
            (0, None) => FALLBACK_MAX_OPEN,
            (configured, Some(allowed)) => configured.min(allowed),
            (configured, None) => configured,
        };
        ConnectionLimits {
            max_open,
            header_timeout: Duration::from_millis(config.header_timeout_ms.max(1)),
        }
    }
}

/// Raises the soft open-file limit to the hard limit, and answers the soft
/// limit in force afterwards (`None` where it cannot be read).
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limits = getrlimit(Resource::Nofile);
    let raised = rustix::process::Rlimit {
        current: limits.maximum,
        maximum: limits.maximum,
    };
    if limits.current != limits.maximum {
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limits.maximum.or(Some(u64::MAX)),
            Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
        }
    }
    limits.current.or(Some(u64::MAX))
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting, lets each connection finish its request (hyper's graceful
/// shutdown) and waits for them.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let registry = Arc::new(Registry::default());
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::info!(
        max_open = limits.max_open,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        "accepting connections"
    );
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                if !is_connection_error(&error) {
                    // Most likely out of descriptors: free one if a
                    // half-open connection holds it, and pause briefly.
                    tracing::warn!(%error, "accepting a connection failed");
                    registry.shed_one();
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        if registry.open() >= limits.max_open && !registry.shed_one() {
            tracing::debug!(%peer, "connection limit reached; closing the new connection");
            drop(stream);
            continue;
        }
        if let Err(error) = stream.set_nodelay(true) {
            // Small frames (acks, events) must not wait for the peer's delayed ACK.
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let (stream, tracked) = registry.admit(stream);
        connections.spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            limits,
            tracked,
            Arc::clone(&registry),
            stopping.clone(),
        ));
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection(
    stream: CountedStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    tracked: Arc<Tracked>,
    registry: Arc<Registry>,
    stopping: CancellationToken,
) {
    let router = TowerToHyperService::new(app);
    let busy = Arc::clone(&tracked);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let request_guard = RequestGuard::start(&registry, &busy);
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = router.call(request);
        async move {
            let response = response.await?;
            if response.status() == hyper::StatusCode::SWITCHING_PROTOCOLS {
                // The socket now belongs to the WebSocket: never idle here.
                request_guard
                    .tracked
                    .upgraded
                    .store(true, Ordering::Release);
            }
            // The request counts as under way until its body is sent.
            Ok::<_, std::convert::Infallible>(response.map(|body| CountedBody {
                body,
                _request: request_guard,
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = tracked.shed.notified() => {
                // A request may have arrived just as it was picked; requests
                // are served on this task, so the count is exact here.
                if tracked.in_flight.load(Ordering::Acquire) == 0 {
                    tracing::debug!(%peer, "shedding a connection that is doing nothing");
                    return;
                }
            }
            () = stopping.cancelled(), if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The open connections: how many, and which are doing nothing.
#[derive(Default)]
struct Registry {
    open: AtomicUsize,
    next_id: AtomicUsize,
    sheddable: Mutex<Sheddable>,
}

/// Connections that may be closed to make room, oldest first in each map.
#[derive(Default)]
struct Sheddable {
    /// Never sent a request.
    fresh: BTreeMap<usize, Arc<Tracked>>,
    /// Served a request and wait, kept alive, for the next.
    idle: BTreeMap<usize, Arc<Tracked>>,
}

/// One connection as the registry sees it.
struct Tracked {
    id: usize,
    /// Requests whose response is not yet fully sent.
    in_flight: AtomicUsize,
    /// Handed to a WebSocket; no longer this loop's to shed.
    upgraded: AtomicBool,
    /// Its socket is gone: a response body dropped later must not list it
    /// as idle again.
    closed: AtomicBool,
    /// Tells the connection's task to drop it.
    shed: Notify,
}

impl Registry {
    fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts `stream` as open until it is dropped (after an upgrade, by
    /// the WebSocket that took it over), and lists it as fresh.
    fn admit(self: &Arc<Self>, stream: TcpStream) -> (CountedStream, Arc<Tracked>) {
        self.open.fetch_add(1, Ordering::AcqRel);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tracked = Arc::new(Tracked {
            id,
            in_flight: AtomicUsize::new(0),
            upgraded: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            shed: Notify::new(),
        });
        self.lock().fresh.insert(id, Arc::clone(&tracked));
        let stream = CountedStream {
            stream,
            tracked: Arc::clone(&tracked),
            registry: Arc::clone(self),
        };
        (stream, tracked)
    }

    fn forget(&self, id: usize) {
        let mut sheddable = self.lock();
        sheddable.fresh.remove(&id);
        sheddable.idle.remove(&id);
    }

    /// Tells the oldest connection that has sent no request, else the
    /// oldest idle one, to close. Answers false when there is none.
    fn shed_one(&self) -> bool {
        let picked = {
            let mut sheddable = self.lock();
            sheddable
                .fresh
                .pop_first()
                .or_else(|| sheddable.idle.pop_first())
        };
        match picked {
            Some((_, tracked)) => {
                tracked.shed.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sheddable> {
        self.sheddable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One request under way, from its head until its response's body is
/// sent or dropped; the connection is idle again when the last one ends.
struct RequestGuard {
    registry: Arc<Registry>,
    tracked: Arc<Tracked>,
}

impl RequestGuard {
    fn start(registry: &Arc<Registry>, tracked: &Arc<Tracked>) -> RequestGuard {
        tracked.in_flight.fetch_add(1, Ordering::AcqRel);
        registry.forget(tracked.id);
        RequestGuard {
            registry: Arc::clone(registry),
            tracked: Arc::clone(tracked),
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let last = self.tracked.in_flight.fetch_sub(1, Ordering::AcqRel) == 1;
        if last && !self.tracked.upgraded.load(Ordering::Acquire) {
            let mut sheddable = self.registry.lock();
            // Read under the lock that `CountedStream::drop` sets it under.
            if !self.tracked.closed.load(Ordering::Acquire) {
                sheddable
                    .idle
                    .insert(self.tracked.id, Arc::clone(&self.tracked));
            }
        }
    }
}

/// A response body that keeps its request counted as under way.
struct CountedBody {
    body: axum::body::Body,
    _request: RequestGuard,
}

impl hyper::body::Body for CountedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket, counted as open until dropped.
struct CountedStream {
    stream: TcpStream,
    tracked: Arc<Tracked>,
    registry: Arc<Registry>,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        {
            let mut sheddable = self.registry.lock();
            self.tracked.closed.store(true, Ordering::Release);
            sheddable.fresh.remove(&self.tracked.id);
            sheddable.idle.remove(&self.tracked.id);
        }
        self.registry.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_open: usize) -> ConnectionConfig {
        ConnectionConfig {
            max_open,
            header_timeout_ms: 5_000,
        }
    }

    #[test]
    fn the_limit_stays_below_the_open_file_limit() {
        let table = [
            // (configured, open-file limit, resolved)
            (0, Some(1024), 768),
            (0, Some(100), MIN_MAX_OPEN),
            (0, None, FALLBACK_MAX_OPEN),
            (500, Some(1024), 500),
            (5_000, Some(1024), 768),
            (5_000, None, 5_000),
        ];
        for (configured, open_file_limit, resolved) in table {
            assert_eq!(
                ConnectionLimits::resolve(&config(configured), open_file_limit).max_open,
                resolved,
                "{configured} under {open_file_limit:?}"
            );
        }
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let soft = raise_open_file_limit();
        #[cfg(unix)]
        {
            let limits = rustix::process::getrlimit(rustix::process::Resource::Nofile);
            assert_eq!(limits.current, limits.maximum);
            assert!(soft.is_some());
        }
        #[cfg(not(unix))]
        assert_eq!(soft, None);
    }
}
