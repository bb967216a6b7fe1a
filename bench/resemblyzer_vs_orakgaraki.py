"""resemblyzer (PyTorch, CPU) against `orakgaraki embed` on the same recording, same thread count.

Usage: python bench/resemblyzer_vs_orakgaraki.py BINARY AUDIO THREADS [RUNS]

Both sides do the whole recipe each run: load the file, resample to 16 kHz if needed,
normalise volume, trim silences with WebRTC VAD, 40-band mels, 160-frame partials, the
3-layer LSTM over every partial, average. resemblyzer's model loads once, before timing;
ours loads once per process, also outside the timed runs (`--repeat`). Prints JSON with
the median seconds per run of each and their ratio, and the cosine between the two vectors.
"""
import json, os, statistics, subprocess, sys, time

binary, audio, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 7

import numpy as np
import torch
torch.set_num_threads(threads)
from resemblyzer import VoiceEncoder, preprocess_wav

enc = VoiceEncoder("cpu", verbose=False)
enc.embed_utterance(preprocess_wav(audio))  # warm-up
torch_s = []
for _ in range(runs):
    t = time.perf_counter()
    ref = enc.embed_utterance(preprocess_wav(audio))
    torch_s.append(time.perf_counter() - t)

env = dict(os.environ, RAYON_NUM_THREADS=str(threads), MATMUL_NUM_THREADS=str(threads))
out = subprocess.run([binary, "embed", "--repeat", str(runs + 1), audio], check=True, capture_output=True, text=True, env=env)
ours_s = json.loads(out.stdout)["seconds"][1:]  # the first run warms caches, as above
# The same with one partial per forward pass: what batching partials is worth.
env1 = dict(env, ORAK_MODEL__MAX_BATCH="1")
out1 = subprocess.run([binary, "embed", "--repeat", "3", audio], check=True, capture_output=True, text=True, env=env1)
batch1_s = json.loads(out1.stdout)["seconds"][1:]
vec = json.loads(subprocess.run([binary, "embed", audio], check=True, capture_output=True, text=True, env=env).stdout)["vector"]
vec = np.array(vec, dtype=np.float64)
cos = float(vec @ ref / (np.linalg.norm(vec) * np.linalg.norm(ref)))

result = {
    "audio": audio,
    "threads": threads,
    "runs": runs,
    "torch": torch.__version__,
    "resemblyzer_s_median": statistics.median(torch_s),
    "orakgaraki_s_median": statistics.median(ours_s),
    "speedup": statistics.median(torch_s) / statistics.median(ours_s),
    "orakgaraki_unbatched_s_median": statistics.median(batch1_s),
    "cosine": cos,
}
print(json.dumps(result, indent=1))
