//! The server side of a chaos run: one `deckhand-server` on its embedded SQLite file, or several
//! `serve` instances on one PostgreSQL database (a throw-away cluster this run starts itself),
//! which is what a team running Deckhand behind a load balancer has.

use std::path::{Path, PathBuf};

use deckhand_testkit::pg::Cluster;

use crate::harness::{ServerProc, user_add};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub struct Servers {
    pub backend: Backend,
    pub instances: Vec<ServerProc>,
    /// What `--db` takes: the SQLite file or the PostgreSQL URL.
    pub db: String,
    pub token: String,
    cluster: Option<Cluster>,
}

impl Servers {
    /// Starts `n` instances (SQLite: exactly one) and adds the run's user.
    pub async fn start(backend: Backend, n: usize, dir: &Path) -> Servers {
        let (cluster, db) = match backend {
            Backend::Sqlite => {
                assert_eq!(n, 1, "SQLite has one writer process: one instance");
                (None, dir.join("server.db").display().to_string())
            }
            Backend::Postgres => {
                let c = tokio::task::block_in_place(Cluster::start);
                let db = tokio::task::block_in_place(|| c.fresh_database());
                (Some(c), db)
            }
        };
        let token = user_add(&db, "chaos");
        let mut instances = Vec::with_capacity(n);
        for i in 0..n {
            instances.push(ServerProc::start(&db, 0, &log(dir, i)).await.expect("server starts"));
        }
        Servers { backend, instances, db, token, cluster }
    }

    pub fn url(&self, i: usize) -> String {
        self.instances[i % self.instances.len()].url.clone()
    }

    /// kill -9 instance `i` mid-load and start it again on the same database.
    pub async fn crash_and_restart(&mut self, i: usize) {
        self.instances[i].crash_and_restart().await.expect("server restarts");
    }

    /// Restarts PostgreSQL itself: every instance loses its connections (and its listener) at
    /// once and must heal on its own.
    pub fn restart_database(&mut self) -> bool {
        match self.cluster.as_mut() {
            Some(c) => {
                tokio::task::block_in_place(|| c.restart());
                true
            }
            None => false,
        }
    }

    /// Stops every instance hard (before the orphan check reads the database directly).
    pub async fn kill_all(&mut self) {
        for s in &mut self.instances {
            s.kill9().await;
        }
    }

    /// Idempotency records without their effect (after `kill_all`).
    pub fn orphan_idempotency_records(&self) -> u64 {
        match self.backend {
            Backend::Sqlite => {
                let st = deckhand_server::storage::sqlite::SqliteStorage::open(Path::new(&self.db), 1).expect("open server db");
                st.orphan_idempotency_records().expect("orphan query")
            }
            Backend::Postgres => tokio::task::block_in_place(|| {
                let st = deckhand_server::storage::postgres::PgStorage::connect(&self.db, 1).expect("connect to the server db");
                st.orphan_idempotency_records().expect("orphan query")
            }),
        }
    }
}

fn log(dir: &Path, i: usize) -> PathBuf {
    if i == 0 { dir.join("server.log") } else { dir.join(format!("server{i}.log")) }
}
