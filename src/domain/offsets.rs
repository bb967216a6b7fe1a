//! Which Kafka offsets may be committed: per partition, the offset after the
//! longest run of finished messages from the oldest one still tracked. Jobs finish
//! out of order; committing past an unfinished one would lose it at a crash.

use std::collections::{BTreeMap, HashMap};

/// A topic partition.
pub type Partition = (String, i32);

#[derive(Debug, Clone, Copy)]
struct Entry {
    done: bool,
    since_ms: i64,
}

#[derive(Debug, Default)]
pub struct OffsetTracker {
    parts: HashMap<Partition, BTreeMap<i64, Entry>>,
    /// Which message leased which record (record id → its message).
    by_record: HashMap<String, (Partition, i64)>,
}

impl OffsetTracker {
    /// A message was taken; `record` is the job it started, if any (a message that
    /// started nothing is finished at once).
    pub fn start(&mut self, part: Partition, offset: i64, record: Option<&str>, now_ms: i64) -> Vec<(Partition, i64)> {
        self.parts.entry(part.clone()).or_default().insert(offset, Entry { done: record.is_none(), since_ms: now_ms });
        match record {
            Some(r) => {
                self.by_record.insert(r.to_owned(), (part, offset));
                Vec::new()
            }
            None => self.advance(&part).into_iter().collect(),
        }
    }

    /// The job of `record` is finished: the offsets that may now be committed.
    pub fn finish(&mut self, record: &str) -> Vec<(Partition, i64)> {
        let Some((part, offset)) = self.by_record.remove(record) else {
            return Vec::new();
        };
        if let Some(e) = self.parts.get_mut(&part).and_then(|m| m.get_mut(&offset)) {
            e.done = true;
        }
        self.advance(&part).into_iter().collect()
    }

    /// Gives up on jobs started before `cutoff_ms` (the database's lease expiry
    /// re-queues them with a new message), returning what may now be committed.
    pub fn expire(&mut self, cutoff_ms: i64) -> Vec<(Partition, i64)> {
        let stale: Vec<String> = self
            .by_record
            .iter()
            .filter(|(_, (part, off))| {
                self.parts.get(part).and_then(|m| m.get(off)).is_some_and(|e| !e.done && e.since_ms < cutoff_ms)
            })
            .map(|(r, _)| r.clone())
            .collect();
        let mut out = Vec::new();
        for r in stale {
            out.extend(self.finish(&r));
        }
        out
    }

    /// Forgets a partition this consumer no longer owns.
    pub fn forget(&mut self, part: &Partition) {
        self.parts.remove(part);
        self.by_record.retain(|_, (p, _)| p != part);
    }

    /// Jobs started and not finished.
    pub fn in_flight(&self) -> usize {
        self.by_record.len()
    }

    fn advance(&mut self, part: &Partition) -> Option<(Partition, i64)> {
        let m = self.parts.get_mut(part)?;
        let mut next = None;
        while let Some((&off, e)) = m.iter().next() {
            if !e.done {
                break;
            }
            m.remove(&off);
            next = Some(off + 1);
        }
        next.map(|n| (part.clone(), n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Partition {
        ("audio.processing".into(), 0)
    }

    #[test]
    fn commits_only_past_a_finished_prefix() {
        let mut t = OffsetTracker::default();
        assert!(t.start(p(), 10, Some("a"), 0).is_empty());
        assert!(t.start(p(), 11, Some("b"), 0).is_empty());
        assert!(t.finish("b").is_empty(), "10 is still running");
        assert_eq!(t.finish("a"), [(p(), 12)]);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn messages_that_start_nothing_commit_at_once_unless_blocked() {
        let mut t = OffsetTracker::default();
        assert_eq!(t.start(p(), 5, None, 0), [(p(), 6)]);
        t.start(p(), 6, Some("a"), 0);
        assert!(t.start(p(), 7, None, 0).is_empty());
        assert_eq!(t.finish("a"), [(p(), 8)]);
        assert!(t.finish("unknown").is_empty());
    }

    #[test]
    fn expired_jobs_release_their_offsets() {
        let mut t = OffsetTracker::default();
        t.start(p(), 1, Some("old"), 100);
        t.start(p(), 2, Some("new"), 900);
        assert_eq!(t.expire(500), [(p(), 2)]);
        assert_eq!(t.in_flight(), 1);
        t.forget(&p());
        assert_eq!(t.in_flight(), 0);
    }
}
