//! The embedded vector store: an `AnnIndex` plus the visibility map, persisted in
//! `<data dir>/vectors/` and checked against the database on open and on every
//! `sync`. The index file is only a cache: when it is missing, unreadable, built
//! with other parameters or for another model it is rebuilt from the stored
//! embeddings; when it is merely behind (the process stopped before saving), the
//! keys it lacks are added and the ones the database no longer has are removed.

use super::index::{AnnIndex, IndexParams, normalized};
use super::visibility::VisibilityMap;
use super::{SearchScope, VectorError, VectorHit, VectorKey, VectorRow, VectorSource, VectorStore};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Vectors fetched from the database per page while rebuilding.
const PAGE: i64 = 20_000;
/// Scopes matching at most this many vectors are searched exactly (a filtered
/// graph walk would have to pass many non-matching nodes to find k matches).
/// Measured (BENCHMARKS.md): exact over 10k keys ~14 ms in the dev profile,
/// a graph walk accepting 10 % of 100k keys 1.5–3 ms.
const EXACT_MAX: usize = 2_048;
const INDEX_FILE: &str = "index.usearch";
const SIDECAR_FILE: &str = "index.json";
const FORMAT: u32 = 1;

/// What the saved index was built from, written next to it after each save.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sidecar {
    format: u32,
    model: String,
    version: String,
    params: IndexParams,
    size: usize,
    /// The largest key ever added to the saved index.
    max_key: u64,
    /// Length of the index file it describes.
    file_len: u64,
    saved_at_ms: i64,
}

/// How opening went.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenReport {
    /// `None` when the saved index was used; otherwise why it was rebuilt.
    pub rebuilt: Option<String>,
    pub size: usize,
    /// Vectors added to / removed from a saved index to match the database.
    pub added: usize,
    pub removed: usize,
    pub seconds: f64,
}

/// What a `sync` changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub added: usize,
    pub removed: usize,
    /// False when the cheap check found the index already in line.
    pub checked_keys: bool,
}

struct State {
    index: AnnIndex,
    meta: VisibilityMap,
    /// The largest key ever added to `index` (extras are looked for up to it).
    index_max_key: u64,
    /// Changes made / changes on disk: the index needs saving when they differ.
    changes: u64,
    saved: u64,
}

/// The embedded `VectorStore`.
pub struct EmbeddedVectors {
    dir: PathBuf,
    model: String,
    version: String,
    params: IndexParams,
    source: Arc<dyn VectorSource>,
    state: Arc<RwLock<State>>,
    /// One permit per usearch thread context.
    searches: Arc<Semaphore>,
    size: AtomicUsize,
}

fn read(state: &RwLock<State>) -> RwLockReadGuard<'_, State> {
    state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(state: &RwLock<State>) -> RwLockWriteGuard<'_, State> {
    state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, VectorError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| VectorError::Task(e.to_string()))
}

fn to_key(key: i64) -> Option<u64> {
    u64::try_from(key).ok()
}

