"""A bank of augmented training clips, rendered once and drawn from for every epoch.

Rendering pose frames costs about as much as a training step of the student, and the
student's first operation is a k×k average pool (`GaitStudent.input_pool`): so training
clips are rendered once per (row, draw) as `dataset.sample_training_clip` draws them, pooled
exactly as the network would pool them, and kept as uint8 [8, 224/k, 224/k, 3] (rounded to
the nearest level: at most 0.5/255 from the float pool). A bank of 24 clips per walk of the
216 walks is about 0.4 GB and takes 2–3 minutes on one core; every epoch and every fold of
the protocol then draws from it at no rendering cost.

`ClipBank(data, rows, per_row, pool, seed)` holds `clips` uint8 [N, 8, h, w, 3], `rows` [N]
(into `data.meta`) and `indices` [N, 8] (source frames, for a distillation teacher).
`batch(bank_ids, rng)` → model-ready float32 [B, 3, 8, h, w] (ImageNet-normalised, with a
random shift of up to `SHIFT` pooled pixels: framing differs between cameras).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from gaitlab.constants import FRAME_SIZE
from gaitlab.pipeline.clips import NORMALISED_LEVELS
from gaitlab.training.dataset import GaitData, sample_training_clip

SHIFT = 2  # pooled pixels (×input_pool at full size) of random translation per drawn clip


def pool_frames(frames: np.ndarray, pool: int) -> np.ndarray:
    """uint8 [T, 224, 224, 3] → uint8 [T, 224/pool, 224/pool, 3]: mean over pool×pool pixels, rounded."""
    if pool == 1:
        return frames
    t, h, w, c = frames.shape
    if h % pool or w % pool:
        raise ValueError(f"a {h}x{w} frame does not split into {pool}x{pool} blocks")
    mean = frames.reshape(t, h // pool, pool, w // pool, pool, c).mean(axis=(2, 4), dtype=np.float32)
    return np.rint(mean).astype(np.uint8)


class ClipBank:
    """`per_row` augmented clips of each of `rows`, rendered once, pooled by `pool`."""

    def __init__(self, data: GaitData, rows: np.ndarray, per_row: int = 24, pool: int = 4, seed: int = 0,
                 progress: Callable[[int, int], None] | None = None) -> None:
        rows = np.asarray(rows, dtype=int)
        size = FRAME_SIZE // pool
        self.pool = pool
        self.rows = np.repeat(rows, per_row)
        self.clips = np.zeros((len(self.rows), 8, size, size, 3), np.uint8)
        self.indices = np.zeros((len(self.rows), 8), np.int64)
        for n, row in enumerate(self.rows):
            draw = n % per_row  # each (row, draw) has its own generator: a bank is reproducible
            idx, frames = sample_training_clip(data, int(row), np.random.default_rng([seed, int(row), draw]))
            self.clips[n], self.indices[n] = pool_frames(frames, pool), idx
            if progress and (n + 1) % 200 == 0:
                progress(n + 1, len(self.rows))
        self._by_row = {int(r): np.flatnonzero(self.rows == r) for r in rows}

    def __len__(self) -> int:
        return len(self.rows)

    def ids_of(self, row: int) -> np.ndarray:
        """The bank entries of `row` (int [per_row])."""
        return self._by_row[int(row)]

    def draw(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random bank entry per requested row: int [len(rows)]."""
        return np.array([rng.choice(self._by_row[int(r)]) for r in rows], dtype=np.int64)

    def batch(self, ids: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """float32 [B, 3, 8, h, w] of bank entries `ids`, ImageNet-normalised; with `rng`, each
        clip shifted by a random whole number of pooled pixels in x and y (zero fill)."""
        clips = self.clips[ids]  # [B, 8, h, w, 3]
        if rng is not None:
            clips = np.stack([_shift(c, *rng.integers(-SHIFT, SHIFT + 1, 2)) for c in clips])
        x = np.stack([NORMALISED_LEVELS[c][clips[..., c]] for c in range(3)], axis=1)  # [B, 3, 8, h, w]
        return torch.from_numpy(x)


def _shift(clip: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """clip [8, h, w, 3] translated by (dx, dy) pixels, zero (black) where nothing moves in."""
    out = np.zeros_like(clip)
    h, w = clip.shape[1:3]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        clip[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
