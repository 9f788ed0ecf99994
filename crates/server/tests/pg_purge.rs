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
    use std::io::{BufRead, Write};
    let mut to_psql = other.stdin.take().unwrap();
    let mut from_psql = std::io::BufReader::new(other.stdout.take().unwrap());
    // Sends `sql` and waits for psql to print `marker` (the statements before it have run).
    let mut say = |sql: &str, marker: &str| {
        writeln!(to_psql, "{sql} SELECT '{marker}';").unwrap();
        to_psql.flush().unwrap();
        let mut line = String::new();
        while !line.contains(marker) {
            line.clear();
            assert!(from_psql.read_line(&mut line).unwrap() > 0, "psql ended early");
        }
    };
    say(&format!("SELECT pg_advisory_lock({LOCK_CLASS}, {LOCK_PURGE});"), "locked");
    assert_eq!(storage.purge_idempotency(cutoff).unwrap(), 0, "not the leader: nothing purged");
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM idempotency"), "2510");

    // The other instance finished its purge and let go of the lock.
    say(&format!("SELECT pg_advisory_unlock({LOCK_CLASS}, {LOCK_PURGE});"), "unlocked");
    assert_eq!(storage.purge_idempotency(cutoff).unwrap(), 2500);
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM idempotency WHERE key LIKE 'new%'"), "10", "fresh records stay");
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM idempotency"), "10");
    drop(to_psql);
    other.wait().unwrap();
}
