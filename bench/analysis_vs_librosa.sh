#!/usr/bin/env bash
# Side-by-side: librosa vs `orakgaraki analyze` on the 60 s reference speech, one
# session, one core each (BLAS/numba/OpenMP pinned to one thread). Installs librosa
# (and pyloudnorm, for the loudness) with pip if needed. Prints JSON with CPU and wall medians and their ratio.
#
#   bash bench/analysis_vs_librosa.sh [AUDIO] [N_LIBROSA] [N_OURS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
audio="${1:-../shared/reference/audio/speech_60s_44k.wav}"
python3 -c "import librosa, pyloudnorm" 2>/dev/null || pip install -q "librosa==0.11.0" "pyloudnorm==0.2.0"
cargo build --release --locked -q
# Single-threaded on both sides; unset the OpenBLAS core overrides that slow numpy here.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
    taskset -c 0 python3 bench/librosa_vs_orakgaraki.py "$CARGO_TARGET_DIR/release/orakgaraki" "$audio" "${2:-3}" "${3:-10}"
