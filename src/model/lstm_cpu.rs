//! The encoder's forward pass on the CPU over plain slices: the fast path for
//! burn's ndarray device.
//!
//! burn's graph (in `encoder.rs`, which every other device runs) spends most of
//! its time outside the matrix products: each LSTM step is ~15 tensor
//! operations, each allocating its result, and its sigmoid/tanh go through
//! scalar `libm`. Here a step is one product (`h · W_hh` with the weights packed
//! once, see `packed_gemm`, accumulated onto the input projection computed for a
//! block of steps by `matrixmultiply`) and one fused pass over the gates that
//! computes the cell with a vectorised exp. Hand-written because no crate does a
//! fused LSTM cell.
//! Partials are independent, so the batch is split across rayon's threads.

use super::packed_gemm::{PackedB, gemm_acc};
use rayon::prelude::*;

/// Time steps whose input projections are computed together: big enough for an
/// efficient product, small enough that the block of gate pre-activations stays
/// in cache instead of streaming a 50 MB buffer per layer.
const STEP_BLOCK: usize = 16;

/// One LSTM layer's weights, gate blocks ordered i, f, o, g.
pub struct RawLayer {
    pub input: usize,
    /// `W_ih`ᵀ, `[input, 4·H]` row-major.
    pub w_ih: Vec<f32>,
    /// `W_hh`ᵀ, `[H, 4·H]` row-major, and packed for the recurrent product.
    pub w_hh: Vec<f32>,
    pub w_hh_packed: PackedB,
    /// `b_ih + b_hh`, `[4·H]`.
    pub bias: Vec<f32>,
}

/// The whole network as plain arrays.
pub struct CpuNetwork {
    pub hidden: usize,
    pub layers: Vec<RawLayer>,
    /// Linear weightᵀ `[H, out]` and bias `[out]`.
    pub linear_w: Vec<f32>,
    pub linear_b: Vec<f32>,
}

/// `c[m×n] = beta·c + a[m×k] · b[k×n]`, all row-major and contiguous.
fn sgemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "sgemm operand sizes");
    // SAFETY: the assert above keeps every index matrixmultiply computes from these
    // strides (row-major, unit column stride) inside the three slices, and `c`
    // does not alias `a` or `b` (distinct borrows).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// e^x to ~2 ulp over the range the gates see, in plain arithmetic so that the
