//! Issue 9, scenario 8: the server's database is restored from an older backup (or reset, or
//! replaced by a fresh one). Clients notice (a new epoch, or a cursor beyond the server's last
//! seq), resync from 0, keep their pending ops and offer again what the server lost; nothing a
//! client held is lost and nobody stalls. Real server, real SQLite files, a real backup
//! (`VACUUM INTO`), restarts on the same port.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deckhand_core::model::*;
use deckhand_core::{Engine, ServerSettings};
use deckhand_protocol::CardChanges;
use deckhand_server::ServerConfig;
use deckhand_server::testing::TestServer;
use support::*;
use uuid::Uuid;

const IDLE: Duration = Duration::from_secs(20);

fn input(title: &str) -> NewCardInput {
    NewCardInput { title: title.into(), ..Default::default() }
}

fn title(t: &str) -> CardChanges {
    CardChanges { title: Some(t.into()), ..Default::default() }
}

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

async fn start_at(db: &Path, addr: Option<SocketAddr>) -> TestServer {
    let mut cfg = ServerConfig::new(db);
    cfg.heartbeat = Duration::from_secs(1);
    let listener = tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap())).await.unwrap();
    TestServer::start_on(listener, cfg).await
}

/// A consistent copy of a live server database (what an operator's backup job makes).
fn backup(db: &Path, to: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute("VACUUM INTO ?1", [to.to_str().unwrap()]).unwrap();
}

/// Put `backup` in place of the (stopped) server's database.
fn restore(db: &Path, backup: &Path) {
    remove_db(db);
    std::fs::copy(backup, db).unwrap();
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        let _ = std::fs::remove_file(p);
    }
}

async fn titles_of(e: &Engine) -> Vec<(Uuid, String)> {
    let mut v: Vec<_> = e.list(ListQuery { limit: Some(1000), ..Default::default() }).await.unwrap().items.into_iter().map(|c| (c.id, c.title)).collect();
    v.sort();
    v
}

async fn server_sorted(s: &ServerSettings) -> Vec<(Uuid, String)> {
    let mut v = server_titles(s).await;
    v.sort();
    v
}

