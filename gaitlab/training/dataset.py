"""The gait-keypoints data set for training: loading, subject-grouped folds and clip sampling.

A *clip* is what the model sees: 8 pose frames, uint8 [8, 224, 224, 3], evenly spaced over
about one gait cycle. Training draws clips at random (random start, span jitter, pose-frame
augmentation: `sample_training_clip`, rendered once into `training.clip_bank`); evaluation and inference use `keypoint_clips`, the
same deterministic clips `analyze` makes for a keypoint file.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gaitlab.pipeline import keypoints
from gaitlab.pipeline.clips import ClipSpan, clip_indices, estimate_cycle_frames, keypoint_clips
from gaitlab.constants import DEFAULT_DATA_DIR, CLASSES, NUM_CLASSES
from gaitlab.errors import InputError
from gaitlab.pipeline.pose_frames import PoseStyle, render_pose_frames

DATASET_NAME = "gait-keypoints"
# Training spans are the estimated cycle times a factor from this range: it stands in for the
# unknown frame rate and for error in the cycle estimate (a user's video will differ in both).
SPAN_JITTER = (0.8, 1.25)
# Training aspects are the estimated one times a factor from this range: aspect estimates of
# a user's keypoint file can be off, and body widths differ anyway.
ASPECT_JITTER = (0.85, 1.18)


@dataclass
class GaitData:
    """The usable videos of a gait-keypoints folder.

    `meta`: one row per usable video (index 0..N-1, the row number every `idx` array refers
    to), the columns of metadata.csv plus `y` (class id), `n_usable` (frames after gap
    filling), `cycle_frames` (estimated gait-cycle length) and `aspect` (source width/height).
    `sequences`: video_id → cleaned float32 [T, 33, 4] (`keypoints.clean_sequence`). `dropped`: video_id, label, reason
    for each video left out.
    """

    meta: pd.DataFrame
    sequences: Mapping[str, np.ndarray]
    dropped: pd.DataFrame
    root: Path | None = None
    # Deterministic evaluation clips per row, rendered on first use (they never change).
    _plain_clips: dict[int, list[tuple[ClipSpan, np.ndarray]]] = field(default_factory=dict, repr=False)

    @property
    def labels(self) -> np.ndarray:
        """int [N]: class id of each row."""
        return self.meta["y"].to_numpy()

    def sequence(self, row: int) -> np.ndarray:
        """Cleaned keypoints of row `row`: float32 [T, 33, 4]."""
        return self.sequences[self.meta.at[row, "video_id"]]

    def plain_clips(self, row: int) -> list[tuple[ClipSpan, np.ndarray]]:
        """`keypoint_clips` of row `row` in the plain style, cached."""
        if row not in self._plain_clips:
            self._plain_clips[row] = keypoint_clips(self.sequence(row), aspect=float(self.meta.at[row, "aspect"]))
        return self._plain_clips[row]

    @classmethod
    def from_sequences(cls, meta: pd.DataFrame, raw: Mapping[str, np.ndarray], root: Path | None = None) -> GaitData:
        """Clean every raw sequence [T, 33, 4] (NaN = no detection) named by `meta.video_id`.

        Videos with no keypoints, an unknown label or fewer than 8 usable frames are dropped
        and listed in `dropped` with the reason.
        """
        kept, filled, dropped = [], {}, []
        for _, rec in meta.iterrows():
            vid, label = str(rec["video_id"]), str(rec["label"])
            try:
                if label not in CLASSES:
                    raise InputError(f"unknown label {label!r}")
                if vid not in raw:
                    raise InputError("no keypoints in the archive")
                seq = keypoints.clean_sequence(raw[vid])
            except InputError as exc:
                dropped.append({"video_id": vid, "label": label, "reason": str(exc)})
                continue
            filled[vid] = seq
            cycle = estimate_cycle_frames(keypoints.step_signal(seq))
            kept.append({**rec.to_dict(), "y": CLASSES.index(label), "n_usable": len(seq),
                         "cycle_frames": cycle, "aspect": keypoints.source_aspect(seq)})
        dropped_df = pd.DataFrame(dropped, columns=["video_id", "label", "reason"])
        return cls(pd.DataFrame(kept).reset_index(drop=True), filled, dropped_df, root)


def load_gait_data(root: str | Path = DEFAULT_DATA_DIR) -> GaitData:
    """Read metadata.csv and keypoints.npz from `root` (see the data set's README).

    Every sequence is cleaned once here (a few seconds for the 216 videos, ~30 MB): the
    drop decision needs each sequence's usable length anyway, and later epochs reuse them.
    """
    root = Path(root)
    meta = keypoints.read_gait_metadata(root)
    with keypoints.load_npz_sequences(root / "keypoints.npz") as raw:
        return GaitData.from_sequences(meta, raw, root=root)


# The number of subject-grouped folds of the evaluation protocol and of every hold-out split.
N_FOLDS = 5


def subject_folds(meta: pd.DataFrame, n_splits: int = N_FOLDS, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_rows, val_rows) per fold, stratified by label and grouped by `subject_id`.

    No subject is ever on both sides of a split. Classes with fewer subjects than folds
    (PD_Severe: one) cannot appear in every fold; that is expected, so sklearn's warning
    about it is silenced here and reported by the caller instead.
    """
    from sklearn.model_selection import StratifiedGroupKFold  # here: keeps sklearn off every CLI start-up

    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        return list(cv.split(np.zeros(len(meta)), meta["label"].to_numpy(), meta["subject_id"].to_numpy()))


# --- Clips -----------------------------------------------------------------------------------


def training_clip_indices(n_frames: int, cycle: float, rng: np.random.Generator) -> tuple[int, ...]:
    """8 frame indices over one jittered gait cycle at a random start, within [0, n_frames)."""
    span = min(cycle * rng.uniform(*SPAN_JITTER), float(n_frames - 1))
    start = rng.uniform(0.0, max(n_frames - 1 - span, 0.0))
    return tuple(min(i, n_frames - 1) for i in clip_indices(start, span))


def sample_training_clip(data: GaitData, row: int, rng: np.random.Generator) -> tuple[tuple[int, ...], np.ndarray]:
    """One augmented training clip of row `row`: (indices, uint8 [8, 224, 224, 3])."""
    seq = data.sequence(row)
    idx = training_clip_indices(len(seq), float(data.meta.at[row, "cycle_frames"]), rng)
    aspect = float(data.meta.at[row, "aspect"]) * np.exp(rng.uniform(*np.log(ASPECT_JITTER)))
    frames = render_pose_frames(seq, indices=list(idx), style=PoseStyle.random(rng), rng=rng, aspect=aspect)
    return idx, frames


def class_balanced_weights(labels: np.ndarray, balance: float = 1.0) -> np.ndarray:
    """Per-video sampling probabilities [N] (sum 1).

    `balance` 1.0: every class present is drawn equally often (videos uniform within their
    class); 0.0: natural frequencies; in between, class share ∝ count^(1 - balance).
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    w = counts[labels] ** (-balance)
    return w / w.sum()
