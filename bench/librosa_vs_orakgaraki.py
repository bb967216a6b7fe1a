"""The whole feature pipeline on one recording, librosa against `orakgaraki analyze`,
in the same session, single-threaded, CPU seconds (the machine is shared).

librosa's side does what the original service did: load + resample to 22 050 Hz,
mel spectrogram, 20 MFCCs, pYIN (C2..C6), beat tracking, RMS. Ours does all that
plus loudness, spectral statistics and the vocal-range summary.

Usage: python3 bench/librosa_vs_orakgaraki.py BINARY AUDIO [N_LIBROSA] [N_OURS]
"""
import json, os, resource, statistics, subprocess, sys, time

binary, audio = sys.argv[1], sys.argv[2]
n_lib = int(sys.argv[3]) if len(sys.argv) > 3 else 3
n_ours = int(sys.argv[4]) if len(sys.argv) > 4 else 10

import numpy as np
import librosa

C2, C6 = librosa.note_to_hz("C2"), librosa.note_to_hz("C6")

def librosa_pipeline():
    y, sr = librosa.load(audio, sr=22050, mono=True)
    mel = librosa.feature.melspectrogram(y=y, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    f0, _, _ = librosa.pyin(y, fmin=C2, fmax=C6, sr=sr)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr)
    rms = librosa.feature.rms(y=y)
    return float(np.atleast_1d(tempo)[0]), float(np.nanmedian(f0)), mfcc.mean(axis=1)

# Warm up numba's JIT (pyin, beat tracking) on 3 s of noise, outside the timing.
y0 = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32) * 0.1
librosa.pyin(y0, fmin=C2, fmax=C6, sr=22050); librosa.beat.beat_track(y=y0, sr=22050)

# Interleaved: each librosa run is followed by its share of ours, so that both
# see the same machine (these shared machines change speed from minute to minute).
lib_cpu, lib_wall, ours_cpu, ours_wall = [], [], [], []
per_round = -(-n_ours // n_lib)
for _ in range(n_lib):
    c, t = time.process_time(), time.perf_counter()
    lib_tempo, lib_f0, lib_mfcc = librosa_pipeline()
    lib_cpu.append(time.process_time() - c); lib_wall.append(time.perf_counter() - t)
    for _ in range(per_round):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([binary, "analyze", "--no-embedding", audio, "--json"], check=True, capture_output=True, text=True).stdout
        ours_wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours_cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
a = json.loads(out)

med = statistics.median
result = {
    "audio": os.path.basename(audio),
    "librosa": {"version": librosa.__version__, "runs": n_lib, "cpu_s_median": med(lib_cpu), "wall_s_median": med(lib_wall)},
    "orakgaraki": {"runs": n_ours, "cpu_s_median": med(ours_cpu), "wall_s_median": med(ours_wall)},
    "speedup_cpu": med(lib_cpu) / med(ours_cpu),
    "speedup_wall": med(lib_wall) / med(ours_wall),
    "agreement": {
        "tempo_bpm": [lib_tempo, a["tempo_bpm"]],
        "median_f0_hz": [lib_f0, a["pitch"]["median_hz"]],
        "mfcc_mean_max_abs_diff": float(np.max(np.abs(lib_mfcc - np.array(a["mfcc"]["mean"])))),
    },
}
print(json.dumps(result, indent=1))
