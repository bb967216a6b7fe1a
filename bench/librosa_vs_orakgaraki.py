"""The whole feature pipeline on one recording, librosa against `orakgaraki analyze`,
in the same session, single-threaded, CPU seconds (the machine is shared).

Both sides compute the same set of outputs as `orakgaraki analyze --json`:
integrated loudness (pyloudnorm, BS.1770, on the file's own rate and channels),
peak and RMS level, load + resample to 22 050 Hz (soxr_hq), one STFT whose
magnitude and power feed the mel spectrogram, 20 MFCCs (mean, std), spectral
centroid / bandwidth / roll-off / flatness, chroma (with librosa's tuning
estimate), zero-crossing rate and RMS per frame; pYIN (C2..C6); onset strength
and beat tracking from the same mel dB spectrogram. The librosa side is written
the efficient way (each spectrogram computed once and passed as `S=`), so the
ratio is against good librosa code, not against repeated STFTs.

Ours is timed two ways in each round: the whole `orakgaraki analyze --json` process
(start-up, dynamic linking and a cold heap included), and in one process with
`analyze --repeat`, its first run dropped as a warm-up — the same conditions as the
librosa side, which is timed inside a warmed-up interpreter. The headline ratio
is the like-for-like one; both are printed.

Usage: python3 bench/librosa_vs_orakgaraki.py BINARY AUDIO [N_LIBROSA] [N_OURS]
"""
import json, os, resource, statistics, subprocess, sys, time

binary, audio = sys.argv[1], sys.argv[2]
n_lib = int(sys.argv[3]) if len(sys.argv) > 3 else 3
n_ours = int(sys.argv[4]) if len(sys.argv) > 4 else 10

import numpy as np
import librosa
import pyloudnorm
import soundfile as sf

C2, C6 = librosa.note_to_hz("C2"), librosa.note_to_hz("C6")


def librosa_pipeline():
    raw, rate = sf.read(audio, always_2d=True)
    lufs = pyloudnorm.Meter(rate).integrated_loudness(raw)
    peak, rms_level = float(np.max(np.abs(raw))), float(np.sqrt(np.mean(raw**2)))
    y, sr = librosa.load(audio, sr=22050, mono=True)
    mag = np.abs(librosa.stft(y))
    power = mag**2
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=20)
    spectral = {
        "centroid_hz": librosa.feature.spectral_centroid(S=mag, sr=sr),
        "bandwidth_hz": librosa.feature.spectral_bandwidth(S=mag, sr=sr),
        "rolloff_hz": librosa.feature.spectral_rolloff(S=mag, sr=sr),
        "flatness": librosa.feature.spectral_flatness(S=mag),
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(y),
        "rms": librosa.feature.rms(y=y),
    }
    chroma = librosa.feature.chroma_stft(S=power, sr=sr)
    f0, _, _ = librosa.pyin(y, fmin=C2, fmax=C6, sr=sr)
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr)
    return {
        "loudness_lufs": lufs,
        "peak": peak,
        "rms": rms_level,
        "tempo_bpm": float(np.atleast_1d(tempo)[0]),
        "median_f0_hz": float(np.nanmedian(f0)),
        "mfcc_mean": mfcc.mean(axis=1),
        "spectral_mean": {k: float(v.mean()) for k, v in spectral.items()},
        "chroma_mean": chroma.mean(axis=1),
    }


# Warm up numba's JIT (pyin, beat tracking) on 3 s of noise, outside the timing.
y0 = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32) * 0.1
librosa.pyin(y0, fmin=C2, fmax=C6, sr=22050); librosa.beat.beat_track(y=y0, sr=22050)

# Interleaved: each librosa run is followed by its share of ours, so that both
# see the same machine (these shared machines change speed from minute to minute).
lib_cpu, lib_wall, ours_cpu, ours_wall, warm_cpu, warm_wall = [], [], [], [], [], []
per_round = -(-n_ours // n_lib)
for _ in range(n_lib):
    c, t = time.process_time(), time.perf_counter()
    lib = librosa_pipeline()
    lib_cpu.append(time.process_time() - c); lib_wall.append(time.perf_counter() - t)
    for _ in range(per_round):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([binary, "analyze", "--no-embedding", audio, "--json"], check=True, capture_output=True, text=True).stdout
        ours_wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours_cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    warm = json.loads(subprocess.run([binary, "analyze", "--repeat", str(per_round + 1), audio], check=True, capture_output=True, text=True).stdout)
    warm_wall += warm["seconds"][1:]
    warm_cpu += warm["cpu_seconds"][1:]
a = json.loads(out)

med = statistics.median
result = {
    "audio": os.path.basename(audio),
    "librosa": {"version": librosa.__version__, "runs": n_lib, "cpu_s_median": med(lib_cpu), "wall_s_median": med(lib_wall)},
    "orakgaraki": {"runs": len(warm_cpu), "cpu_s_median": med(warm_cpu), "wall_s_median": med(warm_wall)},
    "speedup_cpu": med(lib_cpu) / med(warm_cpu),
    "speedup_wall": med(lib_wall) / med(warm_wall),
    "orakgaraki_whole_process": {"runs": n_ours, "cpu_s_median": med(ours_cpu), "wall_s_median": med(ours_wall)},
    "speedup_cpu_whole_process": med(lib_cpu) / med(ours_cpu),
    # [librosa's side, ours] for each output both compute.
    "agreement": {
        "loudness_lufs": [lib["loudness_lufs"], a["loudness_lufs"]],
        "peak": [lib["peak"], a["peak"]],
        "rms": [lib["rms"], a["rms"]],
        "tempo_bpm": [lib["tempo_bpm"], a["tempo_bpm"]],
        "median_f0_hz": [lib["median_f0_hz"], a["pitch"]["median_hz"]],
        "mfcc_mean_max_abs_diff": float(np.max(np.abs(lib["mfcc_mean"] - np.array(a["mfcc"]["mean"])))),
        "chroma_mean_max_abs_diff": float(np.max(np.abs(lib["chroma_mean"] - np.array(a["chroma"]["mean"])))),
        "spectral_mean": {k: [v, a["spectral"][k]["mean"]] for k, v in lib["spectral_mean"].items()},
    },
}
print(json.dumps(result, indent=1))
