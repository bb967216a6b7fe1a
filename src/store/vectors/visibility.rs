//! Who owns each indexed vector and whether it is public, in 4 bytes per key:
//! what the search filter asks about every candidate the graph walk meets, and
//! how the planner estimates how many vectors a scope can match.

use super::{SearchScope, VectorKey};
use std::collections::HashMap;

const ABSENT: u32 = u32::MAX;

/// Owner (interned) and public flag per key; keys are the database's small,
/// growing integers, so a vector indexed by key is the compact map.
#[derive(Debug, Default)]
pub struct VisibilityMap {
    /// `owner_id << 1 | public`, or `ABSENT`.
    slots: Vec<u32>,
    owners: HashMap<String, u32>,
    /// Keys per owner id.
    per_owner: Vec<usize>,
    public: usize,
    len: usize,
    max_key: u64,
}

/// A scope resolved against the interned owners.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    everything: bool,
    /// `Some(None)`: the user owns nothing indexed.
    own: Option<Option<u32>>,
    public: bool,
    owner: Option<Option<u32>>,
    exclude: Option<u64>,
}

impl VisibilityMap {
    /// The map of exactly these keys.
    pub fn from_keys(keys: &[VectorKey]) -> Self {
        let mut map = VisibilityMap::default();
        for k in keys {
            map.insert(k);
        }
        map
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The largest key ever inserted (0 when none).
    pub fn max_key(&self) -> u64 {
        self.max_key
    }

    pub fn contains(&self, key: u64) -> bool {
        self.slot(key).is_some()
    }

    fn slot(&self, key: u64) -> Option<u32> {
        usize::try_from(key).ok().and_then(|i| self.slots.get(i)).copied().filter(|s| *s != ABSENT)
    }

    fn intern(&mut self, owner: &str) -> u32 {
        if let Some(id) = self.owners.get(owner) {
            return *id;
        }
        let id = u32::try_from(self.per_owner.len()).unwrap_or(ABSENT >> 1).min((ABSENT >> 1) - 1);
        self.owners.insert(owner.to_owned(), id);
        self.per_owner.push(0);
        id
    }

    /// Records (or replaces) a key's owner and visibility.
    pub fn insert(&mut self, k: &VectorKey) {
        let Ok(key) = u64::try_from(k.key) else { return };
        self.remove(key);
        let owner = self.intern(&k.owner);
        let Ok(i) = usize::try_from(key) else { return };
        if i >= self.slots.len() {
            self.slots.resize((i + 1).max(self.slots.len() * 5 / 4), ABSENT);
        }
        self.slots[i] = owner << 1 | u32::from(k.public);
        self.per_owner[owner as usize] += 1;
        self.public += usize::from(k.public);
        self.len += 1;
        self.max_key = self.max_key.max(key);
    }

    /// Forgets a key; false when it was not there.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some(s) = self.slot(key) else { return false };
        self.slots[key as usize] = ABSENT;
        self.per_owner[(s >> 1) as usize] -= 1;
        self.public -= (s & 1) as usize;
        self.len -= 1;
        true
    }

    /// Changes a key's visibility; false when the key is unknown.
    pub fn set_public(&mut self, key: u64, public: bool) -> bool {
        let Some(s) = self.slot(key) else { return false };
        let was = s & 1 == 1;
        self.slots[key as usize] = (s & !1) | u32::from(public);
        self.public = self.public + usize::from(public) - usize::from(was);
        true
    }

    /// Resolves a scope's owner names.
    pub fn filter(&self, scope: &SearchScope) -> Filter {
        Filter {
            everything: scope.everything,
            own: scope.own.as_ref().map(|o| self.owners.get(o).copied()),
            public: scope.public,
            owner: scope.owner.as_ref().map(|o| self.owners.get(o).copied()),
            exclude: scope.exclude.and_then(|k| u64::try_from(k).ok()),
        }
    }

    /// Whether `key` is in the filter's scope.
    pub fn allows(&self, f: &Filter, key: u64) -> bool {
        if f.exclude == Some(key) {
            return false;
        }
        let Some(s) = self.slot(key) else { return false };
        let (owner, public) = (s >> 1, s & 1 == 1);
        if let Some(only) = f.owner
            && only != Some(owner)
        {
            return false;
        }
        f.everything || (f.public && public) || matches!(f.own, Some(Some(o)) if o == owner)
    }

    /// At most how many keys the filter can match (cheap: counters only).
    pub fn estimate(&self, f: &Filter) -> usize {
        let count = |o: Option<u32>| o.map_or(0, |o| self.per_owner[o as usize]);
        let mut n = if f.everything {
            self.len
        } else {
            let own = f.own.map_or(0, count);
            if f.public { own + self.public } else { own }
        };
        if let Some(only) = f.owner {
            n = n.min(count(only));
        }
        n.min(self.len)
    }

    /// Every key the filter matches (a scan of the map).
    pub fn matching(&self, f: &Filter) -> Vec<u64> {
        (0..self.slots.len() as u64).filter(|k| self.allows(f, *k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: i64, owner: &str, public: bool) -> VectorKey {
        VectorKey { key: k, owner: owner.into(), public }
    }

    #[test]
    fn scopes_select_own_public_and_owner() {
        let mut m = VisibilityMap::default();
        m.insert(&key(1, "ann", false));
        m.insert(&key(2, "ann", true));
        m.insert(&key(3, "bob", false));
        m.insert(&key(5, "bob", true));
        let visible_to = |user: &str| SearchScope { own: Some(user.into()), public: true, ..Default::default() };
        let f = m.filter(&visible_to("ann"));
        assert_eq!(m.matching(&f), vec![1, 2, 5]);
        assert_eq!(m.estimate(&f), 4); // own 2 + public 2 (ann's public counted twice: an upper bound)
        let f = m.filter(&visible_to("carol"));
        assert_eq!(m.matching(&f), vec![2, 5]);
        let f = m.filter(&SearchScope {
            own: Some("bob".into()),
            owner: Some("bob".into()),
            exclude: Some(3),
            ..Default::default()
        });
        assert_eq!(m.matching(&f), vec![5]);
        let f = m.filter(&SearchScope { everything: true, ..Default::default() });
        assert_eq!(m.matching(&f), vec![1, 2, 3, 5]);
        let f = m.filter(&SearchScope { public: true, owner: Some("nobody".into()), ..Default::default() });
        assert!(m.matching(&f).is_empty());
        assert_eq!(m.estimate(&f), 0);
    }

    #[test]
    fn remove_and_visibility_changes_keep_counts() {
        let mut m = VisibilityMap::default();
        m.insert(&key(7, "ann", false));
        m.insert(&key(7, "ann", true)); // replacing keeps one entry
        assert_eq!((m.len(), m.public), (1, 1));
        assert!(m.set_public(7, false));
        assert_eq!(m.public, 0);
        assert!(!m.set_public(8, true));
        assert!(m.remove(7));
        assert!(!m.remove(7));
        assert_eq!((m.len(), m.per_owner[0], m.max_key()), (0, 0, 7));
        let f = m.filter(&SearchScope { everything: true, ..Default::default() });
        assert!(m.matching(&f).is_empty());
    }
}
