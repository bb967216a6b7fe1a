"""Converts SwiftF0's ONNX model (the `swift-f0` wheel on PyPI, MIT) into the
safetensors file the Rust port loads, and writes the parity fixtures.

    python3 scripts/convert_swiftf0.py            # needs: pip install swift-f0==0.3.0 onnx numpy soundfile

Writes models/swiftf0/swiftf0.safetensors (tensors only, values unchanged) and, for
tests/swiftf0_parity.rs, tests/fixtures/swiftf0_<clip>.{pitch,confidence}.f32: what
onnxruntime (the package's own `SwiftF0.detect`, one thread) returns for each clip.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# ONNX initializer → our name. The trunk's convolutions in graph order, then the heads.
TRUNK = ["v353", "v357", "v361", "v366", "v370", "v375", "v379", "v384", "v388", "v393", "v397", "v402", "v406"]
NAMES = {f"conv.{i}": (w, f"v{int(w[1:]) + 1}") for i, w in enumerate(TRUNK)}
NAMES.update(
    {
        "head.conv": ("v413", "v414"),
        "head.peak": ("v417", "v418"),
        "head.logits": ("v425", "v426"),
        "voice.conv1": ("v430", "v431"),
        "voice.conv2": ("v434", "v435"),
    }
)
# Per STFT size: window, then the sparse band projection (flat indices into bins × 128, values).
STFT = {1024: ("v41", "v123", "v124"), 2048: ("v161", "v241", "v242"), 512: ("v262", "v342", "v343")}


def model_path() -> str:
    import swift_f0

    return os.path.join(os.path.dirname(swift_f0.__file__), "model.onnx")


def write_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    dtypes = {np.dtype("float32"): "F32"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def convert() -> None:
    src = model_path()
    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(src).graph.initializer}
    out = {}
    for name, (w, b) in NAMES.items():
        out[f"{name}.weight"] = init[w].astype(np.float32)
        out[f"{name}.bias"] = init[b].astype(np.float32)
    for n, (win, idx, val) in STFT.items():
        out[f"stft{n}.window"] = init[win].astype(np.float32)
        # Flat indices into bins × 128, exact in float32 (all below 2^24): the
        # loader reads float32 tensors only.
        assert init[idx].max() < 2**24
        out[f"stft{n}.index"] = init[idx].astype(np.float32)
        out[f"stft{n}.value"] = init[val].astype(np.float32)
    out["pitch.centres"] = init["v438"].astype(np.float32)
    out["pitch.log_centres"] = init["v455"].astype(np.float32)
    dst = os.path.join(ROOT, "models/swiftf0/swiftf0.safetensors")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    write_safetensors(dst, out)
    for p in (src, dst):
        print(hashlib.sha256(open(p, "rb").read()).hexdigest(), os.path.getsize(p), p)


def fixtures() -> None:
    import soundfile as sf
    from swift_f0 import SwiftF0

    detector = SwiftF0(threads=1)
    fx = os.path.join(ROOT, "tests/fixtures")
    for clip in ["swiftf0_sung_k10.flac", "swiftf0_speech.flac"]:
        audio, sr = sf.read(os.path.join(fx, clip), dtype="float32")
        r = detector.detect(audio, sr)
        stem = os.path.join(fx, clip.rsplit(".", 1)[0])
        r.pitch_hz.astype("<f4").tofile(stem + ".pitch.f32")
        r.confidence.astype("<f4").tofile(stem + ".confidence.f32")
        print(clip, len(r.pitch_hz), "frames")


if __name__ == "__main__":
    convert()
    if "--no-fixtures" not in sys.argv:
        fixtures()
