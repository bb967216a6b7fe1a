//! The GE2E speaker encoder network in burn: three stacked LSTM layers of 256
//! units, a linear layer to 256, ReLU, L2 normalisation (resemblyzer's
//! `VoiceEncoder.forward`).
//!
//! The LSTM is written out rather than built from `burn::nn::Lstm` because the
//! speed comes from its layout: each layer's input projection is one matrix
//! product over every time step of every partial at once (time-major, so each
//! step's rows are contiguous), leaving only the `h · W_hh` product inside the
//! recurrence; the gates are reordered i, f, o, g so that one sigmoid covers
//! three of them. The backend is whatever the [`Device`] selects (ndarray by
//! default; a GPU device runs the same code). On the default CPU device
//! `forward_flat` takes the fused path in `lstm_cpu` instead, which computes the
//! same network without a tensor allocation per operation.

use super::ModelError;
use super::lstm_cpu::{CpuNetwork, RawLayer};
use super::packed_gemm::PackedB;
use super::weights::{self, Array};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

/// LSTM hidden size and embedding size.
pub const HIDDEN: usize = 256;
/// Mel bands per frame.
pub const N_MELS: usize = 40;
const LAYERS: usize = 3;

struct LstmLayer {
    /// `W_ih`ᵀ, `[input, 4·H]`, gate columns i, f, o, g.
    w_ih: Tensor<2>,
    /// `W_hh`ᵀ, `[H, 4·H]`, same column order.
    w_hh: Tensor<2>,
    /// `b_ih + b_hh`, `[1, 4·H]`.
    bias: Tensor<2>,
}

/// The network with its weights on one device.
pub struct SpeakerEncoder {
    layers: Vec<LstmLayer>,
    /// Linear weightᵀ `[H, 256]` and bias `[1, 256]`.
    linear_w: Tensor<2>,
    linear_b: Tensor<2>,
    device: Device,
    /// The same weights as plain arrays, for the fused CPU path (see
    /// `lstm_cpu`); `None` on devices other than the default CPU one.
    cpu: Option<CpuNetwork>,
}

/// PyTorch's gate blocks are i, f, g, o; ours are i, f, o, g.
const GATE_ORDER: [usize; 4] = [0, 1, 3, 2];

/// `[4·H, input]` PyTorch weight → `[input, 4·H]`, gate blocks reordered.
fn gates_transposed(w: &Array) -> Vec<f32> {
    let (rows, cols) = (w.shape[0], w.shape[1]);
    let mut out = vec![0f32; rows * cols];
    for (dst_block, &src_block) in GATE_ORDER.iter().enumerate() {
        for r in 0..HIDDEN {
            let src_row = src_block * HIDDEN + r;
            let dst_col = dst_block * HIDDEN + r;
            for c in 0..cols {
                out[c * rows + dst_col] = w.data[src_row * cols + c];
            }
        }
    }
    out
}

fn gates_bias(a: &Array, b: &Array) -> Vec<f32> {
    let mut out = vec![0f32; 4 * HIDDEN];
    for (dst_block, &src_block) in GATE_ORDER.iter().enumerate() {
        for r in 0..HIDDEN {
            let s = src_block * HIDDEN + r;
            out[dst_block * HIDDEN + r] = a.data[s] + b.data[s];
        }
    }
    out
}

