//! The record database through diesel + diesel-async: SQLite in the embedded mode
//! (`sqlite.rs`), MySQL/MariaDB in the distributed one (`mysql.rs`). The queries
//! are written once (`records.rs`, `catalog.rs`, `vector_source.rs`, `alerts.rs`) and
//! instantiated for each backend's store; `schema.rs` and `models.rs` are shared.

mod alerts;
mod catalog;
mod dead_letters;
mod models;
mod mysql;
mod records;
pub mod schema;
mod sqlite;
mod vector_source;

pub use mysql::MysqlStore;
pub use sqlite::SqliteStore;

use crate::store::vectors::VectorSource;
use crate::store::{AlertStore, CatalogStore, DeadLetterStore, RecordStore, StoreError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use futures_util::FutureExt;
use std::sync::Arc;

/// A pool manager whose connections run `setup` (SQL statements) once opened.
fn manager<C>(url: &str, setup: &'static str) -> AsyncDieselConnectionManager<C>
where
    C: AsyncConnection + SimpleAsyncConnection + Send + 'static,
{
    let mut cfg = ManagerConfig::<C>::default();
    cfg.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut conn = C::establish(&url).await?;
            conn.batch_execute(setup).await.map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    AsyncDieselConnectionManager::new_with_config(url, cfg)
}

/// Everything the service keeps in its database: records, the song catalog and
/// the embeddings the vector index reads.
pub trait Database: RecordStore + DeadLetterStore + CatalogStore + VectorSource + AlertStore {}
impl<T: RecordStore + DeadLetterStore + CatalogStore + VectorSource + AlertStore> Database for T {}

/// An open database and whether other instances may share it.
pub struct OpenDatabase {
    pub db: Arc<dyn Database>,
    /// True for MySQL: leases not held by this instance may belong to live
    /// instances, so only expired ones are taken back.
    pub shared: bool,
}

/// Opens (and migrates) the database a URL names: `mysql://…` is MySQL/MariaDB,
/// anything else a SQLite file path or `sqlite://` URL.
pub async fn open_database(url: &str, connections: usize) -> Result<OpenDatabase, StoreError> {
    if url.starts_with("mysql://") {
        Ok(OpenDatabase { db: Arc::new(MysqlStore::open(url, connections + 1).await?), shared: true })
    } else {
        Ok(OpenDatabase { db: Arc::new(SqliteStore::open(url, connections).await?), shared: false })
    }
}
