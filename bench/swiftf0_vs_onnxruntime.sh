#!/usr/bin/env bash
# Side by side on one core: SwiftF0 on onnxruntime (one thread) vs `orakgaraki pitch`.
#   bash bench/swiftf0_vs_onnxruntime.sh [AUDIO_16K]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
audio="${1:-../shared/reference/audio/speech_60s_16k.wav}"
venv="$HOME/.cache/singing-venv"
if ! "$venv/bin/python" -c "import swift_f0, soundfile, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/singing/requirements.txt
fi
cargo build --release --locked --bin orakgaraki
taskset -c 0 "$venv/bin/python" bench/swiftf0_vs_onnxruntime.py "$CARGO_TARGET_DIR/release/orakgaraki" "$audio" 5
