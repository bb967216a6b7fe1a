//! Per-frame spectral and time-domain features with librosa's definitions
//! (`spectral_centroid`, `spectral_bandwidth` (p=2), `spectral_rolloff` (0.85),
//! `spectral_flatness`, `zero_crossing_rate`, `rms`). The spectral ones work on the
//! magnitude spectrum `|X|`, as librosa's do by default.

/// Spectral features of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpectralFrame {
    pub centroid_hz: f64,
    pub bandwidth_hz: f64,
    pub rolloff_hz: f64,
    pub flatness: f64,
}

/// Features of the power spectrum `power` (`|X|²`) whose bin `i` is at `i · bin_hz`:
/// centroid, bandwidth and roll-off on the magnitude `|X|`, flatness on the power,
/// as librosa defines them.
pub fn spectral_frame(power: &[f32], bin_hz: f64) -> SpectralFrame {
    // One pass for every sum: eight f32 lanes, totals per block of 64 bins in f64
    // for accuracy (see `lanes`). The bandwidth comes from the moments (Σ m, Σ k·m,
    // Σ k²·m), the roll-off from the blocks' running totals and a walk through the
    // one block where they reach 85 %. The log sum for the flatness is taken as
    // exponents plus the log of a product of mantissas (each in [1, 2), so a lane's
    // nine at most cannot overflow): one `ln` per block instead of one per bin —
    // this loop runs for every bin of every frame.
    const BLOCK: usize = 64;
    const L: usize = 8;
    let (mut total, mut first, mut second, mut log_sum, mut pow_sum) = (0f64, 0f64, 0f64, 0f64, 0f64);
    let mut block_totals = Vec::with_capacity(power.len().div_ceil(BLOCK));
    for (blk, chunk) in power.chunks(BLOCK).enumerate() {
        let base = (blk * BLOCK) as f32;
        let (mut t, mut f, mut s, mut p) = ([0f32; L], [0f32; L], [0f32; L], [0f32; L]);
        let (mut mant, mut exp) = ([1f32; L], [0i32; L]);
        let mut add = |l: usize, k: f32, pw: f32| {
            let m = pw.sqrt();
            t[l] += m;
            f[l] += k * m;
            s[l] += k * k * m;
            let pc = pw.max(1e-10);
            let bits = pc.to_bits();
            exp[l] += ((bits >> 23) & 0xff) as i32 - 127;
            mant[l] *= f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
            p[l] += pc;
        };
        let lanes = chunk.chunks_exact(L);
        let rest = lanes.remainder();
        for (j, v) in lanes.enumerate() {
            for (l, &pw) in v.iter().enumerate() {
                add(l, base + (j * L + l) as f32, pw);
            }
        }
        let done = chunk.len() - rest.len();
        for (l, &pw) in rest.iter().enumerate() {
            add(l, base + (done + l) as f32, pw);
        }
        let block_total = t.iter().map(|&v| f64::from(v)).sum::<f64>();
        block_totals.push(block_total);
        total += block_total;
        first += f.iter().map(|&v| f64::from(v)).sum::<f64>();
        second += s.iter().map(|&v| f64::from(v)).sum::<f64>();
        pow_sum += p.iter().map(|&v| f64::from(v)).sum::<f64>();
        let e: i32 = exp.iter().sum();
        log_sum += f64::from(e) * std::f64::consts::LN_2 + mant.iter().map(|&m| f64::from(m)).product::<f64>().ln();
    }
    if total <= 0.0 {
        return SpectralFrame::default();
    }
    // In bins: the centroid, and the variance Σ m·(k − c)² / Σ m = Σ k²m / Σ m − c².
    let centroid_bins = first / total;
    let var_bins = (second / total - centroid_bins * centroid_bins).max(0.0);
    // The roll-off: the first bin where the running magnitude reaches 85 %.
    let threshold = 0.85 * total;
    let mut acc = 0f64;
    let mut rolloff = 0f64;
    for (blk, &bt) in block_totals.iter().enumerate() {
        if acc + bt < threshold {
            acc += bt;
            continue;
        }
        let start = blk * BLOCK;
        for (i, &pw) in power[start..(start + BLOCK).min(power.len())].iter().enumerate() {
            acc += f64::from(pw.sqrt());
            if acc >= threshold {
                rolloff = (start + i) as f64 * bin_hz;
                break;
            }
        }
        break;
    }
    let n = power.len() as f64;
    SpectralFrame {
        centroid_hz: centroid_bins * bin_hz,
        bandwidth_hz: var_bins.sqrt() * bin_hz,
        rolloff_hz: rolloff,
        flatness: (log_sum / n).exp() / (pow_sum / n),
    }
}

/// Root-mean-square of a frame (librosa `rms` on centered frames).
pub fn rms(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    (super::lanes::sum_sq(frame) / frame.len() as f64).sqrt() as f32
}

/// Fraction of adjacent sample pairs whose sign differs (librosa counts a zero as
/// positive, `zero_pos=True`).
pub fn zero_crossing_rate(frame: &[f32]) -> f32 {
    if frame.len() < 2 {
        return 0.0;
    }
    let crossings = frame.windows(2).filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0)).count();
    crossings as f32 / frame.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_bin_has_its_frequency_as_centroid_and_no_bandwidth() {
        let mut power = vec![0.0f32; 100];
        power[10] = 1.0;
        let f = spectral_frame(&power, 10.0);
        assert!((f.centroid_hz - 100.0).abs() < 1e-9);
        assert!(f.bandwidth_hz.abs() < 1e-9);
        assert_eq!(f.rolloff_hz, 100.0);
        assert!(f.flatness < 1e-6);
    }

    #[test]
    fn flatness_matches_the_direct_formula() {
        let power: Vec<f32> =
            (0..1025).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 + if i % 5 == 0 { 0.0 } else { 1e-7 }).collect();
        let n = power.len() as f64;
        let direct = (power.iter().map(|&p| f64::from(p.max(1e-10)).ln()).sum::<f64>() / n).exp()
            / (power.iter().map(|&p| f64::from(p.max(1e-10))).sum::<f64>() / n);
        let f = spectral_frame(&power, 1.0).flatness;
        assert!((f / direct - 1.0).abs() < 1e-5, "{f} vs {direct}");
    }

    #[test]
    fn white_spectrum_is_flat() {
        let f = spectral_frame(&[1.0; 64], 1.0);
        assert!((f.flatness - 1.0).abs() < 1e-6);
        assert!((f.centroid_hz - 31.5).abs() < 1e-9);
    }

    #[test]
    fn rms_and_zcr() {
        assert!((rms(&[1.0, -1.0, 1.0, -1.0]) - 1.0).abs() < 1e-6);
        assert_eq!(zero_crossing_rate(&[1.0, -1.0, 1.0, -1.0]), 0.75);
        assert_eq!(zero_crossing_rate(&[0.0, 0.0, 0.0]), 0.0);
    }
}
