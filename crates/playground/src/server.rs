//! The server: its sessions, the sweep that frees those no page watches any more, and how to
//! start it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::api::{router, ApiError, Config};
use crate::session::{prepare, SessionHandle};

/// How long sessions live without a page.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    /// How long a session outlives its last event stream (a closed tab, a reload): 10 s.
    pub grace: Duration,
    /// How long a session that no page ever watched lives after its last request: 10 minutes.
    pub idle: Duration,
    /// The most sessions at once (each is a thread and a model): 32.
    pub max_sessions: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            grace: Duration::from_secs(10),
            idle: Duration::from_secs(600),
            max_sessions: 32,
        }
    }
}

/// What every request handler shares: the sessions by id.
#[derive(Clone)]
pub struct AppState {
    sessions: Arc<Mutex<HashMap<String, Arc<SessionHandle>>>>,
    options: Arc<ServerOptions>,
    next: Arc<AtomicU64>,
}

impl AppState {
    fn new(options: ServerOptions) -> Self {
        AppState {
            sessions: Arc::default(),
            options: Arc::new(options),
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SessionHandle>>> {
        // A handler that panicked while holding the lock left the map itself intact.
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a session; its id and first snapshot.
    pub async fn create(&self, config: Config) -> Result<(String, Arc<String>), ApiError> {
        let data = prepare(&config)?;
        if self.lock().len() >= self.options.max_sessions {
            return Err(ApiError {
                status: 429,
                message: format!(
                    "session: {} sessions are open, the most this server runs; close a tab",
                    self.options.max_sessions
                ),
            });
        }
        let (handle, first) = SessionHandle::spawn(config, data).await?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let id = format!("s{}-{nanos:08x}", self.next.fetch_add(1, Ordering::Relaxed));
        self.lock().insert(id.clone(), handle);
        Ok((id, first))
    }

    /// The session `id`.
    pub fn get(&self, id: &str) -> Result<Arc<SessionHandle>, ApiError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::unknown_session(id))
    }

    /// Frees session `id` (its thread ends once the last handle is gone).
    pub fn remove(&self, id: &str) -> Result<(), ApiError> {
        self.lock()
            .remove(id)
            .map(drop)
            .ok_or_else(|| ApiError::unknown_session(id))
    }

    /// The number of open sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees every session no page watches: its last stream closed more than `grace` ago, or
    /// never opened and no request for `idle`.
    fn sweep(&self) {
        let now = Instant::now();
        self.lock().retain(|_, s| {
            if s.streams.load(Ordering::SeqCst) > 0 {
                return true;
            }
            let last = s.last_seen.lock().map_or(now, |t| *t);
            let limit = if s.watched.load(Ordering::SeqCst) {
                self.options.grace
            } else {
                self.options.idle
            };
            now.duration_since(last) < limit
        });
    }
}

/// Held by an event stream: counts it as open, and when the page goes away (the stream is
/// dropped) starts the session's grace period.
pub struct StreamGuard(Arc<SessionHandle>);

impl StreamGuard {
    /// Counts a new stream of `session`.
    pub fn new(session: Arc<SessionHandle>) -> Self {
        session.streams.fetch_add(1, Ordering::SeqCst);
        session.watched.store(true, Ordering::SeqCst);
        StreamGuard(session)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.streams.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A server running on its own threads; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free one) and serves the playground on a runtime of two
    /// worker threads; sessions train on threads of their own.
    pub fn start(addr: SocketAddr, options: ServerOptions) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_io()
            .enable_time()
            .build()?;
        let state = AppState::new(options);
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        let sweeper = state.clone();
        let thread = std::thread::Builder::new()
            .name("playground-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(Duration::from_millis(250));
                        loop {
                            tick.tick().await;
                            sweeper.sweep();
                        }
                    });
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime ends the open streams; the sessions' threads end
                // with their handles.
            })?;
        Ok(Server {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The number of open sessions.
    pub fn sessions(&self) -> usize {
        self.state.len()
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.state.lock().clear();
    }
}
