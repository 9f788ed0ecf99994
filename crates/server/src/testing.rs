//! A real server on `127.0.0.1:0` for other crates' tests (and benchmarks): same code path as
//! `deckhand-server serve`, a temp database, graceful stop.

use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::{hash_token, new_token};
use crate::config::ServerConfig;
use crate::state::AppState;
use crate::storage::Storage;

pub struct TestServer {
    addr: std::net::SocketAddr,
    storage: Arc<dyn Storage>,
    state: AppState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts on a free loopback port with heartbeats every second (tests want to see them).
    pub async fn start(db_path: &Path) -> TestServer {
        let mut config = ServerConfig::new(db_path);
        config.heartbeat = std::time::Duration::from_secs(1);
        TestServer::start_with(config).await
    }

    /// Starts with `config`; `config.listen` is ignored in favour of `127.0.0.1:0`.
    pub async fn start_with(config: ServerConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        TestServer::start_on(listener, config).await
    }

    /// Starts on an already bound listener (e.g. to restart on the same port).
    pub async fn start_on(listener: TcpListener, config: ServerConfig) -> TestServer {
        let addr = listener.local_addr().expect("local addr");
        let storage = crate::open_storage(&config).expect("open server database");
        let (shutdown, rx) = watch::channel(false);
        let state = AppState::new(config, storage.clone(), rx);
        let task = tokio::spawn(crate::serve_state(listener, state.clone()));
        TestServer { addr, storage, state, shutdown, task }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates a user and returns its bearer token.
    pub fn add_user(&self, name: &str) -> String {
        let token = new_token();
        self.storage.add_user(name, hash_token(&token)).expect("add user");
        token
    }

    /// Revokes every token of `name` through the server: requests with them answer 401 from now
    /// on and their open SSE streams end at once.
    pub fn revoke(&self, name: &str) -> usize {
        self.state.revoke_tokens(name).expect("revoke")
    }

    /// The running server's shared state (config, storage, hub, metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Graceful stop: SSE streams end, in-flight requests finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
