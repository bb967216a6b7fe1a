//! The SQLite database (embedded mode): diesel + diesel-async over
//! `SyncConnectionWrapper<SqliteConnection>`, migrated on open.
//!
//! SQLite allows one writer at a time, so writes go through a pool of exactly one
//! connection (no `SQLITE_BUSY` between our own transactions) and reads through a
//! separate pool that WAL mode lets run beside it.

use super::alerts::alert_store_impl;
use super::catalog::catalog_store_impl;
use super::records::record_store_impl;
use super::vector_source::vector_source_impl;
use crate::store::StoreError;
use diesel::Connection;
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The migrations compiled into the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

type Conn = SyncConnectionWrapper<SqliteConnection>;

/// Records, jobs and results in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    url: String,
    writer: Pool<Conn>,
    readers: Pool<Conn>,
    /// Whether transitions also write outbox rows (`RecordStore::enable_outbox`).
    outbox: Arc<AtomicBool>,
}

/// WAL: readers never block the writer. FULL: a committed transition survives a
/// power cut, not only a crash. busy_timeout covers other processes (e.g.
/// `orakgaraki migrate`) holding the write lock. secure_delete: a deleted row
/// (a voiceprint, a filename) is overwritten with zeros, not left in free space
/// for anyone who copies the file.
const SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;";

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and runs pending migrations.
    pub async fn open(url: &str, read_connections: usize) -> Result<Self, StoreError> {
        let writer = Pool::builder(super::manager::<Conn>(url, SETUP))
            .max_size(1)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let readers = Pool::builder(super::manager::<Conn>(url, SETUP))
            .max_size(read_connections.max(1))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = SqliteStore { url: url.to_owned(), writer, readers, outbox: Arc::default() };
        store.migrate().await?;
        Ok(store)
    }

    /// Runs the embedded migrations that have not run yet.
    ///
    /// diesel's migration harness is synchronous (diesel-async's wrapper needs
    /// `block_in_place`, which panics on a current-thread runtime), so it runs on
    /// its own connection in a blocking task, holding the writer meanwhile.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let _writer = self.write().await?;
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = SqliteConnection::establish(&url).map_err(|e| StoreError::Database(e.to_string()))?;
            conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")?;
            let applied = conn
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
            Ok(applied.iter().map(|v| v.to_string()).collect())
        })
        .await
        .map_err(|e| StoreError::Database(format!("migration task failed: {e}")))?
    }

    pub(super) fn outbox_on(&self) -> bool {
        AtomicBool::load(&self.outbox, Ordering::Relaxed)
    }

    pub(super) async fn write(&self) -> Result<Object<Conn>, StoreError> {
        self.writer.get().await.map_err(|e| StoreError::Pool(e.to_string()))
    }

    pub(super) async fn read(&self) -> Result<Object<Conn>, StoreError> {
        self.readers.get().await.map_err(|e| StoreError::Pool(e.to_string()))
    }
}

record_store_impl!(SqliteStore, Conn, diesel::sqlite::Sqlite, row_lock = {}, claim_lock = {});
catalog_store_impl!(SqliteStore);
vector_source_impl!(SqliteStore);
alert_store_impl!(SqliteStore);
