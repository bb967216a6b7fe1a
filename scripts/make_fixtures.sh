#!/usr/bin/env bash
# Regenerates tests/fixtures/: a 2-second harmonic tone at A3 (220 Hz, gentle
# vibrato) in every compressed format the decoder must read, encoded by ffmpeg the
# way browsers and phones produce them. Needs python3 and ffmpeg (Debian's
# packages); CI does not run this — the outputs are committed.
set -euo pipefail
cd "$(dirname "$0")/../tests/fixtures"
python3 - <<'PY'
import math, struct, wave
rate, secs = 48000, 2.0
w = wave.open("tone_a3_48k_stereo.wav", "wb"); w.setnchannels(2); w.setsampwidth(2); w.setframerate(rate)
frames = []
phase = 0.0
for i in range(int(rate * secs)):
    t = i / rate
    f = 220.0 * (1 + 0.003 * math.sin(2 * math.pi * 5 * t))
    phase += 2 * math.pi * f / rate
    v = sum(0.5 / k * math.sin(k * phase) for k in range(1, 6)) * 0.6
    env = min(1.0, t / 0.05, (secs - t) / 0.05)
    s = int(max(-1, min(1, v * env)) * 32767)
    frames.append(struct.pack("<hh", s, s))
w.writeframes(b"".join(frames)); w.close()
PY
src=tone_a3_48k_stereo.wav
ff() { ffmpeg -hide_banner -loglevel error -y -i "$src" "$@"; }
ff -c:a libopus -b:a 64k tone.webm          # what MediaRecorder records in Chrome/Firefox
ff -ac 1 -c:a libopus -b:a 48k -f webm -live 1 -cluster_time_limit 100 tone_live.webm  # streamed: unknown sizes, like MediaRecorder chunks
ff -c:a libopus -b:a 64k tone.opus          # Ogg/Opus
ff -c:a libvorbis -q:a 4 tone.ogg
ff -c:a libmp3lame -b:a 128k tone.mp3
ff -ac 1 -ar 22050 -c:a flac tone.flac
ff -c:a aac -b:a 128k tone.m4a
rm -f "$src"
ls -l
