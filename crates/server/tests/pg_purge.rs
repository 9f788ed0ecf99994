//! The idempotency purge on a shared PostgreSQL database: one instance at a time (the leader
//! advisory lock), in bounded batches that together remove every expired record and no other.

mod support;

use deckhand_server::storage::Storage;
use deckhand_server::storage::postgres::{LOCK_CLASS, LOCK_PURGE, PgStorage};
use support::pg;

#[test]
fn only_the_lock_holder_purges_and_batches_remove_every_expired_record() {
    let cluster = pg::shared();
    let url = cluster.fresh_database();
    let name = pg::database_of(&url);
    let storage = PgStorage::connect(&url, 2).unwrap();
    // 2,500 expired records (three batches' worth) and 10 fresh ones.
    cluster.psql(
        &name,
        "INSERT INTO users (name) VALUES ('ann');
         INSERT INTO idempotency (user_id, key, fingerprint, status, body, card_id, version, created_at)
         SELECT 1, 'old' || i, '\\x00', 201, '{}', gen_random_uuid(), 1, 1000 FROM generate_series(1, 2500) i;
         INSERT INTO idempotency (user_id, key, fingerprint, status, body, card_id, version, created_at)
         SELECT 1, 'new' || i, '\\x00', 201, '{}', gen_random_uuid(), 1, 4000000000000 FROM generate_series(1, 10) i;",
    );
    let cutoff = chrono::DateTime::from_timestamp_millis(2_000_000_000_000).unwrap();

    // Another instance is purging (holds the leader lock): this one leaves it.
    let mut other = std::process::Command::new("/usr/lib/postgresql/15/bin/psql")
        .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p", &cluster.port.to_string(), "-d", &name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::{BufRead, Write};
        let stdin = other.stdin.as_mut().unwrap();
        writeln!(stdin, "SELECT pg_advisory_lock({LOCK_CLASS}, {LOCK_PURGE}); SELECT 'locked';").unwrap();
        stdin.flush().unwrap();
        // Wait for psql's answer: the lock is held from here on.
        let mut out = std::io::BufReader::new(other.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("locked") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "psql ended before taking the lock");
        }
    }
    assert_eq!(storage.purge_idempotency(cutoff).unwrap(), 0, "not the leader: nothing purged");
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM idempotency"), "2510");

    // The other instance is gone (its session, and so its lock, ended).
    drop(other.stdin.take());
    other.wait().unwrap();
    assert_eq!(storage.purge_idempotency(cutoff).unwrap(), 2500);
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM idempotency WHERE key LIKE 'new%'"), "10", "fresh records stay");
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM idempotency"), "10");
}
