//! `C += A · B` for a small `A` and a constant `B` packed once: the LSTM's
//! recurrent product `h · W_hh`, which runs 160 × 3 times per forward pass with
//! the same 1 MB weight matrix.
//!
//! A general sgemm (matrixmultiply, gemm) packs both operands on every call; for
//! this product the packing of `W_hh` alone was 15 % of the whole embedding
//! (measured with perf). No Rust crate offers a pre-packed operand (oneDNN and
//! MKL do, which is what PyTorch's LSTM uses), so this is hand-written: `B` is
//! stored as column panels of `NR` floats, each panel (k × NR, 32 KB for k = 256)
//! stays in L1 while every row tile of `A` passes over it, and an `MR × NR`
//! accumulator tile lives in vector registers;
//! the AVX-512 kernel is written with intrinsics (the compiler did not keep a
//! generic tile in registers), chosen at run time; other CPUs use a general
//! sgemm instead (see `accelerated`).

/// Columns per panel.
const NR: usize = 32;

/// A `k × n` row-major matrix in panels of `NR` columns (`n` a multiple of `NR`).
pub struct PackedB {
    k: usize,
    n: usize,
    panels: Vec<f32>,
}

impl PackedB {
    /// Packs `b` (`k × n`, row-major). `n` must be a multiple of 32.
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        assert!(n.is_multiple_of(NR) && b.len() == k * n, "PackedB: {k}×{n} from {} values", b.len());
        let mut panels = Vec::with_capacity(k * n);
        for p in 0..n / NR {
            for row in 0..k {
                panels.extend_from_slice(&b[row * n + p * NR..][..NR]);
            }
        }
        PackedB { k, n, panels }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }
}

/// Portable fallback (any CPU): the same tiles, scalar.
fn gemm_portable(m: usize, a: &[f32], b: &PackedB, c: &mut [f32]) {
    let (k, n) = (b.k, b.n);
    for p in 0..n / NR {
        let panel = &b.panels[p * k * NR..][..k * NR];
        for r in 0..m {
            let mut acc = [0f32; NR];
            for kk in 0..k {
                let x = a[r * k + kk];
                for (acc_j, w_j) in acc.iter_mut().zip(&panel[kk * NR..][..NR]) {
                    *acc_j += x * w_j;
                }
            }
            for (out, acc_j) in c[r * n + p * NR..][..NR].iter_mut().zip(acc) {
                *out += acc_j;
            }
        }
    }
}

/// AVX-512: a tile of `ROWS` rows × 32 columns in `2·ROWS` zmm accumulators.
///
/// # Safety
/// The CPU must support AVX-512F; `a` must hold `ROWS` rows of `k` values from
/// `a_ptr`, `panel` `k × 32` values, `c` `ROWS` rows of stride `n` from `c_ptr`
/// with 32 columns from there.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const ROWS: usize>(a_ptr: *const f32, k: usize, panel: *const f32, c_ptr: *mut f32, n: usize) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; ROWS];
    for kk in 0..k {
        // SAFETY (whole block): offsets stay within the extents the caller promises.
        unsafe {
            let w0 = _mm512_loadu_ps(panel.add(kk * NR));
            let w1 = _mm512_loadu_ps(panel.add(kk * NR + 16));
            for (i, acc_row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a_ptr.add(i * k + kk));
                acc_row[0] = _mm512_fmadd_ps(x, w0, acc_row[0]);
                acc_row[1] = _mm512_fmadd_ps(x, w1, acc_row[1]);
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: row i of the tile, 32 columns, inside `c` (caller's promise).
        unsafe {
            let out = c_ptr.add(i * n);
            _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), acc_row[0]));
            _mm512_storeu_ps(out.add(16), _mm512_add_ps(_mm512_loadu_ps(out.add(16)), acc_row[1]));
        }
    }
}

/// Rows per AVX-512 tile: 6 rows × 2 zmm = 12 independent accumulators, enough
/// to cover the FMA latency.
#[cfg(target_arch = "x86_64")]
const MR: usize = 6;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn gemm_avx512(m: usize, a: &[f32], b: &PackedB, c: &mut [f32]) {
    let (k, n) = (b.k, b.n);
    for p in 0..n / NR {
        let panel = b.panels[p * k * NR..][..k * NR].as_ptr();
        let mut r = 0;
        // SAFETY: `gemm_acc` checked a.len() ≥ m·k and c.len() ≥ m·n; every tile
        // reads rows r..r+ROWS ≤ m of `a` and writes columns p·32..p·32+32 ≤ n of
        // those rows of `c`; the panel holds k·32 values.
        unsafe {
            while r + MR <= m {
                tile_avx512::<MR>(a.as_ptr().add(r * k), k, panel, c.as_mut_ptr().add(r * n + p * NR), n);
                r += MR;
            }
            while r < m {
                tile_avx512::<1>(a.as_ptr().add(r * k), k, panel, c.as_mut_ptr().add(r * n + p * NR), n);
                r += 1;
            }
        }
    }
}

/// `c[m × n] += a[m × k] · b`, row-major.
pub fn gemm_acc(m: usize, a: &[f32], b: &PackedB, c: &mut [f32]) {
    assert!(a.len() >= m * b.k && c.len() >= m * b.n, "gemm_acc operand sizes");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return unsafe { gemm_avx512(m, a, b, c) };
    }
    gemm_portable(m, a, b, c)
}

/// Whether `gemm_acc` has a vector kernel on this CPU (without one, callers are
/// better served by a general sgemm).
pub fn accelerated() -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_naive_product_for_any_row_count() {
        let (k, n) = (37, 64);
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 7919) % 113) as f32 / 113.0 - 0.5).collect();
        let packed = PackedB::new(&b, k, n);
        for m in [1, 3, 4, 5, 6, 7, 13] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 104_729) % 97) as f32 / 97.0 - 0.5).collect();
            let mut c: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.01).collect();
            let mut want = c.clone();
            for r in 0..m {
                for j in 0..n {
                    want[r * n + j] += (0..k).map(|kk| a[r * k + kk] * b[kk * n + j]).sum::<f32>();
                }
            }
            let mut portable = c.clone();
            gemm_portable(m, &a, &packed, &mut portable);
            gemm_acc(m, &a, &packed, &mut c);
            let worst_portable = portable.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(worst_portable < 1e-4, "portable m={m}: {worst_portable}");
            let worst = c.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-4, "m={m}: {worst}");
        }
    }
}
