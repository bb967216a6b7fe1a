//! Sums, dot products and maxima over slices, in independent lanes.
//!
//! `iter().sum()` over floats is one chain of dependent additions (Rust keeps the
//! order, so it cannot vectorise it): one element per adder latency, about four
//! cycles. These run eight partial results side by side, which the compiler turns
//! into vector instructions; the results differ from the in-order ones only by
//! rounding. The per-frame loops of the analysis (mel filters, the DCT, RMS, the
//! spectral sums, levels) spend most of their time in such reductions.
//! Hand-written: a dozen lines, not worth a SIMD crate.

const LANES: usize = 8;

/// `Σ a[i]·b[i]` over the shorter of the two.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (a[..n].chunks_exact(LANES), b[..n].chunks_exact(LANES));
    let tail: f32 = a.remainder().iter().zip(b.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0f32; LANES];
    for (x, y) in a.zip(b) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ a[i]·b[i]` in `f64` over the shorter of the two.
#[inline]
pub fn dot_f64_f32(a: &[f64], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (a[..n].chunks_exact(LANES), b[..n].chunks_exact(LANES));
    let tail: f64 = a.remainder().iter().zip(b.remainder()).map(|(x, &y)| x * f64::from(y)).sum();
    let mut acc = [0f64; LANES];
    for (x, y) in a.zip(b) {
        for l in 0..LANES {
            acc[l] += x[l] * f64::from(y[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `Σ x[i]²` in `f64`.
#[inline]
pub fn sum_sq(x: &[f32]) -> f64 {
    let c = x.chunks_exact(LANES);
    let tail: f64 = c.remainder().iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let mut acc = [0f64; LANES];
    for v in c {
        for l in 0..LANES {
            acc[l] += f64::from(v[l]) * f64::from(v[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `max |x[i]|`, 0 for an empty slice (NaN is ignored).
#[inline]
pub fn max_abs(x: &[f32]) -> f32 {
    let c = x.chunks_exact(LANES);
    let mut m = c.remainder().iter().fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m });
    let mut acc = [0f32; LANES];
    for v in c {
        for l in 0..LANES {
            let a = v[l].abs();
            acc[l] = if a > acc[l] { a } else { acc[l] };
        }
    }
    for a in acc {
        m = if a > m { a } else { m };
    }
    m
}

/// `max (a[i] + b[i])` over the shorter of the two; −∞ when empty. Each sum is
/// rounded exactly as `a[i] + b[i]` alone, so the maximum equals one of them bit
/// for bit (callers find its first position by comparing again). NaN is ignored.
#[inline]
pub fn max_sum_f64(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (a[..n].chunks_exact(LANES), b[..n].chunks_exact(LANES));
    let mut m = a.remainder().iter().zip(b.remainder()).fold(f64::NEG_INFINITY, |m, (x, y)| {
        let s = x + y;
        if s > m { s } else { m }
    });
    let mut acc = [f64::NEG_INFINITY; LANES];
    for (x, y) in a.zip(b) {
        for l in 0..LANES {
            let s = x[l] + y[l];
            acc[l] = if s > acc[l] { s } else { acc[l] };
        }
    }
    for a in acc {
        m = if a > m { a } else { m };
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 % 1013) as f32 - 500.0) / 97.0).collect()
    }

    #[test]
    fn agree_with_the_in_order_results_at_every_length() {
        for n in [0, 1, 7, 8, 9, 63, 64, 65, 1025] {
            let (a, b) = (data(n), data(n + 3)[3..].to_vec());
            let dot: f64 = a.iter().zip(&b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
            let scale = a.iter().zip(&b).map(|(&x, &y)| f64::from((x * y).abs())).sum::<f64>().max(1.0);
            assert!((f64::from(dot_f32(&a, &b)) - dot).abs() <= 1e-6 * scale, "dot_f32 at {n}");
            let a64: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
            assert!((dot_f64_f32(&a64, &b) - dot).abs() <= 1e-12 * scale, "dot_f64_f32 at {n}");
            let sq: f64 = a.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            assert!((sum_sq(&a) - sq).abs() <= 1e-12 * sq.max(1.0), "sum_sq at {n}");
            let max = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_eq!(max_abs(&a), max, "max_abs at {n}");
            let b64: Vec<f64> = b.iter().map(|&x| f64::from(x)).collect();
            let max_sum = a64.iter().zip(&b64).map(|(x, y)| x + y).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(max_sum_f64(&a64, &b64).to_bits(), max_sum.to_bits(), "max_sum_f64 at {n}");
        }
    }

    #[test]
    fn unequal_lengths_use_the_shorter_and_nan_is_skipped() {
        assert_eq!(dot_f32(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
        assert_eq!(dot_f64_f32(&[2.0; 20], &[1.0; 9]), 18.0);
        let mut x = vec![0.5f32; 20];
        x[3] = f32::NAN;
        x[17] = -2.0;
        assert_eq!(max_abs(&x), 2.0);
        assert_eq!(max_abs(&[]), 0.0);
        assert_eq!(max_sum_f64(&[1.0, 5.0, 2.0], &[1.0, 1.0]), 6.0);
        assert_eq!(max_sum_f64(&[], &[1.0]), f64::NEG_INFINITY);
        assert_eq!(max_sum_f64(&[f64::NEG_INFINITY; 11], &[0.0; 11]), f64::NEG_INFINITY);
    }
}
