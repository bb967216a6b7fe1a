//! The approximate-nearest-neighbour index itself: a usearch HNSW graph over unit
//! vectors with inner-product distance, keyed by the database's embedding keys.
//! No database and no files beyond `save`/`load`: the embedded vector store adds
//! those, and the benchmark drives this type directly.

use super::VectorError;
use std::path::Path;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// How the graph is built and searched (`[vectors]` in config.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexParams {
    pub dimensions: usize,
    /// Edges per node (HNSW `M`).
    pub connectivity: usize,
    /// Candidate list while inserting (`efConstruction`).
    pub expansion_add: usize,
    /// Candidate list while searching (`ef`); usearch raises it to `k` when smaller.
    pub expansion_search: usize,
    /// How vectors are stored: `f32`, `f16` or `i8`.
    pub quantization: Quantization,
}

/// The scalar type vectors are stored as inside the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    F32,
    F16,
    I8,
}

impl Quantization {
    fn scalar(self) -> ScalarKind {
        match self {
            Quantization::F32 => ScalarKind::F32,
            Quantization::F16 => ScalarKind::F16,
            Quantization::I8 => ScalarKind::I8,
        }
    }
}

impl Default for IndexParams {
    fn default() -> Self {
        IndexParams {
            dimensions: 256,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
            quantization: Quantization::F32,
        }
    }
}

/// One neighbour: its key and cosine similarity (the vectors are unit length).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub key: u64,
    pub score: f32,
}

/// A usearch index (thread-safe for concurrent adds and searches within its
/// reserved capacity; growing it needs exclusive access, which the callers'
/// locks give).
pub struct AnnIndex {
    index: Index,
    params: IndexParams,
    threads: usize,
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> VectorError + '_ {
    move |e| VectorError::Index(format!("{what}: {e}"))
}

impl AnnIndex {
    /// An empty index with room for `capacity` vectors.
    pub fn new(params: IndexParams, capacity: usize) -> Result<Self, VectorError> {
        let options = IndexOptions {
            dimensions: params.dimensions,
            metric: MetricKind::IP,
            quantization: params.quantization.scalar(),
            connectivity: params.connectivity,
            expansion_add: params.expansion_add,
            expansion_search: params.expansion_search,
            multi: false,
        };
        let index = Index::new(&options).map_err(err("create"))?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        let me = AnnIndex { index, params, threads };
        me.reserve(capacity.max(64))?;
        Ok(me)
    }

    /// Loads a saved index; fails when the file is missing, truncated, not an index,
    /// or built with other parameters.
    pub fn load(params: IndexParams, path: &Path) -> Result<Self, VectorError> {
        let path_str = path.to_str().ok_or_else(|| VectorError::Index("index path is not UTF-8".into()))?;
        let meta = Index::metadata(path_str).map_err(err("read header"))?;
        if meta.dimensions != params.dimensions as u64
            || meta.quantization != params.quantization.scalar()
            || meta.metric != MetricKind::IP
        {
            return Err(VectorError::Index(format!(
                "saved index has {} dimensions, {:?}, {:?}; configured {} dimensions, {:?}",
                meta.dimensions, meta.quantization, meta.metric, params.dimensions, params.quantization
            )));
        }
        let me = Self::new(params, 0)?;
        me.index.load(path_str).map_err(err("load"))?;
        if me.index.connectivity() != params.connectivity {
            return Err(VectorError::Index(format!(
                "saved index has connectivity {}, configured {}",
                me.index.connectivity(),
                params.connectivity
            )));
        }
        me.index.change_expansion_search(params.expansion_search);
        me.index.change_expansion_add(params.expansion_add);
        let size = me.index.size();
        me.reserve(size + size / 4 + 64)?;
        Ok(me)
    }

    /// Writes the index to `path` (the caller renames it into place).
    pub fn save(&self, path: &Path) -> Result<(), VectorError> {
        let path_str = path.to_str().ok_or_else(|| VectorError::Index("index path is not UTF-8".into()))?;
        self.index.save(path_str).map_err(err("save"))
    }

