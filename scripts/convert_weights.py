#!/usr/bin/env python3
"""Convert resemblyzer's GE2E speaker-encoder weights into the file orakgaraki ships.

    python3 scripts/convert_weights.py            # writes models/ge2e/resemblyzer_ge2e.safetensors

Downloads the resemblyzer 0.1.4 wheel from PyPI with pip (`--no-deps`: no PyTorch needed), reads
`resemblyzer/pretrained.pt` (PyTorch's legacy serialisation: a chain of pickles followed by the raw
storages) with a small unpickler that only rebuilds float tensors, and writes the model state
(`lstm.*`, `linear.*`; the training-only similarity scalars and the optimiser state are dropped) as
safetensors, which `src/model/weights.rs` loads. Prints the SHA-256 of the source and of the
output; models/ge2e/PROVENANCE.md records them.
"""
import collections
import hashlib
import io
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "resemblyzer==0.1.4"
OUT = Path(__file__).resolve().parent.parent / "models" / "ge2e" / "resemblyzer_ge2e.safetensors"


def ensure(pkgs):
    missing = []
    for mod, spec in pkgs:
        try:
            __import__(mod)
        except ImportError:
            missing.append(spec)
    if missing:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *missing])


def load_legacy_pt(raw: bytes):
    """Parse torch's pre-1.6 (non-zip) checkpoint format without importing torch."""
    import numpy as np

    f = io.BytesIO(raw)
    magic = pickle.load(f)
    if magic != 0x1950A86A20F9469CFC6C:
        raise SystemExit("not a legacy PyTorch checkpoint (magic %r)" % (magic,))
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info
    storages = {}
    tensors = []

    def rebuild_tensor_v2(storage_key, offset, size, stride, *rest):
        holder = {"key": storage_key, "offset": offset, "size": tuple(size), "stride": tuple(stride)}
        tensors.append(holder)
        return holder

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return rebuild_tensor_v2
            if module == "torch" and name.endswith("Storage"):
                return name
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            return lambda *a, **k: None  # anything else (optimiser internals) is not needed

        def persistent_load(self, pid):
            kind, storage_type, key, _location, numel, _view = pid
            assert kind == "storage"
            storages[key] = (storage_type, numel)
            return key

    obj = Unpickler(f).load()
    keys = pickle.load(f)
    data = {}
    for key in keys:
        storage_type, numel = storages[key]
        (n,) = struct.unpack("<q", f.read(8))
        width = {"FloatStorage": 4, "LongStorage": 8, "IntStorage": 4, "DoubleStorage": 8}.get(storage_type, 4)
        buf = f.read(n * width)
        data[key] = (storage_type, buf)
    for t in tensors:
        storage_type, buf = data[t["key"]]
        if storage_type != "FloatStorage":
            t["array"] = None
            continue
        flat = np.frombuffer(buf, dtype="<f4")
        t["array"] = np.lib.stride_tricks.as_strided(
            flat[t["offset"]:], shape=t["size"], strides=[s * 4 for s in t["stride"]]
        ).copy()
    return obj


def main():
    ensure([("numpy", "numpy"), ("safetensors", "safetensors")])
    from safetensors.numpy import save_file

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL])
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            raw = z.read("resemblyzer/pretrained.pt")
    print("source resemblyzer/pretrained.pt sha256", hashlib.sha256(raw).hexdigest(), len(raw), "bytes")
    ck = load_legacy_pt(raw)
    state = ck["model_state"]
    out = {}
    for name, t in state.items():
        if not (name.startswith("lstm.") or name.startswith("linear.")):
            continue
        out[name] = t["array"]
        print(f"  {name:20s} {list(t['array'].shape)}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(OUT), metadata={"source": "resemblyzer 0.1.4 pretrained.pt", "step": str(ck.get("step"))})
    print("wrote", OUT, "sha256", hashlib.sha256(OUT.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
