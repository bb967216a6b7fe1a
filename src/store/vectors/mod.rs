//! Voice search storage: the `VectorStore` trait the HTTP layer and the actors
//! use, what it needs from the database (`VectorSource`), and two stores: the
//! embedded default — a persisted usearch HNSW index in the data dir, rebuilt
//! from the database's stored embeddings whenever it is missing, stale or corrupt
//! — and pgvector (`pg.rs`), a table shared by every instance. Either way the
//! database is the source of truth and the index a cache of it.

pub mod embedded;
pub mod index;
pub mod pg;
pub mod visibility;

use crate::domain::RecordId;
use crate::store::{StoreError, StoredRecord};
use async_trait::async_trait;

pub use embedded::{EmbeddedVectors, OpenReport, SyncReport};
pub use index::{AnnIndex, IndexParams, Neighbour, Quantization, normalized};

/// A failed vector-store operation.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("vector index: {0}")]
    Index(String),
    #[error("vector has {got} values, the index holds {expected}")]
    Dimensions { expected: usize, got: usize },
    #[error("vector index I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("vector index task failed: {0}")]
    Task(String),
}

/// Who owns one stored embedding and whether anyone may find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorKey {
    /// The embedding's key in the database (and the index's label).
    pub key: i64,
    pub owner: String,
    pub public: bool,
}

/// One stored vector, by key.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRow {
    pub key: i64,
    pub vector: Vec<f32>,
}

/// Which stored vectors a search may return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchScope {
    /// Every vector, private or not (an admin's "visible").
    pub everything: bool,
    /// This user's own vectors, public or private.
    pub own: Option<String>,
    /// Every public vector.
    pub public: bool,
    /// Only this owner's vectors (within the above).
    pub owner: Option<String>,
    /// Never this key (the query record itself).
    pub exclude: Option<i64>,
}

/// One search result: the embedding key and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorHit {
    pub key: i64,
    pub score: f32,
}

/// The vector index the service searches.
#[async_trait]
pub trait VectorStore: Send + Sync + 'static {
    /// Adds (or replaces) one vector.
    async fn upsert(&self, key: VectorKey, vector: Vec<f32>) -> Result<(), VectorError>;
    /// Forgets one vector; unknown keys are ignored.
    async fn remove(&self, key: i64) -> Result<(), VectorError>;
    /// Changes whether a vector is public.
    async fn set_public(&self, key: i64, public: bool) -> Result<(), VectorError>;
    /// The `k` vectors in `scope` closest to `query` (unit length), best first.
    async fn search(&self, query: Vec<f32>, k: usize, scope: SearchScope) -> Result<Vec<VectorHit>, VectorError>;
    /// Brings the index in line with the database after changes it was not told
    /// about (another process re-embedding, a lost update).
    async fn sync(&self) -> Result<SyncReport, VectorError>;
    /// Writes the index to disk if it changed since the last write.
    async fn persist(&self) -> Result<bool, VectorError>;
    /// Whether every instance searches this same index (pgvector), so that an
    /// instance need not add what another one completed.
    fn shared(&self) -> bool {
        false
    }
    /// Vectors in the index.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the vector index reads from the record database.
#[async_trait]
pub trait VectorSource: Send + Sync + 'static {
    /// Count and largest key of the stored embeddings from `model` at `version`.
    async fn vector_state(&self, model: &str, version: &str) -> Result<(i64, i64), StoreError>;
    /// Every key from `model` at `version` with its owner and visibility, by key.
    async fn vector_keys(&self, model: &str, version: &str) -> Result<Vec<VectorKey>, StoreError>;
    /// Up to `limit` vectors from `model` at `version` with keys above `after`, by key.
    async fn vector_page(
        &self,
        model: &str,
        version: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<VectorRow>, StoreError>;
    /// The vectors of these keys (those that still exist).
    async fn vectors_by_keys(&self, keys: &[i64]) -> Result<Vec<VectorRow>, StoreError>;
    /// A record's embedding key, owner and visibility, with its vector, if it has one
    /// from `model` at `version`.
    async fn vector_of_record(
        &self,
        id: &RecordId,
        model: &str,
        version: &str,
    ) -> Result<Option<(VectorKey, Vec<f32>)>, StoreError>;
    /// The records behind these keys (those that still exist), in no order.
    async fn records_by_vector_keys(&self, keys: &[i64]) -> Result<Vec<(i64, StoredRecord)>, StoreError>;
}
