#!/usr/bin/env bash
# Side by side: resemblyzer on PyTorch (CPU) vs `orakgaraki embed` (burn, ndarray
# backend) on the 60 s reference speech, with 1 and with 2 threads each.
#   bash bench/embedding_vs_pytorch.sh [AUDIO]
# Installs torch + resemblyzer into a venv under ~/.cache the first time (several GB:
# PyPI's torch wheel pulls the CUDA libraries even for CPU use).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
audio="${1:-../shared/reference/audio/speech_60s_16k.wav}"
venv="$HOME/.cache/orak-bench-venv"
if ! "$venv/bin/python" -c "import torch, resemblyzer, pkg_resources" 2>/dev/null; then
  python3 -m venv "$venv"
  # webrtcvad imports pkg_resources, which setuptools 81 removed.
  "$venv/bin/pip" install -q torch resemblyzer "setuptools<81"
fi
cargo build --release --locked --bin orakgaraki
for t in 1 2; do
  taskset -c 0-$((t - 1)) "$venv/bin/python" bench/resemblyzer_vs_orakgaraki.py \
    "$CARGO_TARGET_DIR/release/orakgaraki" "$audio" "$t"
done
