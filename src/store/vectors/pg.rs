//! The pgvector `VectorStore` (distributed mode, for indexes past one machine's
//! memory): one table in PostgreSQL with pgvector, an HNSW index over cosine
//! distance, shared by every instance. The record database's `embeddings` stay
//! the source of truth: `sync` (at open and periodically) adds what the table
//! lacks, removes what the database no longer has and corrects visibility, so any
//! instance can repair it and a lost update only lasts until the next sync.
//!
//! Through tokio-postgres and pgvector's `postgres` feature, not diesel: pgvector's
//! diesel integration needs diesel's libpq backend (a C library), and these few
//! statements need no query builder.

use super::{SearchScope, SyncReport, VectorError, VectorHit, VectorKey, VectorSource, VectorStore};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use pgvector::Vector;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

/// Vectors copied from the record database per round while syncing.
const PAGE: usize = 2_000;

/// `[vectors] backend = "pgvector"` settings.
#[derive(Debug, Clone)]
pub struct PgParams {
    /// `postgres://user:password@host:5432/db`
    pub url: String,
    /// Table name (letters, digits, `_`): several deployments can share a database.
    pub table: String,
    pub dimensions: usize,
    /// HNSW build parameters (pgvector's `m` and `ef_construction`).
    pub connectivity: usize,
    pub expansion_add: usize,
    /// Candidates examined per search (`hnsw.ef_search`), at least 2·k.
    pub expansion_search: usize,
}

pub struct PgVectors {
    pool: Pool,
    table: String,
    params: PgParams,
    model: String,
    version: String,
    source: Arc<dyn VectorSource>,
    size: AtomicUsize,
}

fn pg(e: impl std::fmt::Display) -> VectorError {
    VectorError::Index(format!("pgvector: {e}"))
}

impl PgVectors {
    /// Connects, creates the extension, table and index if needed, and syncs with
    /// the record database.
    pub async fn open(
        params: PgParams,
        model: &str,
        version: &str,
        source: Arc<dyn VectorSource>,
    ) -> Result<(Self, SyncReport), VectorError> {
        if params.table.is_empty() || !params.table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(VectorError::Index(format!(
                "pgvector table name {:?} is not a plain identifier",
                params.table
            )));
        }
        let cfg: tokio_postgres::Config = params.url.parse().map_err(pg)?;
        let mgr = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let wait = Some(std::time::Duration::from_secs(15));
        let pool = Pool::builder(mgr)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(wait)
            .create_timeout(wait)
            .recycle_timeout(wait)
            .build()
            .map_err(pg)?;
        let me = PgVectors {
            pool,
            table: params.table.clone(),
            params,
            model: model.to_owned(),
            version: version.to_owned(),
            source,
            size: AtomicUsize::new(0),
        };
        me.create().await?;
        let report = me.sync().await?;
        Ok((me, report))
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, VectorError> {
        self.pool.get().await.map_err(pg)
    }

