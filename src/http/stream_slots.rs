//! How many server-sent-event streams each user holds open, capped (`[sse]
//! max_streams_per_user`): an open stream holds a connection and a broadcast
//! subscription, so one account opening thousands would starve everyone else.
//! A slot is held by the stream and given back when it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open streams per user.
pub struct StreamSlots {
    max: usize,
    open: Mutex<HashMap<String, usize>>,
}

/// One open stream of one user; dropping it frees the slot.
pub struct Slot {
    slots: Arc<StreamSlots>,
    user: String,
}

impl StreamSlots {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(StreamSlots { max: max.max(1), open: Mutex::new(HashMap::new()) })
    }

    /// A slot for `user`, or `None` when they hold `max` already.
    pub fn take(self: &Arc<Self>, user: &str) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(user.to_owned()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot { slots: self.clone(), user: user.to_owned() })
    }

    /// Streams `user` holds open.
    pub fn held(&self, user: &str) -> usize {
        self.open.lock().map(|o| o.get(user).copied().unwrap_or(0)).unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.open.lock()
            && let Some(n) = open.get_mut(&self.user)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StreamSlots;

    #[test]
    fn a_user_holds_at_most_max_and_gets_slots_back() {
        let slots = StreamSlots::new(2);
        let a = slots.take("ann").unwrap();
        let _b = slots.take("ann").unwrap();
        assert!(slots.take("ann").is_none());
        assert!(slots.take("bob").is_some(), "others have their own");
        drop(a);
        assert_eq!(slots.held("ann"), 1);
        assert!(slots.take("ann").is_some());
    }
}
