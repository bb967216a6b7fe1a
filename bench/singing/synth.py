"""Sung clips with exact pitch ground truth, and the rooms they are heard in.

A real speaking voice is analysed with the WORLD vocoder (pyworld); its strongly
voiced, loud frames (low aperiodicity, so no fricative turns into a "note") are
resynthesised on a melody from the music21 corpus, with vibrato on long notes,
short glides between tied-together notes and breaths at rests and phrase ends.
The imposed f0, one value per 5 ms frame, is the ground truth.

Backing tracks are built from the same score (the other chorale parts, or a chord
accompaniment under a folk song) as harmonic tones, plus a drum-like noise track.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import tempfile

import numpy as np
import pyworld
import scipy.signal
import soundfile as sf

FRAME_MS = 5.0
VOICE_SR = 16_000
OUT_SR = 44_100

REF = os.environ.get("ORAK_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared")) + "/reference/audio"

# Real voices: (name, files or (file, [(start, end), …]) segments, sex).
VOICES = {
    "librivox": ([f"librivox_{n}.wav" for n in ("0870", "0880", "0890", "0920", "0930")], "m"),
    "pyannote90": ([("pyannote_sample.wav", [(6.69, 7.12), (8.32, 10.02), (10.57, 14.49), (27.85, 30.0)])], "f"),
    "pyannote91": ([("pyannote_sample.wav", [(7.55, 8.32), (11.03, 14.49), (14.49, 17.92), (21.78, 27.85)])], "f"),
}


@dataclasses.dataclass
class VoicePool:
    """The voiced frames of one speaker: spectral envelope and aperiodicity."""

    name: str
    sex: str
    sp: np.ndarray  # (frames, bins), energy-normalised
    ap: np.ndarray
    breath_sp: np.ndarray  # unvoiced frames, for breaths


def _load(spec) -> np.ndarray:
    if isinstance(spec, tuple):
        path, segs = spec
        x, sr = sf.read(os.path.join(REF, path))
        return np.concatenate([x[int(a * sr) : int(b * sr)] for a, b in segs])
    x, sr = sf.read(os.path.join(REF, spec))
    assert sr == VOICE_SR
    return x


def voice_pool(name: str) -> VoicePool:
    files, sex = VOICES[name]
    x = np.concatenate([_load(s) for s in files]).astype(np.float64)
    f0, t = pyworld.harvest(x, VOICE_SR, frame_period=FRAME_MS, f0_floor=60, f0_ceil=500)
    sp = pyworld.cheaptrick(x, f0, t, VOICE_SR)
    ap = pyworld.d4c(x, f0, t, VOICE_SR)
    energy = sp.sum(axis=1)
    loud = energy > np.percentile(energy[f0 > 0], 40) if (f0 > 0).any() else np.zeros(len(f0), bool)
    # Aperiodicity below 3 kHz: voiced fricatives and breathy onsets score high.
    lo = ap[:, : sp.shape[1] * 3000 // (VOICE_SR // 2)].mean(axis=1)
    keep = (f0 > 0) & loud & (lo < 0.2)
    # Frames next to an unvoiced one are transitions; drop them too.
    edge = np.convolve((f0 == 0).astype(float), np.ones(5), "same") > 0
    keep &= ~edge
    v_sp = sp[keep] / energy[keep, None]
    breath = sp[(f0 == 0) & (energy > np.percentile(energy, 30))]
    breath = breath / breath.sum(axis=1, keepdims=True)
    return VoicePool(name, sex, v_sp, ap[keep], breath)


def warp_envelope(sp: np.ndarray, factor: float) -> np.ndarray:
    """Scales the envelope's frequency axis (formants up by `factor`)."""
    bins = np.arange(sp.shape[1])
    src = np.clip(bins / factor, 0, sp.shape[1] - 1)
    return np.stack([np.interp(src, bins, row) for row in sp])


# ---- melodies ----


@dataclasses.dataclass
class Note:
    start: float  # seconds
    end: float
    midi: float
    phrase_end: bool = False


@dataclasses.dataclass
class Score:
    """One sung line and what accompanies it, in seconds, already transposed."""

    name: str
    melody: list[Note]
    backing: list[list[Note]]  # other voices or chord tones
    beat_s: float


def _part_notes(part, beat_s: float, transpose: int, limit_s: float) -> list[Note]:
    out: list[Note] = []
    for n in part.flatten().notesAndRests:
        start = float(n.getOffsetInHierarchy(part)) * beat_s
        if start >= limit_s:
            break
        end = min(start + float(n.quarterLength) * beat_s, limit_s)
        if n.isRest or end <= start:
            if out:
                out[-1].phrase_end = True
            continue
        p = n.pitches[-1] if n.isChord else n.pitch
        fermata = any(type(e).__name__ == "Fermata" for e in n.expressions)
        if out and n.tie is not None and n.tie.type in ("continue", "stop") and abs(out[-1].midi - (p.midi + transpose)) < 0.5:
            out[-1].end = end
            out[-1].phrase_end |= fermata
            continue
        out.append(Note(start, end, float(p.midi + transpose), fermata))
    return out