    async fn create(&self) -> Result<(), VectorError> {
        let c = self.client().await?;
        let t = &self.table;
        let p = &self.params;
        // Instances starting together take turns (transaction-scoped locks: each
        // batch is one implicit transaction, so an error releases them too). The
        // extension is per database, the table per deployment.
        c.batch_execute(
            "SELECT pg_advisory_xact_lock(hashtext('orakgaraki.extension')); CREATE EXTENSION IF NOT EXISTS vector;",
        )
        .await
        .map_err(pg)?;
        c.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock(hashtext('orakgaraki.{t}'));
             CREATE TABLE IF NOT EXISTS {t} (
                 key       BIGINT PRIMARY KEY,
                 owner     TEXT    NOT NULL,
                 public    BOOLEAN NOT NULL,
                 model     TEXT    NOT NULL,
                 version   TEXT    NOT NULL,
                 embedding vector({dim}) NOT NULL
             );
             CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t}
                 USING hnsw (embedding vector_cosine_ops) WITH (m = {m}, ef_construction = {ef});
             CREATE INDEX IF NOT EXISTS {t}_owner ON {t} (owner);",
            dim = p.dimensions,
            m = p.connectivity.max(2),
            ef = p.expansion_add.max(4),
        ))
        .await
        .map_err(pg)
    }

    /// Rows of the configured model, their largest key, and rows in all.
    async fn state(&self) -> Result<(i64, i64, i64), VectorError> {
        let c = self.client().await?;
        let row = c
            .query_one(
                &format!(
                    "SELECT COUNT(*) FILTER (WHERE model = $1 AND version = $2),
                            COALESCE(MAX(key) FILTER (WHERE model = $1 AND version = $2), 0),
                            COUNT(*)
                     FROM {}",
                    self.table
                ),
                &[&self.model, &self.version],
            )
            .await
            .map_err(pg)?;
        Ok((row.get(0), row.get(1), row.get(2)))
    }

    fn set_size(&self, rows: i64) {
        self.size.store(usize::try_from(rows).unwrap_or(0), Ordering::Relaxed);
    }

    /// Runs `sql` after `setting` (which lasts for this transaction only).
    async fn query(
        &self,
        c: &mut deadpool_postgres::Object,
        setting: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<VectorHit>, VectorError> {
        let tx = c.transaction().await.map_err(pg)?;
        tx.batch_execute(setting).await.map_err(pg)?;
        let rows = tx.query(sql, params).await.map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(rows.iter().map(|r| VectorHit { key: r.get(0), score: r.get::<_, f64>(1) as f32 }).collect())
    }

    /// Inserts or replaces one row; true when it was new.
    async fn insert(&self, key: &VectorKey, vector: Vec<f32>) -> Result<bool, VectorError> {
        if vector.len() != self.params.dimensions {
            return Err(VectorError::Dimensions { expected: self.params.dimensions, got: vector.len() });
        }
        let c = self.client().await?;
        // xmax = 0 only on a row this statement inserted (not on one it updated).
        let row = c
            .query_one(
                &format!(
                    "INSERT INTO {} (key, owner, public, model, version, embedding) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, public = EXCLUDED.public,
                         model = EXCLUDED.model, version = EXCLUDED.version, embedding = EXCLUDED.embedding
                     RETURNING (xmax = 0)",
                    self.table
                ),
                &[&key.key, &key.owner, &key.public, &self.model, &self.version, &Vector::from(vector)],
            )
            .await
            .map_err(pg)?;
        Ok(row.get(0))
    }
}

