"""SwiftF0 on onnxruntime (the `swift-f0` wheel, one thread) vs `orakgaraki pitch`
(the Rust port), interleaved on the same file, CPU seconds per run.

    python bench/swiftf0_vs_onnxruntime.py BIN AUDIO_16K.wav [ROUNDS]
"""

import json
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
from swift_f0 import SwiftF0

bin_path, audio = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
x, sr = sf.read(audio, dtype="float32")
assert sr == 16000, "a 16 kHz file (the model's rate: no resampling on either side)"
detector = SwiftF0(threads=1)
detector.detect(x[:sr], sr)  # warm-up
ort, ours = [], []
for _ in range(rounds):
    t = time.process_time()
    ref = detector.detect(x, sr)
    ort.append(time.process_time() - t)
    out = subprocess.run([bin_path, "pitch", "--repeat", "3", audio], capture_output=True, text=True, check=True)
    ours.extend(json.loads(out.stdout)["cpu_seconds"][1:])  # the first run warms the caches
o, r = float(np.median(ort)), float(np.median(ours))
print(f"| {len(x) / sr:.0f} s at 16 kHz, {rounds} rounds | {o:.3f} | {r:.3f} | {o / r:.2f}× |")
print(json.dumps({"onnxruntime_cpu_s": ort, "ours_cpu_s": ours}))