def chorale(path: str, part_index: int, transpose: int, bpm: float, limit_s: float) -> Score:
    from music21 import converter

    s = converter.parse(path)
    parts = list(s.parts)
    beat_s = 60.0 / bpm
    lines = [_part_notes(p, beat_s, transpose, limit_s) for p in parts]
    name = os.path.basename(path).split(".mxl")[0]
    return Score(name, lines[part_index], [l for i, l in enumerate(lines) if i != part_index], beat_s)


def folk(path: str, target_median: float, bpm: float, limit_s: float) -> Score:
    """A folk-song melody placed at `target_median` (MIDI), with a chord accompaniment."""
    from music21 import converter

    s = converter.parse(path)
    if hasattr(s, "scores"):  # an .abc opus holds many tunes
        s = s.scores[0]
    part = s.parts[0] if s.parts else s
    beat_s = 60.0 / bpm
    mel = _part_notes(part, beat_s, 0, limit_s)
    shift = round(target_median - float(np.median([n.midi for n in mel])))
    for n in mel:
        n.midi += shift
    key = s.analyze("key")
    tonic = (key.tonic.midi + shift) % 12
    minor = key.mode == "minor"
    triads = {0: (0, 3 if minor else 4, 7), 5: (5, 8 if minor else 9, 12), 7: (7, 11, 14)}
    # One chord per bar of two beats: the triad holding most of the melody's time.
    bar = 2 * beat_s
    end = max(n.end for n in mel)
    lines: list[list[Note]] = [[], [], [], []]
    t = 0.0
    while t < end:
        pcs = np.zeros(12)
        for n in mel:
            ov = min(n.end, t + bar) - max(n.start, t)
            if ov > 0:
                pcs[int(round(n.midi)) % 12] += ov
        best = max(triads, key=lambda r: sum(pcs[(tonic + i) % 12] for i in triads[r]))
        root = tonic + best
        bass = 36 + (root - 36) % 12
        mid = 48 + (root - 48) % 12 + 12 * (target_median > 64)
        for line, m in zip(lines, (bass, mid + triads[best][0] - best, mid + triads[best][1] - best, mid + triads[best][2] - best)):
            line.append(Note(t, min(t + bar, end), float(m)))
        t += bar
    return Score(os.path.basename(path).split(".")[0], mel, lines, beat_s)


# ---- the sung line ----


