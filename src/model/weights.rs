//! The pretrained GE2E weights: resemblyzer's `pretrained.pt` converted to
//! safetensors by `scripts/convert_weights.py` (provenance and licence in
//! `models/ge2e/`). The default file is compiled into the binary so that the
//! service needs neither network nor Python; `[model] weights` in the
//! configuration names another file of the same layout.

use super::ModelError;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

/// The shipped weights (5.7 MB).
pub static BUNDLED: &[u8] = include_bytes!("../../models/ge2e/resemblyzer_ge2e.safetensors");

/// A float32 tensor in row-major order with its shape.
#[derive(Debug, Clone)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Every float32 tensor of a safetensors file, by name.
pub fn read(bytes: &[u8]) -> Result<HashMap<String, Array>, ModelError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Weights(e.to_string()))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(ModelError::Weights(format!("{name}: expected float32, found {:?}", view.dtype())));
        }
        let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        out.insert(name, Array { shape: view.shape().to_vec(), data });
    }
    Ok(out)
}

/// Takes tensor `name` out of `map`, checking its shape.
pub fn take(map: &mut HashMap<String, Array>, name: &str, shape: &[usize]) -> Result<Array, ModelError> {
    let a = map.remove(name).ok_or_else(|| ModelError::Weights(format!("missing tensor {name}")))?;
    if a.shape != shape {
        return Err(ModelError::Weights(format!("{name}: expected shape {shape:?}, found {:?}", a.shape)));
    }
    Ok(a)
}
