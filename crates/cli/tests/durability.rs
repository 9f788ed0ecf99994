//! The CLI face of local durability (docs/reliability.md, "Local durability"): read-only and full
//! databases give one line on stderr and a non-zero exit, never a panic or a half-written card;
//! a corrupt database is moved aside, rebuilt from a real server, and `recovery list|requeue|
//! discard` offer the salvaged ops.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use deckhand_server::testing::TestServer;
use support::{cli, ok};

/// A clean failure: non-zero exit, exactly one line on stderr containing `want`, no panic.
fn one_line_error(o: &Output, want: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "should fail");
    assert_eq!(o.status.code(), Some(1), "an exit code, not a signal or a panic (101)");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("deckhand-cli: ") && err.contains(want), "{err:?}");
    assert!(!err.contains("panicked"), "{err}");
}

fn count_cards(dir: &Path) -> usize {
    let v: serde_json::Value = serde_json::from_str(&ok(&cli(dir, &["--json", "cards", "list"], &[]))).unwrap();
    v.as_array().unwrap().len()
}

#[test]
fn read_only_database_reads_and_refuses_writes_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    ok(&cli(dir.path(), &["cards", "add", "--title", "a"], &[]));
    let o = cli(dir.path(), &["--read-only", "cards", "add", "--title", "b"], &[]);
    one_line_error(&o, "read-only");
    let o = cli(dir.path(), &["cards", "add", "--title", "b"], &[("DECKHAND_READ_ONLY", "true")]);
    one_line_error(&o, "read-only");
    assert!(ok(&cli(dir.path(), &["--read-only", "cards", "list"], &[])).contains(" a "), "reads work");
    assert_eq!(count_cards(dir.path()), 1, "nothing written");
}

#[test]
fn full_database_refuses_a_write_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    ok(&cli(dir.path(), &["cards", "add", "--title", "a"], &[]));
    let body = "x".repeat(20_000);
    // A cap below the current size means "no page more": the card needs new pages.
    let o = cli(dir.path(), &["cards", "add", "--title", "big", "--body", &body], &[("DECKHAND_MAX_DB_BYTES", "1")]);
    one_line_error(&o, "disk is full");
    assert_eq!(count_cards(dir.path()), 1, "the card is absent");
    let v: serde_json::Value = serde_json::from_str(&ok(&cli(dir.path(), &["--json", "outbox", "list"], &[]))).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "and so is its op");
    ok(&cli(dir.path(), &["cards", "add", "--title", "big", "--body", &body], &[]));
    assert_eq!(count_cards(dir.path()), 2, "space is back: the write works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_database_is_rebuilt_from_the_server_and_salvaged_ops_requeued() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&server_dir.path().join("server.db")).await;
    let token = server.add_user("cli");
    let url = server.url();
    let online = [("DECKHAND_SERVER", url.as_str()), ("DECKHAND_TOKEN", token.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let online2 = online.map(|(k, v)| (k, v.to_string()));
    tokio::task::spawn_blocking(move || {
        let online: Vec<(&str, &str)> = online2.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for t in ["one", "two", "three"] {
            ok(&cli(&d, &["cards", "add", "--title", t], &[]));
        }
        ok(&cli(&d, &["sync", "run", "--until-idle", "--timeout", "20"], &online));
        for t in ["offline four", "offline five"] {
            ok(&cli(&d, &["cards", "add", "--title", t], &[]));
        }
        // A corruption error seen while in use leaves this marker (same path as a failed
        // quick_check at open): the next start moves the file aside and rebuilds.
        std::fs::write(d.join("deckhand.db.needs-recovery"), "database disk image is malformed").unwrap();
        let o = cli(&d, &["sync", "run", "--until-idle", "--timeout", "20"], &online);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        ok(&o);
        assert!(err.contains("warning: the local database was corrupt") && err.contains("2 queued operation(s) salvaged"), "{err}");
        let moved: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("deckhand.db.corrupt-") && !n.ends_with("-wal") && !n.ends_with("-shm"))
            .collect();
        assert_eq!(moved.len(), 1, "old file kept: {moved:?}");
        assert_eq!(count_cards(&d), 3, "rebuilt from the server");

        let list = ok(&cli(&d, &["recovery", "list"], &[]));
        assert!(list.contains("2 op(s) salvaged") && list.contains("offline four") && list.contains("offline five"), "{list}");
        let v: serde_json::Value = serde_json::from_str(&ok(&cli(&d, &["--json", "recovery", "list"], &[]))).unwrap();
        assert_eq!(v["salvaged"].as_array().unwrap().len(), 2);
        assert!(v["recovery"]["moved_to"].as_str().unwrap().ends_with(&moved[0]));
        assert!(ok(&cli(&d, &["recovery", "requeue", "--all"], &[])).contains("2 op(s) queued again"));
        assert!(ok(&cli(&d, &["recovery", "discard", "--all"], &[])).contains("0 salvaged op(s) discarded"));
        ok(&cli(&d, &["sync", "run", "--until-idle", "--timeout", "20"], &online));
        // A second client sees all five on the server.
        let other = tempfile::tempdir().unwrap();
        ok(&cli(other.path(), &["sync", "run", "--until-idle", "--timeout", "20"], &online));
        assert_eq!(count_cards(other.path()), 5);
    })
    .await
    .unwrap();
}

/// A real read-only data dir (chmod 555 dir, 444 file). The tests run as root, for whom chmod
/// changes nothing, so the CLI then runs as `nobody` (setpriv); as any other user it runs as is.
#[test]
fn chmod_read_only_data_dir_reads_and_refuses_writes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&cli(&data, &["cards", "add", "--title", "kept"], &[]));
    // A copy of the binary that `nobody` may run (the target dir may not be reachable for it).
    let bin = dir.path().join("deckhand-cli");
    std::fs::copy(env!("CARGO_BIN_EXE_deckhand-cli"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for e in std::fs::read_dir(&data).unwrap() {
        std::fs::set_permissions(e.unwrap().path(), std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = std::fs::read(data.join("deckhand.db")).unwrap();
    let root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    let run = |args: &[&str]| {
        let mut c = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        c.arg("--data-dir").arg(&data).args(args).env_remove("RUST_LOG").env_remove("DECKHAND_READ_ONLY");
        c.output().unwrap()
    };
    let o = run(&["cards", "list"]);
    assert!(ok(&o).contains(" kept "), "reads work in a read-only data dir");
    one_line_error(&run(&["cards", "add", "--title", "new"]), "read-only");
    one_line_error(&run(&["outbox", "discard", "1"]), "read-only");
    assert_eq!(std::fs::read(data.join("deckhand.db")).unwrap(), before, "not touched");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 1, "no -wal/-shm/-journal created");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
}
