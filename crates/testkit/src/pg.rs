//! A throw-away PostgreSQL cluster for tests: Debian's `postgresql` binaries run as the
//! `postgres` OS user (initdb refuses root), in a temp dir, on 127.0.0.1 and a free port, fsync
//! off; one per test binary (`shared()`, started on first use, stopped by pid at exit) or one of a
//! test's own (`Cluster::start()`, stopped on drop), a fresh database per server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// This test binary's cluster.
pub fn shared() -> Arc<Cluster> {
    static SHARED: OnceLock<Arc<Cluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let c = Arc::new(Cluster::start());
            // Statics are never dropped: stop the postmaster when the test binary exits.
            let pid = c.pid;
            let dir = c.root.clone();
            *AT_EXIT.lock().unwrap() = Some((pid, dir));
            unsafe extern "C" {
                fn atexit(f: extern "C" fn()) -> i32;
            }
            // SAFETY: registers a plain function with the C runtime; it only reads a Mutex.
            unsafe { atexit(stop_at_exit) };
            c
        })
        .clone()
}

static AT_EXIT: std::sync::Mutex<Option<(u32, PathBuf)>> = std::sync::Mutex::new(None);

extern "C" fn stop_at_exit() {
    if let Some((pid, dir)) = AT_EXIT.lock().ok().and_then(|mut g| g.take()) {
        stop_postmaster(pid);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A running PostgreSQL cluster; stopped (by pid) and deleted on drop.
pub struct Cluster {
    root: PathBuf,
    pub port: u16,
    pub pid: u32,
}

/// initdb refuses root: as root, run the cluster as the `postgres` OS user; otherwise as ourselves.
fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false))
}

fn as_postgres(program: &str) -> Command {
    if !is_root() {
        return Command::new(format!("{BIN}/{program}"));
    }
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", &format!("{BIN}/{program}")]);
    c
}

fn run(mut c: Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stop_postmaster(pid: u32) {
    // SIGINT = "fast" shutdown: disconnect clients, stop at once.
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Clusters left by test processes that were killed before their exit hook ran (SIGKILL, a
/// closed pipe): their owner is gone, so stop their postmaster by pid and delete them.
fn reap_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let root = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("deckhand-pg-") {
            continue;
        }
        let Some(owner) = std::fs::read_to_string(root.join("owner")).ok().and_then(|s| s.trim().parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        if let Some(pid) = std::fs::read_to_string(root.join("data/postmaster.pid")).ok().and_then(|s| s.lines().next()?.trim().parse().ok()) {
            stop_postmaster(pid);
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

impl Cluster {
    pub fn start() -> Cluster {
        reap_orphans();
        let root = tempfile::Builder::new().prefix("deckhand-pg-").tempdir().expect("tempdir").keep();
        std::fs::write(root.join("owner"), std::process::id().to_string()).expect("write owner");
        if is_root() {
            let mut c = Command::new("chown");
            c.args(["postgres:postgres"]).arg(&root);
            run(c, "chown the cluster dir");
        }
        let data = root.join("data");
        let mut init = as_postgres("initdb");
        init.arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        run(init, "initdb");
        // A port taken between our probe and the postmaster's bind fails the start; try again.
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                root.display()
            );
            let mut start = as_postgres("pg_ctl");
            start.arg("-w").arg("-D").arg(&data).arg("-l").arg(root.join("log")).args(["-o", &opts, "start"]);
            if start.output().map(|o| o.status.success()).unwrap_or(false) {
                let pid = std::fs::read_to_string(data.join("postmaster.pid")).expect("postmaster.pid");
                let pid = pid.lines().next().unwrap().trim().parse().expect("pid");
                return Cluster { root, port, pid };
            }
        }
        panic!("PostgreSQL did not start; log: {}", std::fs::read_to_string(root.join("log")).unwrap_or_default());
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL through psql (sync: usable from any test, inside a runtime or not).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut c = Command::new(format!("{BIN}/psql"));
        c.args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql]);
        run(c, &format!("psql {sql}")).trim().to_string()
    }

    /// A new empty database; returns its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Drops the database of `url` (its connections are ended first).
    pub fn drop_database(&self, url: &str) {
        self.psql("postgres", &format!("DROP DATABASE {} WITH (FORCE)", database_of(url)));
    }

    /// Restarts the cluster in place (same port and data): every connection breaks.
    pub fn restart(&mut self) {
        stop_postmaster(self.pid);
        let data = self.root.join("data");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c synchronous_commit=off -c max_connections=300",
            self.port,
            self.root.display()
        );
        let mut start = as_postgres("pg_ctl");
        start.arg("-w").arg("-D").arg(&data).arg("-l").arg(self.root.join("log")).args(["-o", &opts, "start"]);
        run(start, "pg_ctl restart");
        let pid = std::fs::read_to_string(data.join("postmaster.pid")).expect("postmaster.pid");
        self.pid = pid.lines().next().unwrap().trim().parse().expect("pid");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop_postmaster(self.pid);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The database name of a `postgres://` URL.
pub fn database_of(url: &str) -> String {
    url.rsplit('/').next().unwrap_or_default().to_string()
}
