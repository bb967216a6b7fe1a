//! The read path's cache: the JSON of COMPLETED records, for
//! `GET /api/records/{id}`, so a hot record is answered without the database.
//!
//! Only in the embedded mode, where every change to a record passes through this
//! process: a COMPLETED record changes only by its visibility or by being deleted,
//! and both handlers invalidate it here. (With a shared database another instance
//! could change it, so there is no cache.) Each entry keeps the owner and the
//! visibility, so access is still checked on every read.
//!
//! Hand-written rather than a cache crate: an insert must not land after an
//! invalidation that raced the database read it came from, so inserts carry the
//! generation seen before that read and are dropped if any invalidation happened
//! since — checked under the same lock as the invalidations. When full, it starts
//! over (hot records come back at once).

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A cached record: who may read it, and its JSON.
pub struct Cached {
    pub owner: String,
    pub public: bool,
    pub body: Bytes,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Arc<Cached>>,
    generation: u64,
}

pub struct RecordCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl RecordCache {
    pub fn new(capacity: usize) -> Self {
        RecordCache { inner: Mutex::default(), capacity: capacity.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Cached>> {
        self.lock().entries.get(id).cloned()
    }

    /// Read before loading a record from the database; pass to [`Self::insert`].
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Caches `entry` unless something was invalidated since `seen`.
    pub fn insert(&self, id: &str, seen: u64, entry: Cached) {
        let mut inner = self.lock();
        if inner.generation != seen {
            return;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.clear();
        }
        inner.entries.insert(id.to_owned(), Arc::new(entry));
    }

    /// Forgets a record (its visibility changed, or it was deleted).
    pub fn invalidate(&self, id: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(public: bool) -> Cached {
        Cached { owner: "ana".into(), public, body: Bytes::from_static(b"{}") }
    }

    #[test]
    fn an_insert_racing_an_invalidation_is_dropped() {
        let c = RecordCache::new(10);
        let seen = c.generation();
        // The database said public; meanwhile it was made private and invalidated.
        c.invalidate("r1");
        c.insert("r1", seen, entry(true));
        assert!(c.get("r1").is_none(), "the stale copy must not be cached");
        let seen = c.generation();
        c.insert("r1", seen, entry(false));
        assert!(!c.get("r1").unwrap().public);
        c.invalidate("r1");
        assert!(c.get("r1").is_none());
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let c = RecordCache::new(3);
        for i in 0..10 {
            let g = c.generation();
            c.insert(&format!("r{i}"), g, entry(false));
        }
        assert!(c.lock().entries.len() <= 3);
        assert!(c.get("r9").is_some(), "the newest is there");
    }
}
