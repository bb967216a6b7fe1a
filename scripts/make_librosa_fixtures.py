"""Regenerates the librosa outputs under tests/fixtures/ that ../shared/reference/
does not hold, from its resampled reference signals (ref_*_y22k.npy), with
librosa 0.11 at its defaults (sr 22050, n_fft 2048, hop 512):

  librosa_chroma_{speech,music}.npy    chroma_stft, 12 x frames, float32
  librosa_spectral_{speech,music}.npy  spectral_centroid, spectral_bandwidth,
                                       spectral_rolloff, spectral_flatness and
                                       zero_crossing_rate stacked, 5 x frames, float64

CI does not run this; the outputs are committed and read by tests/librosa_parity.rs.
Another numpy build moves the chroma values by ~1e-6 (the test allows 1e-4).

    pip install librosa==0.11.0 && python3 scripts/make_librosa_fixtures.py
"""
import os

import librosa
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REFERENCE = os.path.join(ROOT, "..", "shared", "reference", "librosa")
OUT = os.path.join(ROOT, "tests", "fixtures")
SR = 22050

for which in ["speech", "music"]:
    y = np.load(os.path.join(REFERENCE, f"ref_{which}_y22k.npy"))
    chroma = librosa.feature.chroma_stft(y=y, sr=SR).astype(np.float32)
    np.save(os.path.join(OUT, f"librosa_chroma_{which}.npy"), chroma)
    spectral = np.stack(
        [
            librosa.feature.spectral_centroid(y=y, sr=SR)[0],
            librosa.feature.spectral_bandwidth(y=y, sr=SR)[0],
            librosa.feature.spectral_rolloff(y=y, sr=SR)[0],
            librosa.feature.spectral_flatness(y=y)[0],
            librosa.feature.zero_crossing_rate(y)[0],
        ]
    ).astype(np.float64)
    np.save(os.path.join(OUT, f"librosa_spectral_{which}.npy"), spectral)
    print(which, chroma.shape, spectral.shape)