    pub fn params(&self) -> IndexParams {
        self.params
    }

    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the graph and vectors take in memory.
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_usage()
    }

    pub fn contains(&self, key: u64) -> bool {
        self.index.contains(key)
    }

    fn reserve(&self, capacity: usize) -> Result<(), VectorError> {
        self.index.reserve_capacity_and_threads(capacity, self.threads).map_err(err("reserve"))
    }

    /// Room for `extra` more vectors (growing by half again at least, so repeated
    /// single inserts do not reallocate each time). Needs exclusive access.
    pub fn ensure_room(&mut self, extra: usize) -> Result<(), VectorError> {
        let need = self.index.size() + extra;
        if need > self.index.capacity() {
            self.reserve(need.max(self.index.capacity() * 3 / 2).max(64))?;
        }
        Ok(())
    }

    /// Checks a query; true when no neighbour can come back (k = 0, empty index).
    fn nothing_to_find(&self, query: &[f32], k: usize) -> Result<bool, VectorError> {
        self.check(query)?;
        Ok(k == 0 || self.is_empty())
    }

    fn check(&self, vector: &[f32]) -> Result<(), VectorError> {
        if vector.len() != self.params.dimensions {
            return Err(VectorError::Dimensions { expected: self.params.dimensions, got: vector.len() });
        }
        Ok(())
    }

    /// Adds one vector; an existing entry under `key` is replaced. Needs room (see `ensure_room`).
    pub fn add(&self, key: u64, vector: &[f32]) -> Result<(), VectorError> {
        self.check(vector)?;
        if self.index.contains(key) {
            self.index.remove(key).map_err(err("replace"))?;
        }
        self.index.add(key, vector).map_err(err("add"))
    }

    /// Adds many vectors with every core (the index is thread-safe for adds within
    /// its capacity). `vectors` holds `keys.len()` rows of `dimensions` values.
    pub fn add_batch(&mut self, keys: &[u64], vectors: &[f32]) -> Result<(), VectorError> {
        let dims = self.params.dimensions;
        if vectors.len() != keys.len() * dims {
            return Err(VectorError::Dimensions { expected: keys.len() * dims, got: vectors.len() });
        }
        self.ensure_room(keys.len())?;
        let threads = self.threads.min(keys.len().max(1));
        let chunk = keys.len().div_ceil(threads).max(1);
        let this = &*self;
        std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .chunks(chunk)
                .zip(vectors.chunks(chunk * dims))
                .map(|(ks, vs)| {
                    s.spawn(move || -> Result<(), VectorError> {
                        for (key, v) in ks.iter().zip(vs.chunks_exact(dims)) {
                            this.add(*key, v)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().map_err(|_| VectorError::Index("an add thread panicked".into()))?)
        })
    }

    /// Removes `key`; true when it was there.
    pub fn remove(&self, key: u64) -> Result<bool, VectorError> {
        Ok(self.index.remove(key).map_err(err("remove"))? > 0)
    }

    /// Concurrent operations the index has contexts for: callers keep at most this
    /// many searches in flight (usearch fails an operation that finds none free).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Changes the search candidate list (`ef`); usearch uses at least `k` anyway.
    pub fn set_expansion_search(&mut self, ef: usize) {
        self.params.expansion_search = ef;
        self.index.change_expansion_search(ef);
    }

    /// The `k` approximate nearest neighbours that `keep` accepts, best first.
    pub fn search(&self, query: &[f32], k: usize, keep: impl Fn(u64) -> bool) -> Result<Vec<Neighbour>, VectorError> {
        if self.nothing_to_find(query, k)? {
            return Ok(Vec::new());
        }
        let m = self.index.filtered_search(query, k, keep).map_err(err("search"))?;
        Ok(neighbours(m))
    }

    /// The `k` approximate nearest neighbours, unfiltered.
    pub fn search_all(&self, query: &[f32], k: usize) -> Result<Vec<Neighbour>, VectorError> {
        if self.nothing_to_find(query, k)? {
            return Ok(Vec::new());
        }
        Ok(neighbours(self.index.search(query, k).map_err(err("search"))?))
    }

    /// The exact `k` nearest neighbours by brute force (every stored vector).
    pub fn exact(&self, query: &[f32], k: usize) -> Result<Vec<Neighbour>, VectorError> {
        if self.nothing_to_find(query, k)? {
            return Ok(Vec::new());
        }
        Ok(neighbours(self.index.exact_search(query, k).map_err(err("exact search"))?))
    }

    /// The exact `k` nearest among `keys` only: for filters so selective that a
    /// graph walk would visit most of the graph to find `k` matches.
    pub fn exact_among(&self, query: &[f32], k: usize, keys: &[u64]) -> Result<Vec<Neighbour>, VectorError> {
        self.check(query)?;
        let mut buf = vec![0.0f32; self.params.dimensions];
        let mut scored = Vec::with_capacity(keys.len());
        for &key in keys {
            if self.index.get(key, &mut buf).map_err(err("get"))? == 0 {
                continue;
            }
            let dot: f32 = buf.iter().zip(query).map(|(a, b)| a * b).sum();
            scored.push(Neighbour { key, score: dot });
        }
        scored.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.key.cmp(&b.key)));
        scored.truncate(k);
        Ok(scored)
    }
}

fn neighbours(m: usearch::ffi::Matches) -> Vec<Neighbour> {
    m.keys.into_iter().zip(m.distances).map(|(key, d)| Neighbour { key, score: 1.0 - d }).collect()
}