#[async_trait]
impl VectorStore for PgVectors {
    async fn upsert(&self, key: VectorKey, vector: Vec<f32>) -> Result<(), VectorError> {
        let unit =
            super::normalized(&vector).ok_or_else(|| VectorError::Index("vector is empty or not finite".into()))?;
        if self.insert(&key, unit).await? {
            // Other instances' changes show at the next sync.
            self.size.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn remove(&self, key: i64) -> Result<(), VectorError> {
        let c = self.client().await?;
        let n = c.execute(&format!("DELETE FROM {} WHERE key = $1", self.table), &[&key]).await.map_err(pg)?;
        if n > 0 {
            let _ = self.size.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| Some(s.saturating_sub(1)));
        }
        Ok(())
    }

    async fn set_public(&self, key: i64, public: bool) -> Result<(), VectorError> {
        let c = self.client().await?;
        c.execute(&format!("UPDATE {} SET public = $2 WHERE key = $1", self.table), &[&key, &public])
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn search(&self, query: Vec<f32>, k: usize, scope: SearchScope) -> Result<Vec<VectorHit>, VectorError> {
        if query.len() != self.params.dimensions {
            return Err(VectorError::Dimensions { expected: self.params.dimensions, got: query.len() });
        }
        let q = Vector::from(
            super::normalized(&query).ok_or_else(|| VectorError::Index("query is empty or not finite".into()))?,
        );
        let limit = i64::try_from(k).unwrap_or(i64::MAX);
        let (model, version) = (self.model.clone(), self.version.clone());
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> =
            vec![Box::new(q), Box::new(limit), Box::new(model), Box::new(version)];
        let mut filters = vec!["model = $3".to_owned(), "version = $4".to_owned()];
        if !scope.everything {
            let mut who = Vec::new();
            if let Some(own) = scope.own.clone() {
                params.push(Box::new(own));
                who.push(format!("owner = ${}", params.len()));
            }
            if scope.public {
                who.push("public".to_owned());
            }
            if who.is_empty() {
                return Ok(Vec::new());
            }
            filters.push(format!("({})", who.join(" OR ")));
        }
        if let Some(owner) = scope.owner.clone() {
            params.push(Box::new(owner));
            filters.push(format!("owner = ${}", params.len()));
        }
        if let Some(ex) = scope.exclude {
            params.push(Box::new(ex));
            filters.push(format!("key <> ${}", params.len()));
        }
        let sql = format!(
            "SELECT key, 1 - (embedding <=> $1) AS score FROM {} WHERE {} ORDER BY embedding <=> $1 LIMIT $2",
            self.table,
            filters.join(" AND ")
        );
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        let ef = self.params.expansion_search.max(2 * k).clamp(1, 1000);
        let mut c = self.client().await?;
        let mut hits = self.query(&mut c, &format!("SET LOCAL hnsw.ef_search = {ef}"), &sql, &refs).await?;
        if hits.len() < k {
            // The graph walk keeps ef candidates and filters after: a scope that
            // matches few vectors can come back short. Those are exactly the scopes
            // an exact scan (over the owner index) answers quickly.
            hits = self.query(&mut c, "SET LOCAL enable_indexscan = off", &sql, &refs).await?;
        }
        Ok(hits)
    }

    async fn sync(&self) -> Result<SyncReport, VectorError> {
        // Keys only grow and a replaced embedding gets a new one, so equal counts and
        // equal largest keys (and no rows of another model) mean the same set; the
        // service tells the table of visibility changes as they happen.
        let (count, max_key) = self.source.vector_state(&self.model, &self.version).await?;
        let (held_count, held_max, all) = self.state().await?;
        if (held_count, held_max, all) == (count, max_key, count) {
            self.set_size(held_count);
            return Ok(SyncReport::default());
        }
        let truth = self.source.vector_keys(&self.model, &self.version).await?;
        let c = self.client().await?;
        let rows = c
            .query(
                &format!("SELECT key, owner, public, model = $1 AND version = $2 FROM {}", self.table),
                &[&self.model, &self.version],
            )
            .await
            .map_err(pg)?;
        let mut held: HashMap<i64, (String, bool, bool)> =
            rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3)))).collect();
        let mut missing = Vec::new();
        let mut relabel = Vec::new();
        for k in &truth {
            match held.remove(&k.key) {
                Some((owner, public, current)) if current => {
                    if owner != k.owner || public != k.public {
                        relabel.push(k.clone());
                    }
                }
                _ => missing.push(k.clone()),
            }
        }
        // What is left is no longer in the database (or from another model).
        let extra: Vec<i64> = held.into_keys().collect();
        let removed = extra.len();
        if !extra.is_empty() {
            c.execute(&format!("DELETE FROM {} WHERE key = ANY($1)", self.table), &[&extra]).await.map_err(pg)?;
        }
        for k in &relabel {
            c.execute(
                &format!("UPDATE {} SET owner = $2, public = $3 WHERE key = $1", self.table),
                &[&k.key, &k.owner, &k.public],
            )
            .await
            .map_err(pg)?;
        }
        let labels: HashMap<i64, VectorKey> = missing.iter().map(|k| (k.key, k.clone())).collect();
        let mut added = 0;
        for chunk in missing.chunks(PAGE) {
            let keys: Vec<i64> = chunk.iter().map(|k| k.key).collect();
            for row in self.source.vectors_by_keys(&keys).await? {
                if let Some(label) = labels.get(&row.key) {
                    match super::normalized(&row.vector) {
                        Some(unit) if unit.len() == self.params.dimensions => {
                            self.insert(label, unit).await?;
                            added += 1;
                        }
                        _ => tracing::warn!(key = row.key, "stored embedding unusable; left out of pgvector"),
                    }
                }
            }
        }
        drop(c);
        self.set_size(self.state().await?.0);
        Ok(SyncReport { added, removed, checked_keys: true })
    }

    async fn persist(&self) -> Result<bool, VectorError> {
        // PostgreSQL keeps it.
        Ok(false)
    }

    fn shared(&self) -> bool {
        true
    }

    fn len(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }
}