impl EmbeddedVectors {
    /// Opens the index in `dir` for embeddings from `model` at `version`, loading
    /// the saved one when it is sound and rebuilding it from `source` otherwise.
    pub async fn open(
        dir: &Path,
        model: &str,
        version: &str,
        params: IndexParams,
        source: Arc<dyn VectorSource>,
    ) -> Result<(Self, OpenReport), VectorError> {
        let started = Instant::now();
        std::fs::create_dir_all(dir)?;
        let keys = source.vector_keys(model, version).await?;
        let meta = VisibilityMap::from_keys(&keys);
        let (d, m, v) = (dir.to_owned(), model.to_owned(), version.to_owned());
        let loaded = blocking(move || load_saved(&d, &m, &v, params)).await??;
        let (state, rebuilt) = match loaded {
            // Either way the visibility map comes with `bring_in_line` below.
            Ok((index, saved_max)) => {
                (State { index, meta: VisibilityMap::default(), index_max_key: saved_max, changes: 0, saved: 0 }, None)
            }
            Err(reason) => {
                tracing::warn!(reason = %reason, vectors = keys.len(), "rebuilding the vector index from the database");
                (rebuild(params, keys.len(), model, version, &*source).await?, Some(reason))
            }
        };
        let threads = state.index.threads();
        let me = EmbeddedVectors {
            dir: dir.to_owned(),
            model: model.to_owned(),
            version: version.to_owned(),
            params,
            source,
            size: AtomicUsize::new(0),
            state: Arc::new(RwLock::new(state)),
            searches: Arc::new(Semaphore::new(threads)),
        };
        let (added, removed) = me.bring_in_line(meta, &keys).await?;
        me.persist().await?;
        let report = OpenReport {
            added: if rebuilt.is_some() { me.len() } else { added },
            rebuilt,
            size: me.len(),
            removed,
            seconds: started.elapsed().as_secs_f64(),
        };
        Ok((me, report))
    }

    /// Bytes the index takes in memory.
    pub fn memory_bytes(&self) -> usize {
        read(&self.state).index.memory_bytes()
    }

    /// Makes the index hold exactly `keys` (whose visibility map is `meta`): removes
    /// what the database no longer has, adds what it lacks (vectors fetched from the
    /// database in pages). Searches keep working meanwhile: the write lock is taken
    /// in short steps around the fetches. Returns (added, removed).
    async fn bring_in_line(&self, meta: VisibilityMap, keys: &[VectorKey]) -> Result<(usize, usize), VectorError> {
        let (removed, missing) = {
            let mut s = write(&self.state);
            let (removed, missing) = diff(&s, &meta, keys)?;
            s.meta = meta;
            s.changes += removed as u64;
            (removed, missing)
        };
        let mut added = 0;
        for chunk in missing.chunks(PAGE as usize) {
            let rows = self.source.vectors_by_keys(chunk).await?;
            let state = self.state.clone();
            added += blocking(move || write(&state).add_rows(rows)).await??;
        }
        self.size.store(read(&self.state).index.len(), Ordering::Relaxed);
        Ok((added, removed))
    }
}

impl State {
    /// Adds stored rows (normalised; unusable ones skipped); returns how many.
    fn add_rows(&mut self, rows: Vec<VectorRow>) -> Result<usize, VectorError> {
        let (keys, flat) = flatten(rows, self.index.params().dimensions);
        self.index.add_batch(&keys, &flat)?;
        self.index_max_key = self.index_max_key.max(keys.iter().copied().max().unwrap_or(0));
        self.changes += 1;
        Ok(keys.len())
    }
}

/// Loads the saved index if its sidecar matches what is configured; the error says why not.
fn load_saved(
    dir: &Path,
    model: &str,
    version: &str,
    params: IndexParams,
) -> Result<Result<(AnnIndex, u64), String>, VectorError> {
    let sidecar_path = dir.join(SIDECAR_FILE);
    let index_path = dir.join(INDEX_FILE);
    let sidecar: Sidecar = match std::fs::read(&sidecar_path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("{} is corrupt: {e}", sidecar_path.display()))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err("no saved index".into())),
        Err(e) => return Err(e.into()),
    };
    if sidecar.format != FORMAT || sidecar.model != model || sidecar.version != version {
        return Ok(Err(format!(
            "saved index is for {} {} (format {}), not {model} {version}",
            sidecar.model, sidecar.version, sidecar.format
        )));
    }
    if sidecar.params != params {
        return Ok(Err("saved index was built with other parameters".into()));
    }
    match std::fs::metadata(&index_path) {
        Ok(m) if m.len() == sidecar.file_len => {}
        Ok(m) => return Ok(Err(format!("index file has {} bytes, {} expected", m.len(), sidecar.file_len))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err("index file is missing".into())),
        Err(e) => return Err(e.into()),
    }
    Ok(match AnnIndex::load(params, &index_path) {
        Ok(index) if index.len() == sidecar.size => Ok((index, sidecar.max_key)),
        Ok(index) => Err(format!("index file holds {} vectors, {} expected", index.len(), sidecar.size)),
        Err(e) => Err(format!("index file is unreadable: {e}")),
    })
}