/// Scales `v` to unit length; `None` when it is empty, not finite or all zeros.
pub fn normalized(v: &[f32]) -> Option<Vec<f32>> {
    if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm < 1e-12 {
        return None;
    }
    Some(v.iter().map(|x| (f64::from(*x) / norm) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_unit(rng: &mut impl Rng, n: usize, dims: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * dims);
        for _ in 0..n {
            let v: Vec<f32> = (0..dims).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            out.extend(normalized(&v).expect("non-zero"));
        }
        out
    }

    fn params() -> IndexParams {
        IndexParams { dimensions: 32, ..IndexParams::default() }
    }

    #[test]
    fn approximate_search_finds_the_exact_neighbours_on_easy_data() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let n = 3000;
        let data = random_unit(&mut rng, n, 32);
        let keys: Vec<u64> = (1..=n as u64).collect();
        let mut ix = AnnIndex::new(params(), 10).expect("index");
        ix.add_batch(&keys, &data).expect("add");
        assert_eq!(ix.len(), n);
        let queries = random_unit(&mut rng, 50, 32);
        let (mut hit, mut total) = (0, 0);
        for q in queries.chunks_exact(32) {
            let exact: Vec<u64> = ix.exact(q, 10).expect("exact").iter().map(|n| n.key).collect();
            let approx = ix.search_all(q, 10).expect("search");
            assert!(approx.windows(2).all(|w| w[0].score >= w[1].score - 1e-6));
            hit += approx.iter().filter(|n| exact.contains(&n.key)).count();
            total += 10;
        }
        assert!(hit as f64 / total as f64 > 0.95, "recall {hit}/{total}");
    }

    #[test]
    fn filters_removal_and_exact_subsets() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let data = random_unit(&mut rng, 500, 32);
        let keys: Vec<u64> = (1..=500).collect();
        let mut ix = AnnIndex::new(params(), 0).expect("index");
        ix.add_batch(&keys, &data).expect("add");
        let q = &data[..32];
        let even = ix.search(q, 5, |k| k % 2 == 0).expect("filtered");
        assert_eq!(even.len(), 5);
        assert!(even.iter().all(|n| n.key % 2 == 0));
        // The query's own vector is key 1: first, with score 1.
        let top = ix.search_all(q, 1).expect("search");
        assert_eq!(top[0].key, 1);
        assert!((top[0].score - 1.0).abs() < 1e-5);
        assert!(ix.remove(1).expect("remove"));
        assert!(!ix.remove(1).expect("remove twice"));
        assert_ne!(ix.search_all(q, 1).expect("search")[0].key, 1);
        let subset = ix.exact_among(q, 3, &[2, 3, 4, 999]).expect("exact among");
        assert_eq!(subset.len(), 3, "the unknown key is skipped");
        let mut want: Vec<Neighbour> = [2u64, 3, 4]
            .iter()
            .map(|k| Neighbour {
                key: *k,
                score: data[(*k as usize - 1) * 32..][..32].iter().zip(q).map(|(a, b)| a * b).sum(),
            })
            .collect();
        want.sort_by(|a, b| b.score.total_cmp(&a.score));
        assert_eq!(subset.iter().map(|n| n.key).collect::<Vec<_>>(), want.iter().map(|n| n.key).collect::<Vec<_>>());
        assert!(matches!(ix.add(7, &[1.0; 3]), Err(VectorError::Dimensions { expected: 32, got: 3 })));
    }

    #[test]
    fn saved_indexes_load_and_damaged_ones_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ix.usearch");
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let data = random_unit(&mut rng, 200, 32);
        let keys: Vec<u64> = (10..210).collect();
        let mut ix = AnnIndex::new(params(), 0).expect("index");
        ix.add_batch(&keys, &data).expect("add");
        ix.save(&path).expect("save");
        let back = AnnIndex::load(params(), &path).expect("load");
        assert_eq!(back.len(), 200);
        assert_eq!(back.search_all(&data[..32], 3).expect("search"), ix.search_all(&data[..32], 3).expect("search"));
        assert!(AnnIndex::load(IndexParams { dimensions: 64, ..params() }, &path).is_err(), "other dimensions");
        assert!(AnnIndex::load(IndexParams { quantization: Quantization::I8, ..params() }, &path).is_err());
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
        assert!(AnnIndex::load(params(), &path).is_err(), "truncated");
        std::fs::write(&path, vec![0u8; bytes.len()]).expect("zero");
        assert!(AnnIndex::load(params(), &path).is_err(), "zeros");
        assert!(AnnIndex::load(params(), &dir.path().join("none")).is_err(), "missing");
    }
}
