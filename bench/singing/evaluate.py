"""Scores vocal-range answers against the sung ground truth, side by side.

    python evaluate.py CLIPS_DIR --bin target/release/orakgaraki [--out results.json]
        [--methods ours,ours-pyin,ours-swiftf0,librosa-pyin,swift-f0] [--benchmarks BENCHMARKS.md]

For every clip and condition each method gives a frame track; from it come the
range ends (5th/95th percentile of voiced pitch), the comfortable range
(25th–75th) and the median, compared with the same statistics of the truth, and
frame scores (mir_eval: raw pitch and chroma accuracy at 50 cents, voicing recall
and false alarms) plus octave errors. `ours` runs `orakgaraki analyze --json
--track` (`ours-X` adds `--pitch X`: `ours-pyin` is pYIN without the melody); the range it is scored on is the one the
service reports. librosa's `pyin` and SwiftF0 (onnxruntime) are the anchors: their
range is the plain percentiles of their voiced frames.
librosa and SwiftF0 results are cached next to the clips (they never change).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

import numpy as np

CONDITIONS = [("clean", "clean.wav"), ("karaoke −10 dB", "k10.wav"), ("karaoke −5 dB", "k5.wav"), ("room", "room.wav"), ("phone (Opus)", "phone.ogg")]
C2, C6 = 65.40639132514966, 1046.5022612023945
BIN = None


def cents(a, b):
    return 1200 * np.log2(a / b)


def stats(hz: np.ndarray) -> dict | None:
    v = hz[hz > 0]
    if len(v) < 5:
        return None
    p = np.percentile(v, [5, 25, 50, 75, 95], method="linear")
    return dict(zip(["low", "comfort_low", "median", "comfort_high", "high"], map(float, p)))


def run_ours(path: str, variant: str | None) -> dict:
    # `ours`: the default (`auto`); `ours-X`: the range from tracker X (`pyin`: pYIN alone).
    extra = ["--pitch", variant] if variant else []
    out = subprocess.run([BIN, "analyze", "--json", "--no-embedding", "--track", *extra, path], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{path}: {out.stderr}")
    a = json.loads(out.stdout)
    tr = a["pitch_track"]
    hz = np.array([h or 0.0 for h in tr["hz"]])
    t = np.arange(len(hz)) * tr["step_s"]
    p = a["pitch"]
    rep = None
    if p.get("low_hz"):
        rep = {"low": p["low_hz"], "high": p["high_hz"], "median": p["median_hz"], "comfort_low": p["comfort_low_hz"], "comfort_high": p["comfort_high_hz"]}
    # The frames the range counted as the singer (the rest of the track is what
    # the tracker heard: backing in the rests, notes too short to count).
    singer = tr.get("singer") or [h > 0 for h in hz]
    return {"t": t.tolist(), "hz": hz.tolist(), "reported": rep, "singer": [bool(s) for s in singer]}


def run_librosa(path: str) -> dict:
    import librosa

    y, sr = librosa.load(path, sr=22050)
    f0, voiced, _ = librosa.pyin(y, fmin=C2, fmax=C6, sr=sr)
    hz = np.where(voiced, np.nan_to_num(f0), 0.0)
    return {"t": (np.arange(len(hz)) * 512 / sr).tolist(), "hz": hz.tolist()}


_SWIFT = None


def run_swift(path: str) -> dict:
    global _SWIFT
    import librosa
    from swift_f0 import SwiftF0

    if _SWIFT is None:
        _SWIFT = SwiftF0(threads=1)
    y, _ = librosa.load(path, sr=16000)
    r = _SWIFT.detect(y, 16000, fmin=C2, fmax=C6)
    # The package's own voicing rule: confidence at least 0.5.
    hz = np.where(r.confidence >= 0.5, r.pitch_hz, 0.0)
    return {"t": r.timestamps.tolist(), "hz": hz.tolist()}


def track(method: str, path: str) -> dict:
    if method == "ours":
        return run_ours(path, None)
    if method.startswith("ours-"):
        return run_ours(path, method[5:])
    cache = f"{path}.{method}.json"
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    r = run_librosa(path) if method == "librosa-pyin" else run_swift(path)
    with open(cache, "w") as f:
        json.dump(r, f)
    return r


def score(truth: np.ndarray, frame_s: float, est: dict) -> dict:
    import mir_eval

    ref_t = np.arange(len(truth)) * frame_s
    est_t, est_hz = np.array(est["t"]), np.array(est["hz"])
    # Truth on the estimator's grid (nearest 5 ms frame) for the frame scores.
    idx = np.clip(np.round(est_t / frame_s).astype(int), 0, len(truth) - 1)
    ref_on_est = truth[idx]
    m = mir_eval.melody.evaluate(ref_t, truth, est_t, est_hz)
    both = (ref_on_est > 0) & (est_hz > 0)
    d = np.abs(cents(est_hz[both], ref_on_est[both]))
    octave = np.sum((d > 600) & (np.abs(d - 1200 * np.round(d / 1200)) <= 100))
    # Of the frames the range is computed from, how many are not the singer's
    # pitch (nobody sings there, or more than a semitone off).
    counted = (est_hz > 0) & np.array(est.get("singer") or est_hz > 0, dtype=bool)
    off = counted & ((ref_on_est <= 0) | (np.abs(cents(np.where(counted, est_hz, 1.0), np.where(ref_on_est > 0, ref_on_est, 1.0))) > 100))
    want = stats(truth)
    got = est.get("reported") or stats(est_hz)
    r = {
        "rpa": m["Raw Pitch Accuracy"],
        "rca": m["Raw Chroma Accuracy"],
        "recall": m["Voicing Recall"],
        "false_alarm": m["Voicing False Alarm"],
        "octave_frames": int(octave),
        "counted_off": float(off.sum() / max(1, counted.sum())),
        "ref_voiced_frames": int(np.sum(ref_on_est > 0)),
        "truth": want,
        "got": got,
    }
    if got is None:
        r.update(range_ok=False, comfort_ok=False, median_ok=False, low_err=None, high_err=None)
    else:
        e = {k: float(cents(got[k], want[k]) / 100) for k in want}
        r.update(
            low_err=e["low"],
            high_err=e["high"],
            range_ok=abs(e["low"]) <= 1 and abs(e["high"]) <= 1,
            comfort_ok=abs(e["comfort_low"]) <= 0.5 and abs(e["comfort_high"]) <= 0.5,
            median_ok=abs(e["median"]) <= 0.5,
        )
    return r


def one(job):
    clips_dir, clip, cond, fname, methods, frame_s = job
    truth = np.load(os.path.join(clips_dir, clip, "truth.npy"))
    path = os.path.join(clips_dir, clip, fname)
    out = {}
    for m in methods:
        t0 = time.time()
        out[m] = score(truth, frame_s, track(m, path))
        out[m]["seconds"] = time.time() - t0
    return clip, cond, out


def init(bin_path):
    global BIN
    BIN = bin_path
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def table(results: dict, methods: list[str]) -> str:
    rows = [
        "| condition | method | range ends ±1 st | comfortable ±50 ct | median ±50 ct | RPA | RCA | voicing recall | false alarm | octave errors | counted, not the singer | median / worst range-end error (st) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cond, _ in CONDITIONS:
        for m in methods:
            rs = [c[cond][m] for c in results.values() if cond in c]
            if not rs:
                continue
            pct = lambda k: f"{100 * np.mean([r[k] for r in rs]):.0f}%"
            mean = lambda k: f"{np.mean([r[k] for r in rs]):.3f}"
            errs = [max(abs(r["low_err"]), abs(r["high_err"])) for r in rs if r["low_err"] is not None]
            octv = sum(r["octave_frames"] for r in rs) / max(1, sum(r["ref_voiced_frames"] for r in rs))
            worst = f"{np.median(errs):.2f} / {max(errs):.2f}" if errs else "—"
            offs = [r["counted_off"] for r in rs if "counted_off" in r]
            counted_off = f"{100 * np.mean(offs):.1f}%" if offs else "—"
            rows.append(
                f"| {cond} | {m} | {pct('range_ok')} | {pct('comfort_ok')} | {pct('median_ok')} | {mean('rpa')} | {mean('rca')} | {mean('recall')} | {mean('false_alarm')} | {100 * octv:.2f}% | {counted_off} | {worst} |"
            )
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clips")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--methods", default="ours,ours-pyin,ours-swiftf0,librosa-pyin,swift-f0")
    ap.add_argument("--out", default=None)
    ap.add_argument("--benchmarks", default=None, help="write the table between the singing markers of this file")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    a = ap.parse_args()
    methods = a.methods.split(",")
    with open(os.path.join(a.clips, "clips.json")) as f:
        meta = json.load(f)
    jobs = [(a.clips, c["name"], cond, fn, methods, meta["frame_s"]) for c in meta["clips"] for cond, fn in CONDITIONS]
    results: dict = {}
    with mp.Pool(a.jobs, initializer=init, initargs=(os.path.abspath(a.bin),)) as pool:
        for clip, cond, out in pool.imap_unordered(one, jobs):
            results.setdefault(clip, {})[cond] = out
            print(f"{clip} {cond}: " + " ".join(f"{m}={'ok' if r['range_ok'] else 'MISS'}({r['rpa']:.2f})" for m, r in out.items()), flush=True)
    results = dict(sorted(results.items()))
    md = table(results, methods)
    print(md)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"split": meta["split"], "clips": len(meta["clips"]), "methods": methods, "results": results}, f, indent=1)
    if a.benchmarks:
        text = open(a.benchmarks).read()
        begin, end = "<!-- singing:begin -->", "<!-- singing:end -->"
        head, rest = text.split(begin)
        _, tail = rest.split(end)
        stamp = f"{len(meta['clips'])} clips ({meta['split']} split), {time.strftime('%Y-%m-%d')}:\n\n"
        with open(a.benchmarks, "w") as f:
            f.write(head + begin + "\n" + stamp + md + "\n" + end + tail)


if __name__ == "__main__":
    sys.exit(main())
