//! PostgreSQL schema migrations: instances started together migrate once; a database with an
//! edited or unknown applied migration is refused, as the client refuses one.

mod support;

use futures::future::join_all;
use support::instances::{BIN, Instance, Opts, add_user, http};
use support::pg;

/// `serve` on `db`, expected to refuse to start; returns its stderr.
fn refused(db: &str) -> String {
    let out = std::process::Command::new(BIN).args(["serve", "--listen", "127.0.0.1:0", "--db", db]).output().unwrap();
    assert!(!out.status.success(), "serve started on a database it should refuse");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_together_migrate_once() {
    let cluster = pg::shared();
    let db = cluster.fresh_database();
    let opts = Opts::default();
    let nodes = join_all((0..3).map(|_| Instance::start(&db, &opts))).await;
    // Each migration file applied exactly once (three instances raced for it).
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/storage/postgres/migrations")).unwrap().count();
    assert_eq!(
        cluster.psql(&pg::database_of(&db), "SELECT count(*) || ' ' || count(DISTINCT version) FROM schema_migrations"),
        format!("{files} {files}")
    );
    let token = add_user(&db, "ann").await;
    for n in &nodes {
        assert_eq!(n.client(&token, &http()).get("/v1/cards").await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_or_unknown_applied_migration_is_refused() {
    let cluster = pg::shared();
    let db = cluster.fresh_database();
    let name = pg::database_of(&db);
    drop(Instance::start(&db, &Opts::default()).await);

    cluster.psql(&name, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
    let err = refused(&db);
    assert!(err.contains("applied migration 1 (init) differs"), "{err}");

    let fresh = cluster.fresh_database();
    drop(Instance::start(&fresh, &Opts::default()).await);
    cluster.psql(&pg::database_of(&fresh), "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')");
    let err = refused(&fresh);
    assert!(err.contains("migration 999, which this build does not know"), "{err}");
}