/// A fresh index with every stored vector from `model` at `version`, read in
/// pages by key.
async fn rebuild(
    params: IndexParams,
    expected: usize,
    model: &str,
    version: &str,
    source: &dyn VectorSource,
) -> Result<State, VectorError> {
    let index = AnnIndex::new(params, expected)?;
    let mut state = State { index, meta: VisibilityMap::default(), index_max_key: 0, changes: 1, saved: 0 };
    let mut after = 0i64;
    loop {
        let page = source.vector_page(model, version, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.key;
        let (st, added) = blocking(move || {
            let r = state.add_rows(page);
            (state, r)
        })
        .await?;
        added?;
        state = st;
    }
    Ok(state)
}

/// Rows as (keys, one flat array of unit vectors); rows of the wrong length or
/// that cannot be normalised are left out with a warning.
fn flatten(rows: Vec<VectorRow>, dims: usize) -> (Vec<u64>, Vec<f32>) {
    let mut keys = Vec::with_capacity(rows.len());
    let mut flat = Vec::with_capacity(rows.len() * dims);
    for row in rows {
        match (to_key(row.key), normalized(&row.vector)) {
            (Some(k), Some(v)) if v.len() == dims => {
                keys.push(k);
                flat.extend_from_slice(&v);
            }
            _ => tracing::warn!(key = row.key, len = row.vector.len(), "skipping an unusable stored embedding"),
        }
    }
    (keys, flat)
}

/// Removes from the index every key `wanted` lacks (up to the largest key ever
/// added); returns how many, and the keys of `keys` the index does not hold yet.
fn diff(state: &State, wanted: &VisibilityMap, keys: &[VectorKey]) -> Result<(usize, Vec<i64>), VectorError> {
    let mut removed = 0;
    for k in 0..=state.index_max_key {
        if !wanted.contains(k) && state.index.contains(k) && state.index.remove(k)? {
            removed += 1;
        }
    }
    let missing =
        keys.iter().filter(|k| to_key(k.key).is_some_and(|k| !state.index.contains(k))).map(|k| k.key).collect();
    Ok((removed, missing))
}

#[async_trait]
impl VectorStore for EmbeddedVectors {
    async fn upsert(&self, key: VectorKey, vector: Vec<f32>) -> Result<(), VectorError> {
        let k = to_key(key.key).ok_or_else(|| VectorError::Index(format!("negative key {}", key.key)))?;
        let v = normalized(&vector).ok_or_else(|| VectorError::Index("vector is empty, zero or not finite".into()))?;
        if v.len() != self.params.dimensions {
            return Err(VectorError::Dimensions { expected: self.params.dimensions, got: v.len() });
        }
        let state = self.state.clone();
        let size = blocking(move || -> Result<usize, VectorError> {
            let mut s = write(&state);
            s.index.ensure_room(1)?;
            s.index.add(k, &v)?;
            s.meta.insert(&key);
            s.index_max_key = s.index_max_key.max(k);
            s.changes += 1;
            Ok(s.index.len())
        })
        .await??;
        self.size.store(size, Ordering::Relaxed);
        Ok(())
    }

    async fn remove(&self, key: i64) -> Result<(), VectorError> {
        let Some(k) = to_key(key) else { return Ok(()) };
        let state = self.state.clone();
        let size = blocking(move || -> Result<usize, VectorError> {
            let mut s = write(&state);
            s.meta.remove(k);
            if s.index.remove(k)? {
                s.changes += 1;
            }
            Ok(s.index.len())
        })
        .await??;
        self.size.store(size, Ordering::Relaxed);
        Ok(())
    }

    async fn set_public(&self, key: i64, public: bool) -> Result<(), VectorError> {
        if let Some(k) = to_key(key) {
            write(&self.state).meta.set_public(k, public);
        }
        Ok(())
    }

    async fn search(&self, query: Vec<f32>, k: usize, scope: SearchScope) -> Result<Vec<VectorHit>, VectorError> {
        let q =
            normalized(&query).ok_or_else(|| VectorError::Index("query vector is empty, zero or not finite".into()))?;
        if q.len() != self.params.dimensions {
            return Err(VectorError::Dimensions { expected: self.params.dimensions, got: q.len() });
        }
        let _permit = self.searches.clone().acquire_owned().await.map_err(|e| VectorError::Task(e.to_string()))?;
        let state = self.state.clone();
        let found = blocking(move || -> Result<Vec<super::Neighbour>, VectorError> {
            let s = read(&state);
            let filter = s.meta.filter(&scope);
            let estimate = s.meta.estimate(&filter);
            if estimate == 0 || k == 0 {
                Ok(Vec::new())
            } else if estimate <= EXACT_MAX {
                let keys = s.meta.matching(&filter);
                s.index.exact_among(&q, k, &keys)
            } else {
                s.index.search(&q, k, |key| s.meta.allows(&filter, key))
            }
        })
        .await??;
        Ok(found
            .into_iter()
            .filter_map(|n| Some(VectorHit { key: i64::try_from(n.key).ok()?, score: n.score }))
            .collect())
    }

    async fn sync(&self) -> Result<SyncReport, VectorError> {
        let (count, max_key) = self.source.vector_state(&self.model, &self.version).await?;
        {
            let s = read(&self.state);
            // Keys only grow and a replaced embedding gets a new one, so equal counts
            // and equal largest keys mean the same set.
            let in_line = usize::try_from(count).ok() == Some(s.meta.len())
                && s.index.len() == s.meta.len()
                && (count == 0 || to_key(max_key) == Some(s.meta.max_key()));
            if in_line {
                return Ok(SyncReport::default());
            }
        }
        let keys = self.source.vector_keys(&self.model, &self.version).await?;
        let (added, removed) = self.bring_in_line(VisibilityMap::from_keys(&keys), &keys).await?;
        if added + removed > 0 {
            tracing::info!(added, removed, size = self.len(), "vector index brought in line with the database");
        }
        Ok(SyncReport { added, removed, checked_keys: true })
    }

    async fn persist(&self) -> Result<bool, VectorError> {
        let (state, dir) = (self.state.clone(), self.dir.clone());
        let (model, version, params) = (self.model.clone(), self.version.clone(), self.params);
        blocking(move || -> Result<bool, VectorError> {
            // A read lock: searches go on; additions wait for the save.
            let s = read(&state);
            if s.changes == s.saved {
                return Ok(false);
            }
            let generation = s.changes;
            let tmp = dir.join(format!("{INDEX_FILE}.tmp"));
            s.index.save(&tmp)?;
            let file_len = std::fs::metadata(&tmp)?.len();
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, dir.join(INDEX_FILE))?;
            let sidecar = Sidecar {
                format: FORMAT,
                model,
                version,
                params,
                size: s.index.len(),
                max_key: s.index_max_key,
                file_len,
                saved_at_ms: crate::clock::now_ms(),
            };
            let tmp = dir.join(format!("{SIDECAR_FILE}.tmp"));
            let json = serde_json::to_vec_pretty(&sidecar).map_err(|e| VectorError::Index(e.to_string()))?;
            std::fs::write(&tmp, json)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, dir.join(SIDECAR_FILE))?;
            drop(s);
            let mut s = write(&state);
            s.saved = s.saved.max(generation);
            Ok(true)
        })
        .await?
    }

    fn len(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }
}
