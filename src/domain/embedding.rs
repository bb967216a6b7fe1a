//! A recording's voice embedding as stored and returned: which model made it
//! and the vector. The vector is omitted from API answers unless asked for
//! (`?include=embedding`), so an empty vector means "not included".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Embedding {
    /// The model's name, e.g. `resemblyzer-ge2e`.
    pub model: String,
    /// The model's version; re-embedding rolls a new one out.
    pub version: String,
    /// The L2-normalised vector (256 numbers for GE2E).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vector: Vec<f32>,
}

impl Embedding {
    /// The vector as little-endian bytes, for storage.
    pub fn vector_bytes(&self) -> Vec<u8> {
        self.vector.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// A vector from its stored bytes; `None` when the length is not a whole number of floats.
    pub fn vector_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
        bytes
            .len()
            .is_multiple_of(4)
            .then(|| bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    /// The same embedding without its vector (model and version only).
    pub fn without_vector(&self) -> Embedding {
        Embedding { model: self.model.clone(), version: self.version.clone(), vector: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_bytes_round_trip_and_reject_torn_blobs() {
        let e = Embedding { model: "m".into(), version: "1".into(), vector: vec![0.5, -1.25, 3.0] };
        assert_eq!(Embedding::vector_from_bytes(&e.vector_bytes()), Some(e.vector.clone()));
        assert_eq!(Embedding::vector_from_bytes(&[1, 2, 3]), None);
        let json = serde_json::to_value(e.without_vector()).expect("json");
        assert_eq!(json, serde_json::json!({"model": "m", "version": "1"}));
    }
}
