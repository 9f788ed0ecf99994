//! PostgreSQL schema migrations: forward-only, numbered files in `migrations/`, applied under a
//! session advisory lock so instances started together migrate once. Like the client, a database
//! with an applied migration this build does not know, or whose text changed (checksum), is
//! refused rather than guessed at.

use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

use super::{LOCK_CLASS, LOCK_MIGRATE, db_err};
use crate::storage::{Result, StorageError};

/// (version, name, SQL). Append only; never edit an entry once released.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "meta", include_str!("migrations/0002_meta.sql")),
    (3, "trash", include_str!("migrations/0003_trash.sql")),
    (4, "card_versions", include_str!("migrations/0004_card_versions.sql")),
    (5, "lanes", include_str!("migrations/0005_lanes.sql")),
    (6, "users_fillfactor", include_str!("migrations/0006_users_fillfactor.sql")),
];

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Brings the database to the latest schema (or refuses it). Uses its own connection so that the
/// advisory lock ends with it, whatever happens.
pub async fn migrate(config: &tokio_postgres::Config) -> Result<()> {
    migrate_with(config, MIGRATIONS).await
}

pub(super) async fn migrate_with(config: &tokio_postgres::Config, migrations: &[(i32, &str, &str)]) -> Result<()> {
    let (mut client, conn) = config.connect(NoTls).await.map_err(db_err)?;
    let driver = tokio::spawn(conn);
    let out = async {
        client.query("SELECT pg_advisory_lock($1, $2)", &[&LOCK_CLASS, &LOCK_MIGRATE]).await.map_err(db_err)?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    name       TEXT NOT NULL,
                    checksum   TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(db_err)?;
        let applied = client.query("SELECT version, checksum FROM schema_migrations ORDER BY version", &[]).await.map_err(db_err)?;
        for row in &applied {
            let (version, sum): (i32, String) = (row.get(0), row.get(1));
            match migrations.iter().find(|(v, _, _)| *v == version) {
                None => {
                    return Err(StorageError::Schema(format!(
                        "the database has migration {version}, which this build does not know (a newer server migrated it)"
                    )));
                }
                Some((_, name, sql)) if checksum(sql) != sum => {
                    return Err(StorageError::Schema(format!("applied migration {version} ({name}) differs from this build's")));
                }
                Some(_) => {}
            }
        }
        for (version, name, sql) in migrations {
            if applied.iter().any(|r| r.get::<_, i32>(0) == *version) {
                continue;
            }
            let tx = client.transaction().await.map_err(db_err)?;
            tx.batch_execute(sql).await.map_err(db_err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[version, name, &checksum(sql)],
            )
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            tracing::info!(version, name, "postgres migration applied");
        }
        Ok(())
    }
    .await;
    drop(client);
    let _ = driver.await;
    out
}