async fn resynced(e: &Engine) -> ResyncReport {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(r) = e.status().await.unwrap().last_resync {
            return r;
        }
        if tokio::time::Instant::now() >= deadline {
            let h = e.history(60).await.unwrap();
            panic!("no resync; status {:?}\nhistory {:#?}", e.status().await.unwrap(), h);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct World {
    _dir: tempfile::TempDir,
    db: PathBuf,
    backup: PathBuf,
    server: Option<TestServer>,
    addr: SocketAddr,
    settings: ServerSettings,
    dirs: Vec<tempfile::TempDir>,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let (db, backup) = (dir.path().join("server.db"), dir.path().join("backup.db"));
        let server = start_at(&db, None).await;
        let token = server.add_user("alice");
        let settings = ServerSettings { url: server.url(), token };
        World { addr: server.addr(), server: Some(server), db, backup, settings, dirs: Vec::new(), _dir: dir }
    }

    async fn engine(&mut self) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(test_config(dir.path(), Some(self.settings.clone()))).await.unwrap();
        self.dirs.push(dir);
        e
    }

    async fn stop(&mut self) {
        self.server.take().unwrap().stop().await;
    }

    async fn start(&mut self) {
        self.server = Some(start_at(&self.db, Some(self.addr)).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restored_from_a_backup_gets_back_everything_the_client_held() {
    let mut w = World::new().await;
    let a = w.engine().await;
    let one = a.create(input("one")).await.unwrap();
    let two = a.create(input("two")).await.unwrap();
    settle(&a).await;
    backup(&w.db, &w.backup);
    // Written after the backup: the restore loses these on the server.
    let three = a.create(input("three, after the backup")).await.unwrap();
    a.update(one.id, title("one, edited after the backup")).await.unwrap();
    settle(&a).await;
    // Pulled once more with nothing queued, so the cursor has passed the seqs of these writes
    // (the catch-up of the first settle may have run before they were sent). Without `reset-epoch`
    // only a cursor beyond the restored server's last seq shows the restore (docs/protocol.md).
    settle(&a).await;

    w.stop().await;
    restore(&w.db, &w.backup);
    // An edit queued while the server is down stays queued through the resync.
    a.update(two.id, title("two, edited offline")).await.unwrap();
    w.start().await;

    let report = resynced(&a).await;
    assert_eq!(report.reason, "cursor_ahead", "same epoch (a plain file restore), cursor beyond the server's last seq");
    assert!(report.reoffered >= 2, "three (re-created) and one (its lost edit): {report:?}");
    settle(&a).await;
    let expected = {
        let mut v = vec![
            (one.id, "one, edited after the backup".to_string()),
            (two.id, "two, edited offline".to_string()),
            (three.id, "three, after the backup".to_string()),
        ];
        v.sort();
        v
    };
    assert_eq!(server_sorted(&w.settings).await, expected, "nothing the client held is lost");
    assert_eq!(titles_of(&a).await, expected);
    assert!(a.history(500).await.unwrap().iter().any(|h| h.kind == "resync.epoch"));

    // No stall: a new client converges, and a change made elsewhere reaches the first one.
    let b = w.engine().await;
    settle(&b).await;
    assert_eq!(titles_of(&b).await, expected);
    let four = b.create(input("four, after the restore")).await.unwrap();
    settle(&b).await;
    eventually("a sees b's new card", || async { a.get(four.id).await.unwrap().map(|_| ()) }).await;
    a.shutdown().await;
    b.shutdown().await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_epoch_after_a_restore_is_noticed_even_when_the_server_wrote_past_the_cursor() {
    let mut w = World::new().await;
    let a = w.engine().await;
    let b = w.engine().await;
    let one = a.create(input("one")).await.unwrap();
    settle(&a).await;
    settle(&b).await;
    backup(&w.db, &w.backup);
    let two = a.create(input("two, after the backup")).await.unwrap();
    a.update(one.id, title("one, edited after the backup")).await.unwrap();
    settle(&a).await;
    settle(&b).await;

    w.stop().await;
    restore(&w.db, &w.backup);
    // The operator runs `reset-epoch` after the restore, and the restored server takes more
    // writes than the clients' cursors before they reconnect: only the epoch tells them.
    {
        let storage = deckhand_server::open_storage(&ServerConfig::new(&w.db)).unwrap();
        storage.reset_epoch().unwrap();
        let user = storage.user_for_token(&deckhand_server::auth::hash_token(&w.settings.token)).unwrap().unwrap();
        for i in 0..5 {
            let card = deckhand_protocol::NewCard {
                id: Uuid::now_v7(),
                title: format!("elsewhere {i}"),
                body: String::new(),
                url: None,
                tags: vec![],
                lane: "inbox".into(),
                position: i as f64,
                pinned: false,
                link_meta: None,
            };
            let idem = deckhand_server::storage::IdemKey { key: format!("k{i}"), fingerprint: [i as u8; 32], token: None };
            storage.write(user, &idem, &deckhand_server::domain::WriteOp::Create(card), chrono::Utc::now()).unwrap();
        }
        assert!(storage.last_seq(user).unwrap() >= 6, "the restored server is past the clients' cursors");
    }
    w.start().await;

    for e in [&a, &b] {
        assert_eq!(resynced(e).await.reason, "new_epoch");
    }
    settle(&a).await;
    settle(&b).await;
    settle(&a).await;
    let server = server_sorted(&w.settings).await;
    assert_eq!(server.len(), 7, "one, two and the five written elsewhere: {server:?}");
    assert!(server.contains(&(one.id, "one, edited after the backup".to_string())));
    assert!(server.contains(&(two.id, "two, after the backup".to_string())));
    assert_eq!(titles_of(&a).await, server);
    assert_eq!(titles_of(&b).await, server);
    a.shutdown().await;
    b.shutdown().await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_database_is_filled_again_from_the_client() {
    let mut w = World::new().await;
    let a = w.engine().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(a.create(input(&format!("card {i}"))).await.unwrap().id);
    }
    settle(&a).await;
    let deleted = ids.pop().unwrap();
    a.delete(deleted).await.unwrap();
    settle(&a).await;

    w.stop().await;
    remove_db(&w.db);
    {
        // The same user and token on an empty database (another epoch).
        let storage = deckhand_server::open_storage(&ServerConfig::new(&w.db)).unwrap();
        storage.add_user("alice", deckhand_server::auth::hash_token(&w.settings.token)).unwrap();
    }
    w.start().await;

    let report = resynced(&a).await;
    assert_eq!((report.reason.as_str(), report.reoffered), ("new_epoch", 4));
    settle(&a).await;
    let server = server_sorted(&w.settings).await;
    let mut expected: Vec<(Uuid, String)> = ids.iter().enumerate().map(|(i, id)| (*id, format!("card {i}"))).collect();
    expected.sort();
    assert_eq!(server, expected, "the live cards are back under their ids; the deleted one stays gone");
    assert_eq!(titles_of(&a).await, expected);
    a.shutdown().await;
    w.stop().await;
}