/// compiler vectorises the loops calling it (Cephes' `expf` polynomial, with
/// round-to-nearest by the 1.5·2²³ trick instead of a libm call).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    #[allow(clippy::excessive_precision)] // Cephes' coefficient, as published
    {
        p = p * r + 5.000_000_1e-1;
    }
    let e = p * r * r + r + 1.0;
    // 2^n: n sits in the low mantissa bits of `shifted`.
    let pow2 = f32::from_bits(((shifted.to_bits() as i32 - MAGIC.to_bits() as i32 + 127) << 23) as u32);
    e * pow2
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// One step's cell for every row: `gates` rows hold the i, f, o, g
/// pre-activations; `c` and `h` are updated in place.
#[inline(always)]
fn cell_generic(gates: &[f32], c: &mut [f32], h: &mut [f32], hidden: usize) {
    for ((g, c), h) in gates.chunks_exact(4 * hidden).zip(c.chunks_exact_mut(hidden)).zip(h.chunks_exact_mut(hidden)) {
        let (gi, rest) = g.split_at(hidden);
        let (gf, rest) = rest.split_at(hidden);
        let (go, gg) = rest.split_at(hidden);
        for j in 0..hidden {
            let cj = sigmoid(gf[j]) * c[j] + sigmoid(gi[j]) * tanh(gg[j]);
            c[j] = cj;
            h[j] = sigmoid(go[j]) * tanh(cj);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn cell_avx2(gates: &[f32], c: &mut [f32], h: &mut [f32], hidden: usize) {
    cell_generic(gates, c, h, hidden)
}

fn cell(gates: &[f32], c: &mut [f32], h: &mut [f32], hidden: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features `cell_avx2` is compiled for (checked just above).
        unsafe { cell_avx2(gates, c, h, hidden) };
        return;
    }
    cell_generic(gates, c, h, hidden)
}

impl CpuNetwork {
    /// `[batch, frames, input]` (batch-major) → `[batch, out]` L2-normalised.
    pub fn forward(&self, mels: &[f32], batch: usize, frames: usize) -> Vec<f32> {
        let input = self.layers[0].input;
        let per = frames * input;
        let threads = rayon::current_num_threads().max(1);
        let chunk = batch.div_ceil(threads).max(1);
        if chunk >= batch {
            // One chunk: no hand-off to the pool (its wake-ups cost ~5 %).
            return self.forward_chunk(&mels[..batch * per], batch, frames);
        }
        let parts: Vec<Vec<f32>> =
            mels[..batch * per].par_chunks(chunk * per).map(|m| self.forward_chunk(m, m.len() / per, frames)).collect();
        parts.concat()
    }

    fn forward_chunk(&self, mels: &[f32], batch: usize, frames: usize) -> Vec<f32> {
        let hd = self.hidden;
        let g4 = 4 * hd;
        // Time-major: step t's rows are t·batch .. (t+1)·batch.
        let input = self.layers[0].input;
        let mut x = vec![0f32; frames * batch * input];
        for b in 0..batch {
            for t in 0..frames {
                let src = &mels[(b * frames + t) * input..][..input];
                x[(t * batch + b) * input..][..input].copy_from_slice(src);
            }
        }
        let mut gates = vec![0f32; STEP_BLOCK.min(frames) * batch * g4];
        let mut h = vec![0f32; batch * hd];
        let mut c = vec![0f32; batch * hd];
        let mut next = Vec::new();
        let packed = super::packed_gemm::accelerated();
        for (l, layer) in self.layers.iter().enumerate() {
            let keep = l + 1 < self.layers.len();
            if keep {
                next.resize(frames * batch * hd, 0f32);
            }
            h.fill(0.0);
            c.fill(0.0);
            for t0 in (0..frames).step_by(STEP_BLOCK) {
                let steps = STEP_BLOCK.min(frames - t0);
                let block = &mut gates[..steps * batch * g4];
                // Input projections of these steps at once, on top of the bias.
                for row in block.chunks_exact_mut(g4) {
                    row.copy_from_slice(&layer.bias);
                }
                let rows = &x[t0 * batch * layer.input..][..steps * batch * layer.input];
                sgemm(steps * batch, layer.input, g4, rows, &layer.w_ih, 1.0, block);
                for s in 0..steps {
                    let g = &mut block[s * batch * g4..][..batch * g4];
                    if t0 + s > 0 {
                        if packed {
                            gemm_acc(batch, &h, &layer.w_hh_packed, g);
                        } else {
                            sgemm(batch, hd, g4, &h, &layer.w_hh, 1.0, g);
                        }
                    }
                    cell(g, &mut c, &mut h, hd);
                    if keep {
                        next[(t0 + s) * batch * hd..][..batch * hd].copy_from_slice(&h);
                    }
                }
            }
            if keep {
                std::mem::swap(&mut x, &mut next);
            }
        }
        // Linear, ReLU, L2 normalisation.
        let out_dim = self.linear_b.len();
        let mut y = vec![0f32; batch * out_dim];
        for row in y.chunks_exact_mut(out_dim) {
            row.copy_from_slice(&self.linear_b);
        }
        sgemm(batch, hd, out_dim, &h, &self.linear_w, 1.0, &mut y);
        for row in y.chunks_exact_mut(out_dim) {
            let mut norm = 0f32;
            for v in row.iter_mut() {
                *v = v.max(0.0);
                norm += *v * *v;
            }
            let norm = norm.sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_sigmoid_and_tanh_match_libm() {
        let mut worst_exp = 0f64;
        let (mut worst_sig, mut worst_tanh) = (0f32, 0f32);
        let mut x = -30.0f32;
        while x < 30.0 {
            let rel = ((f64::from(exp(x)) - f64::from(x).exp()) / f64::from(x).exp()).abs();
            worst_exp = worst_exp.max(rel);
            worst_sig = worst_sig.max((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs());
            worst_tanh = worst_tanh.max((tanh(x) - x.tanh()).abs());
            x += 0.001_3;
        }
        assert!(worst_exp < 5e-7, "exp relative error {worst_exp:e}");
        assert!(worst_sig < 2e-7, "sigmoid error {worst_sig:e}");
        assert!(worst_tanh < 5e-7, "tanh error {worst_tanh:e}");
        assert!(sigmoid(-200.0) < 1e-30);
        assert!((sigmoid(200.0) - 1.0).abs() < 1e-7);
        assert!((tanh(200.0) - 1.0).abs() < 1e-7 && (tanh(-200.0) + 1.0).abs() < 1e-7);
    }
}
