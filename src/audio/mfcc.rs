//! Decibels and MFCCs as librosa computes them: `power_to_db(S, ref=1.0,
//! amin=1e-10, top_db=80)` then a DCT-II with orthonormal scaling
//! (`scipy.fftpack.dct(type=2, norm="ortho")`) over the mel axis.

/// librosa's `amin`.
pub const AMIN: f32 = 1e-10;
/// librosa's `top_db`.
pub const TOP_DB: f32 = 80.0;

/// `10·log10(max(amin, p))` (ref = 1.0), before the `top_db` floor.
#[inline]
pub fn power_to_db(p: f32) -> f32 {
    10.0 * p.max(AMIN).log10()
}

/// The `top_db` floor applied after [`power_to_db`]: librosa clips every value to
/// `max_db − top_db`, where `max_db` is the largest value of the whole spectrogram.
#[inline]
pub fn floor_db(db: f32, max_db: f32) -> f32 {
    db.max(max_db - TOP_DB)
}

/// An orthonormal DCT-II restricted to its first `n_out` coefficients.
#[derive(Debug, Clone)]
pub struct Dct {
    n_in: usize,
    /// Row-major `n_out × n_in`.
    matrix: Vec<f64>,
}

impl Dct {
    pub fn new(n_in: usize, n_out: usize) -> Self {
        let n = n_in as f64;
        let mut matrix = Vec::with_capacity(n_in * n_out);
        for k in 0..n_out {
            let scale = if k == 0 { (1.0 / n).sqrt() } else { (2.0 / n).sqrt() };
            for i in 0..n_in {
                matrix.push(scale * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n)).cos());
            }
        }
        Dct { n_in, matrix }
    }

    pub fn n_out(&self) -> usize {
        self.matrix.len() / self.n_in.max(1)
    }

    /// Coefficients of `x` (length `n_in`) into `out` (length `n_out`).
    pub fn apply(&self, x: &[f32], out: &mut [f64]) {
        for (row, o) in self.matrix.chunks_exact(self.n_in).zip(out.iter_mut()) {
            *o = super::lanes::dot_f64_f32(row, x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_and_floor() {
        assert_eq!(power_to_db(1.0), 0.0);
        assert_eq!(power_to_db(100.0), 20.0);
        assert_eq!(power_to_db(0.0), -100.0);
        assert_eq!(floor_db(-100.0, 0.0), -80.0);
        assert_eq!(floor_db(-10.0, 0.0), -10.0);
    }

    #[test]
    fn dct_is_orthonormal() {
        let d = Dct::new(16, 16);
        // A constant input has only a DC coefficient, equal to sqrt(n)·value.
        let mut out = vec![0.0; 16];
        d.apply(&[1.0; 16], &mut out);
        assert!((out[0] - 4.0).abs() < 1e-12);
        assert!(out[1..].iter().all(|v| v.abs() < 1e-12));
        // Rows are orthonormal.
        for a in 0..16 {
            for b in 0..16 {
                let dot: f64 = (0..16).map(|i| d.matrix[a * 16 + i] * d.matrix[b * 16 + i]).sum();
                assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}
