#!/usr/bin/env bash
# The singing evaluation, end to end: sung clips with exact pitch truth in five
# conditions, every method side by side, the table written into BENCHMARKS.md and
# the raw results into bench/singing/results-<split>.json.
#   bash bench/singing/run.sh [dev|heldout] [CLIPS]
# Needs ffmpeg (Opus) and Python 3; installs the rest into a venv under ~/.cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
split="${1:-dev}"
clips="${2:-48}"
venv="$HOME/.cache/singing-venv"
if ! "$venv/bin/python" -c "import pyworld, music21, librosa, swift_f0, mir_eval" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/singing/requirements.txt
fi
command -v ffmpeg >/dev/null || apt-get install -y -q ffmpeg
cargo build --release --locked --bin orakgaraki
data="$HOME/.cache/orakgaraki-singing/$split-$clips"
if [ ! -f "$data/clips.json" ]; then
  ORAK_SHARED="$PWD/../shared" "$venv/bin/python" bench/singing/make_clips.py "$data" --split "$split" --clips "$clips"
fi
bench_md=()
[ "$split" = dev ] && bench_md=(--benchmarks BENCHMARKS.md)
OMP_NUM_THREADS=1 "$venv/bin/python" bench/singing/evaluate.py "$data" \
  --bin "$CARGO_TARGET_DIR/release/orakgaraki" --out "bench/singing/results-$split.json" "${bench_md[@]}"