def f0_contour(notes: list[Note], n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """MIDI per 5 ms frame (NaN = no voice): notes, glides, vibrato, breaths."""
    dt = FRAME_MS / 1000
    midi = np.full(n_frames, np.nan)
    for i, n in enumerate(notes):
        a, b = int(n.start / dt), min(int(n.end / dt), n_frames)
        # A breath at phrase ends and rests: the note is cut short.
        if n.phrase_end or i + 1 == len(notes) or notes[i + 1].start - n.end > 1e-6:
            b = min(max(a + 10, b - int(rng.uniform(0.15, 0.3) / dt)), n_frames)
        if b <= a:
            continue
        k = np.arange(b - a) * dt
        m = np.full(b - a, n.midi)
        dur = k[-1] + dt
        if dur > 0.4:
            rate = rng.uniform(5.0, 6.0)
            depth = rng.uniform(0.15, 0.35)  # semitones, ±
            ramp = np.clip((k - 0.15) / 0.25, 0, 1)
            m += depth * ramp * np.sin(2 * np.pi * rate * k + rng.uniform(0, 2 * np.pi))
        # A slow wander, ±5 cents.
        m += 0.05 * np.sin(2 * np.pi * rng.uniform(0.2, 0.7) * k + rng.uniform(0, 6))
        # A glide in from the previous note when sung legato.
        if i > 0 and abs(notes[i - 1].end - n.start) < 1e-6 and not np.isnan(midi[max(a - 1, 0)]):
            g = min(int(rng.uniform(0.04, 0.09) / dt), len(m))
            prev = notes[i - 1].midi
            shape = 0.5 - 0.5 * np.cos(np.pi * np.arange(g) / g)
            m[:g] = prev + (m[:g] - prev) * shape
        midi[a:b] = m
    return midi


def sing(pool: VoicePool, midi: np.ndarray, rng: np.random.Generator, formant: float = 1.0) -> np.ndarray:
    """Resynthesises `pool`'s voice on the contour; returns 16 kHz samples."""
    n = len(midi)
    voiced = ~np.isnan(midi)
    f0 = np.where(voiced, 440.0 * 2 ** ((np.nan_to_num(midi) - 69) / 12), 0.0)
    # Walk through the speech frames slowly: vowels held, formants still moving.
    step = rng.uniform(0.3, 0.5)
    pos = (rng.uniform(0, len(pool.sp)) + np.cumsum(np.full(n, step))) % len(pool.sp)
    idx = pos.astype(int)
    sp = pool.sp[idx].copy()
    ap = pool.ap[idx].copy()
    # Smooth the envelope over ~25 ms so jumps between speech frames do not click.
    sp = scipy.signal.lfilter([0.2], [1, -0.8], sp, axis=0)
    if formant != 1.0:
        sp = warp_envelope(sp, formant)
    # Loudness: a swell at each note start, a slow phrase-level drift, silence between.
    level = np.where(voiced, 1.0, 0.0)
    onset = np.diff(np.concatenate([[0], voiced.astype(int)])) > 0
    env = scipy.signal.lfilter([1 - 0.9], [1, -0.9], level)  # ~45 ms attack
    env *= 10 ** (rng.uniform(-3, 3) * np.sin(np.linspace(0, rng.uniform(2, 6), n)) / 20)
    del onset
    b = pool.breath_sp[rng.integers(0, len(pool.breath_sp), n)]
    breath = ~voiced
    sp[breath] = b[breath] * 10 ** (-28 / 10)
    ap[breath] = 1.0
    sp *= np.maximum(env, 10 ** (-28 / 20))[:, None] ** 2
    sp = np.maximum(sp, 1e-16)
    y = pyworld.synthesize(f0, sp, ap, VOICE_SR, FRAME_MS)
    return y[: int(n * FRAME_MS / 1000 * VOICE_SR)]


# ---- backing tracks ----


def tones(lines: list[list[Note]], n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Harmonic tones: one organ-like line per part (or piano-like, by chance)."""
    y = np.zeros(n)
    for line in lines:
        piano = rng.random() < 0.5
        harm = rng.integers(6, 14)
        for note in line:
            a, b = int(note.start * sr), min(int(note.end * sr), n)
            if b <= a:
                continue
            t = np.arange(b - a) / sr
            f = 440.0 * 2 ** ((note.midi - 69) / 12)
            s = np.zeros(b - a)
            for k in range(1, harm + 1):
                if k * f > sr / 2 - 1000:
                    break
                s += np.sin(2 * np.pi * k * f * t + rng.uniform(0, 6)) / k ** rng.uniform(0.8, 1.4)
            env = np.exp(-t * 2.5) if piano else np.ones_like(t)
            att = np.minimum(1, t / 0.01)
            rel = np.minimum(1, (t[-1] - t) / 0.03)
            y[a:b] += s * env * att * rel
    return y


def drums(n: int, sr: int, beat_s: float, rng: np.random.Generator) -> np.ndarray:
    y = np.zeros(n)
    hits = int(n / sr / (beat_s / 2)) + 1
    for h in range(hits):
        a = int(h * beat_s / 2 * sr)
        if a >= n:
            break
        m = min(n - a, int(0.3 * sr))
        t = np.arange(m) / sr
        if h % 4 == 0:  # kick
            f = 50 + 70 * np.exp(-t * 40)
            y[a : a + m] += 1.0 * np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t * 12)
        if h % 4 == 2:  # snare
            noise = scipy.signal.lfilter(*scipy.signal.butter(2, [300, 5000], "band", fs=sr), rng.standard_normal(m))
            y[a : a + m] += 0.8 * noise * np.exp(-t * 18)
        hat = scipy.signal.lfilter(*scipy.signal.butter(2, 7000, "high", fs=sr), rng.standard_normal(m))
        y[a : a + m] += 0.25 * hat * np.exp(-t * 60)
    return y


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    return np.fft.irfft(spec, n)


def room_ir(sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    n = int(rt60 * 1.2 * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60)  # −60 dB at rt60
    tail[: int(0.005 * sr)] = 0
    tail = scipy.signal.lfilter(*scipy.signal.butter(1, 6000, fs=sr), tail)
    ir = 0.25 * tail / np.sqrt(np.sum(tail**2))
    ir[0] = 1.0
    return ir


def opus_roundtrip(x: np.ndarray, sr: int, out_path: str, kbps: int = 24) -> None:
    """Band-limits to 8 kHz (a 16 kHz phone capture) and encodes as Ogg Opus."""
    y16 = scipy.signal.resample_poly(x, 160, 441)
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        sf.write(tmp.name, y16.astype(np.float32), 16_000)
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", tmp.name, "-c:a", "libopus", "-b:a", f"{kbps}k", out_path],
            check=True,
        )


def seed_of(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")
