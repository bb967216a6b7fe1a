//! The MySQL/MariaDB database (distributed mode): diesel-async's native
//! `AsyncMysqlConnection` in a deadpool, migrated on open from `migrations/mysql/`.
//!
//! Several instances share it, so reads that precede a guarded update lock their
//! rows (`FOR UPDATE`), and claims skip rows another instance is claiming
//! (`FOR UPDATE SKIP LOCKED`): two instances never lease the same job, and
//! neither waits for the other. Sessions run at READ COMMITTED, so a transaction
//! sees rows other instances committed after it began.

use super::alerts::alert_store_impl;
use super::catalog::catalog_store_impl;
use super::records::record_store_impl;
use super::vector_source::vector_source_impl;
use crate::store::StoreError;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncMigrationHarness, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The MySQL migrations compiled into the binary.
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

type Conn = AsyncMysqlConnection;

/// Seconds an instance waits for another one that is migrating the same database.
const MIGRATION_LOCK_SECONDS: u32 = 120;

/// Records, jobs and results in a MySQL or MariaDB database shared by every instance.
#[derive(Clone)]
pub struct MysqlStore {
    pool: Pool<Conn>,
    /// Whether transitions also write outbox rows (`RecordStore::enable_outbox`).
    outbox: Arc<AtomicBool>,
}

/// See the module doc: a transaction sees what other instances committed.
const SETUP: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; SET NAMES utf8mb4";

impl MysqlStore {
    /// Connects to `url` (`mysql://user:password@host:port/database`) and runs the
    /// migrations that have not run yet.
    pub async fn open(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let pool = Pool::builder(super::manager::<Conn>(url, SETUP))
            .max_size(max_connections.max(2))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = MysqlStore { pool, outbox: Arc::default() };
        store.migrate().await?;
        Ok(store)
    }

    /// Runs the embedded migrations that have not run yet, holding a named
    /// database lock so that instances starting together migrate one at a time.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.write().await?;
        let got: Vec<Option<i64>> =
            diesel::sql_query(format!("SELECT GET_LOCK('orakgaraki.migrate', {MIGRATION_LOCK_SECONDS}) AS l"))
                .load::<LockResult>(&mut *conn)
                .await?
                .into_iter()
                .map(|r| r.l)
                .collect();
        if got.as_slice().first().copied().flatten() != Some(1) {
            return Err(StoreError::Database("another instance held the migration lock too long".into()));
        }
        // diesel's migration harness is synchronous; diesel-async's adapter blocks
        // in place, which needs a blocking thread (tests run current-thread runtimes).
        let (conn, applied) = tokio::task::spawn_blocking(move || {
            let mut harness = AsyncMigrationHarness::new(conn);
            let applied = harness
                .run_pending_migrations(MYSQL_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(|e| StoreError::Database(format!("migration failed: {e}")));
            (harness.into_inner(), applied)
        })
        .await
        .map_err(|e| StoreError::Database(format!("migration task failed: {e}")))?;
        let mut conn = conn;
        conn.batch_execute("DO RELEASE_LOCK('orakgaraki.migrate')").await?;
        applied
    }

    pub(super) fn outbox_on(&self) -> bool {
        AtomicBool::load(&self.outbox, Ordering::Relaxed)
    }

    pub(super) async fn write(&self) -> Result<Object<Conn>, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))
    }

    pub(super) async fn read(&self) -> Result<Object<Conn>, StoreError> {
        self.write().await
    }
}

#[derive(diesel::QueryableByName)]
struct LockResult {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    l: Option<i64>,
}

record_store_impl!(
    MysqlStore,
    Conn,
    diesel::mysql::Mysql,
    row_lock = {.for_update()},
    claim_lock = {.for_update().skip_locked()}
);
catalog_store_impl!(MysqlStore);
vector_source_impl!(MysqlStore);
alert_store_impl!(MysqlStore);
