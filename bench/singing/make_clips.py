"""Writes the sung evaluation set: each clip in five conditions, with its truth.

    python make_clips.py OUT_DIR [--split dev|heldout] [--clips 48] [--seconds 22]
    python make_clips.py OUT_DIR --long 360      # one 6-minute sung clip (clean)

OUT_DIR/<clip>/clean.wav, k10.wav (backing −10 dB), k5.wav (−5 dB), room.wav,
phone.ogg (the −10 dB mix at 8 kHz bandwidth through Opus 24 kbit/s) and
truth.npy (Hz per 5 ms frame, 0 where nobody sings); OUT_DIR/clips.json lists them.
The split picks disjoint melodies: `heldout` never uses a `dev` melody.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys

import numpy as np
import scipy.signal
import soundfile as sf

sys.path.insert(0, os.path.dirname(__file__))
import synth  # noqa: E402

# Voice type → (chorale part index, folk target median MIDI, voices, formant factor).
TYPES = {
    "bass": (3, 50, ["librivox"], 0.95),
    "tenor": (2, 57, ["librivox"], 1.0),
    "alto": (1, 64, ["pyannote90", "pyannote91"], 1.0),
    "soprano": (0, 70, ["pyannote91", "pyannote90"], 1.05),
}


def melodies(split: str):
    from music21 import corpus

    chorales = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith(".mxl"))
    folk = sorted(str(p) for p in corpus.getPaths() if "essenFolksong" in str(p))
    pick = lambda xs: [x for x in xs if (synth.seed_of(os.path.basename(x)) % 2 == 0) == (split == "dev")]
    return pick(chorales), pick(folk)


def four_part(path: str) -> bool:
    from music21 import converter

    try:
        return len(converter.parse(path).parts) == 4
    except Exception:
        return False


def render(score: synth.Score, pool: synth.VoicePool, formant: float, seconds: float, rng) -> tuple:
    n_frames = int(seconds * 1000 / synth.FRAME_MS)
    midi = synth.f0_contour(score.melody, n_frames, rng)
    voice16 = synth.sing(pool, midi, rng, formant)
    voice = scipy.signal.resample_poly(voice16, 441, 160)
    n = int(seconds * synth.OUT_SR)
    voice = np.pad(voice, (0, max(0, n - len(voice))))[:n]
    truth = np.where(np.isnan(midi), 0.0, 440.0 * 2 ** ((np.nan_to_num(midi) - 69) / 12))
    return voice, truth


def conditions(out: str, voice: np.ndarray, score: synth.Score, rng) -> None:
    sr, n = synth.OUT_SR, len(voice)
    peak = lambda x: x / max(1e-9, np.abs(x).max()) * 0.7
    v = voice / synth.rms(voice) * 0.1
    sf.write(f"{out}/clean.wav", peak(v).astype(np.float32), sr, subtype="PCM_16")
    band = synth.tones(score.backing, n, sr, rng)
    beat = synth.drums(n, sr, score.beat_s, rng)
    backing = band / synth.rms(band) + beat / synth.rms(beat) * 10 ** (-6 / 20)
    backing /= synth.rms(backing)
    for name, db in (("k10", -10), ("k5", -5)):
        mix = v + backing * synth.rms(v) * 10 ** (db / 20)
        sf.write(f"{out}/{name}.wav", peak(mix).astype(np.float32), sr, subtype="PCM_16")
        if db == -10:
            synth.opus_roundtrip(peak(mix), sr, f"{out}/phone.ogg")
    wet = scipy.signal.fftconvolve(v, synth.room_ir(sr, 0.4, rng))[:n]
    noise = synth.pink(n, rng)
    room = wet + noise / synth.rms(noise) * synth.rms(wet) * 10 ** (-15 / 20)
    sf.write(f"{out}/room.wav", peak(room).astype(np.float32), sr, subtype="PCM_16")


_POOLS: dict = {}


def make_clip(job):
    out_dir, split, seconds, k, vtype, path = job
    part, median, voices, formant = TYPES[vtype]
    rng = np.random.default_rng(synth.seed_of(split, k))
    bpm = float(rng.uniform(70, 100))
    if k % 4 == 3:
        score = synth.folk(path, median + rng.integers(-2, 3), bpm, seconds)
    else:
        score = synth.chorale(path, part, int(rng.integers(-2, 3)), bpm, seconds)
    if len(score.melody) < 8:
        return None
    vname = voices[(k // len(TYPES)) % len(voices)]
    if vname not in _POOLS:
        _POOLS[vname] = synth.voice_pool(vname)
    name = f"{k:03d}_{vtype}_{vname}_{score.name}"
    out = os.path.join(out_dir, name)
    os.makedirs(out, exist_ok=True)
    voice, truth = render(score, _POOLS[vname], formant, seconds, rng)
    conditions(out, voice, score, rng)
    np.save(f"{out}/truth.npy", truth)
    print(name, flush=True)
    return {"name": name, "type": vtype, "voice": vname, "melody": os.path.basename(path)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--split", default="dev", choices=["dev", "heldout"])
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=22.0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--long", type=float, default=0.0, help="write one clean clip this many seconds long instead")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    chorales, folks = melodies(a.split)
    pools = {}

    def pool(name):
        if name not in pools:
            pools[name] = synth.voice_pool(name)
        return pools[name]

    if a.long:
        rng = np.random.default_rng(synth.seed_of("long", a.split))
        parts, truths, t = [], [], 0.0
        i = 0
        while t < a.long:
            path = chorales[i % len(chorales)]
            i += 1
            if not four_part(path):
                continue
            score = synth.chorale(path, 2, 0, 84.0, 60.0)
            dur = max(n.end for n in score.melody) + 0.5
            voice, truth = render(score, pool("librivox"), 1.0, dur, rng)
            parts.append(voice)
            truths.append(truth)
            t += dur
        voice = np.concatenate(parts)
        voice = voice / synth.rms(voice) * 0.1
        sf.write(f"{a.out}/long.wav", (voice / np.abs(voice).max() * 0.7).astype(np.float32), synth.OUT_SR, subtype="PCM_16")
        np.save(f"{a.out}/long_truth.npy", np.concatenate(truths))
        print(f"{a.out}/long.wav: {len(voice) / synth.OUT_SR:.1f} s")
        return

    jobs = []
    ci = fi = 0
    for k in range(a.clips):
        vtype = list(TYPES)[k % len(TYPES)]
        if k % 4 == 3:  # every fourth clip a folk song with chords
            path = folks[fi % len(folks)]
            fi += 1
        else:
            while not four_part(chorales[ci % len(chorales)]):
                ci += 1
            path = chorales[ci % len(chorales)]
            ci += 1
        jobs.append((a.out, a.split, a.seconds, k, vtype, path))
    with mp.Pool(a.jobs) as workers:
        clips = [c for c in workers.map(make_clip, jobs) if c]
    with open(os.path.join(a.out, "clips.json"), "w") as f:
        json.dump({"split": a.split, "frame_s": synth.FRAME_MS / 1000, "clips": clips}, f, indent=1)


if __name__ == "__main__":
    main()
