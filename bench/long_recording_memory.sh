#!/usr/bin/env bash
# Peak memory of `orakgaraki analyze` on a one-hour recording, against the size of
# its decoded PCM. Makes a 60-minute 16 kHz mono WAV (a sung scale with noise),
# analyses it, and prints the peak RSS from /usr/bin/time.
#
#   bash bench/long_recording_memory.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
minutes="${1:-60}"
wav="$(mktemp --suffix=.wav)"
trap 'rm -f "$wav"' EXIT
python3 - "$wav" "$minutes" <<'PY'
import math, struct, sys, wave, random
path, minutes = sys.argv[1], int(sys.argv[2])
sr = 16000
w = wave.open(path, "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
rnd = random.Random(1)
for m in range(minutes):
    f = 110 * 2 ** ((m % 24) / 12)
    frames = bytearray()
    ph = 0.0
    for i in range(sr * 60):
        ph += 2 * math.pi * f * (1 + 0.002 * math.sin(2 * math.pi * 5 * i / sr)) / sr
        frames += struct.pack("<h", int((0.3 * math.sin(ph) + 0.01 * rnd.gauss(0, 1)) * 32767))
    w.writeframes(bytes(frames))
w.close()
PY
cargo build --release --locked -q
/usr/bin/time -f "%M" -o /tmp/orak_rss.txt "$CARGO_TARGET_DIR/release/orakgaraki" analyze --no-embedding "$wav" > /tmp/orak_analyze.txt
rss_kb=$(cat /tmp/orak_rss.txt)
secs=$((minutes * 60))
python3 - "$rss_kb" "$secs" <<'PY'
import sys
rss_mb = int(sys.argv[1]) / 1024
secs = int(sys.argv[2])
pcm_src = secs * 16000 * 4 / 2**20
pcm_22k = secs * 22050 * 4 / 2**20
print(f"recording {secs} s; peak RSS {rss_mb:.0f} MiB; decoded PCM as f32: {pcm_src:.0f} MiB at 16 kHz, {pcm_22k:.0f} MiB at 22.05 kHz")
PY
grep "analysed in" /tmp/orak_analyze.txt