fn tensor2(data: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

impl SpeakerEncoder {
    /// Builds the network from a safetensors file's bytes (see [`weights::BUNDLED`]).
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Self, ModelError> {
        let mut map = weights::read(bytes)?;
        let mut layers = Vec::with_capacity(LAYERS);
        let mut raw = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let input = if l == 0 { N_MELS } else { HIDDEN };
            let w_ih = weights::take(&mut map, &format!("lstm.weight_ih_l{l}"), &[4 * HIDDEN, input])?;
            let w_hh = weights::take(&mut map, &format!("lstm.weight_hh_l{l}"), &[4 * HIDDEN, HIDDEN])?;
            let b_ih = weights::take(&mut map, &format!("lstm.bias_ih_l{l}"), &[4 * HIDDEN])?;
            let b_hh = weights::take(&mut map, &format!("lstm.bias_hh_l{l}"), &[4 * HIDDEN])?;
            let (wi, wh, bias) = (gates_transposed(&w_ih), gates_transposed(&w_hh), gates_bias(&b_ih, &b_hh));
            layers.push(LstmLayer {
                w_ih: tensor2(wi.clone(), [input, 4 * HIDDEN], device),
                w_hh: tensor2(wh.clone(), [HIDDEN, 4 * HIDDEN], device),
                bias: tensor2(bias.clone(), [1, 4 * HIDDEN], device),
            });
            let w_hh_packed = PackedB::new(&wh, HIDDEN, 4 * HIDDEN);
            raw.push(RawLayer { input, w_ih: wi, w_hh: wh, w_hh_packed, bias });
        }
        let w = weights::take(&mut map, "linear.weight", &[HIDDEN, HIDDEN])?;
        let b = weights::take(&mut map, "linear.bias", &[HIDDEN])?;
        let mut wt = vec![0f32; HIDDEN * HIDDEN];
        for r in 0..HIDDEN {
            for c in 0..HIDDEN {
                wt[c * HIDDEN + r] = w.data[r * HIDDEN + c];
            }
        }
        let cpu = (*device == super::default_device()).then(|| CpuNetwork {
            hidden: HIDDEN,
            layers: raw,
            linear_w: wt.clone(),
            linear_b: b.data.clone(),
        });
        Ok(SpeakerEncoder {
            layers,
            linear_w: tensor2(wt, [HIDDEN, HIDDEN], device),
            linear_b: tensor2(b.data, [1, HIDDEN], device),
            device: device.clone(),
            cpu,
        })
    }

    /// Runs every forward pass through the burn graph, even on the CPU device
    /// (to compare the two paths).
    pub fn graph_only(mut self) -> Self {
        self.cpu = None;
        self
    }

    /// The bundled pretrained weights on `device`.
    pub fn pretrained(device: &Device) -> Result<Self, ModelError> {
        Self::from_safetensors(weights::BUNDLED, device)
    }

    /// Embeds `batch` partials of `frames` mel frames each, given row-major as
    /// `[batch, frames, 40]`; returns `[batch, 256]` L2-normalised embeddings.
    pub fn forward_flat(&self, mels: &[f32], batch: usize, frames: usize) -> Result<Vec<f32>, ModelError> {
        if batch == 0 || frames == 0 || mels.len() != batch * frames * N_MELS {
            return Err(ModelError::Backend(format!(
                "expected {batch}×{frames}×{N_MELS} mel values, got {}",
                mels.len()
            )));
        }
        if let Some(cpu) = &self.cpu {
            return Ok(cpu.forward(mels, batch, frames));
        }
        let x: Tensor<3> = Tensor::from_data(TensorData::new(mels.to_vec(), [batch, frames, N_MELS]), &self.device);
        let out = self.forward(x);
        out.into_data().try_to_vec::<f32>().map_err(|e| ModelError::Backend(format!("{e:?}")))
    }

    /// `[batch, frames, 40]` → `[batch, 256]`.
    pub fn forward(&self, mels: Tensor<3>) -> Tensor<2> {
        let [batch, frames, input] = mels.dims();
        // Time-major rows: step t's partials are rows t·batch .. (t+1)·batch.
        let mut x: Tensor<2> = mels.swap_dims(0, 1).reshape([frames * batch, input]);
        let mut last = Tensor::<2>::zeros([batch, HIDDEN], &self.device);
        for (l, layer) in self.layers.iter().enumerate() {
            let projected = x.clone().matmul(layer.w_ih.clone()) + layer.bias.clone();
            let mut h = Tensor::<2>::zeros([batch, HIDDEN], &self.device);
            let mut c = Tensor::<2>::zeros([batch, HIDDEN], &self.device);
            let keep = l + 1 < self.layers.len();
            let mut outputs = Vec::with_capacity(if keep { frames } else { 0 });
            for t in 0..frames {
                let gates = projected.clone().narrow(0, t * batch, batch) + h.matmul(layer.w_hh.clone());
                let ifo = sigmoid(gates.clone().narrow(1, 0, 3 * HIDDEN));
                let g = gates.narrow(1, 3 * HIDDEN, HIDDEN).tanh();
                let i = ifo.clone().narrow(1, 0, HIDDEN);
                let f = ifo.clone().narrow(1, HIDDEN, HIDDEN);
                let o = ifo.narrow(1, 2 * HIDDEN, HIDDEN);
                c = f * c + i * g;
                h = o * c.clone().tanh();
                if keep {
                    outputs.push(h.clone());
                }
            }
            if keep {
                x = Tensor::cat(outputs, 0);
            } else {
                last = h;
            }
        }
        let y = relu(last.matmul(self.linear_w.clone()) + self.linear_b.clone());
        let norm = y.clone().powi_scalar(2).sum_dim(1).sqrt();
        y / norm
    }
}
