"""Two builds of `orakgaraki` side by side on one core: each round runs
`analyze --repeat 6` with one binary, then the other, and keeps the last five
in-process CPU times of each (the first is the warm-up). Prints both medians and
their ratio. Used to time one optimisation step (build the old commit, copy its
binary aside, build the new one):

    python3 bench/analysis_ab.py OLD_BINARY NEW_BINARY [ROUNDS] [AUDIO] [PITCHES]

PITCHES (default `auto`) is a comma list of `--pitch` values; each binary runs
with each in every round (`auto,pyin` shows the melody's share).
"""
import json
import statistics
import subprocess
import sys

old, new = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
audio = sys.argv[4] if len(sys.argv) > 4 else "../shared/reference/audio/speech_60s_44k.wav"
pitches = (sys.argv[5] if len(sys.argv) > 5 else "auto").split(",")
cpu = {(b, p): [] for p in pitches for b in (old, new)}
for _ in range(rounds):
    for binary, pitch in cpu:
        run = subprocess.run(["taskset", "-c", "0", binary, "analyze", "--repeat", "6", "--pitch", pitch, audio],
                             check=True, capture_output=True, text=True)
        cpu[(binary, pitch)] += json.loads(run.stdout)["cpu_seconds"][1:]
for (binary, pitch), times in cpu.items():
    print(f"{binary} --pitch {pitch}: median {statistics.median(times):.4f} s, min {min(times):.4f} s, {len(times)} runs")
for pitch in pitches:
    print(f"--pitch {pitch}: old / new: {statistics.median(cpu[(old, pitch)]) / statistics.median(cpu[(new, pitch)]):.3f}")
