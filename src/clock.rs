//! Wall-clock time as the store keeps it: unix milliseconds.

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
