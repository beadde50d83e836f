"""gaitlab.training.dataset: loading, subject-grouped folds, clip sampling (fast; real data optional)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaitlab.constants import CLASSES, CLIP_FRAMES, FRAME_SIZE
from gaitlab.pipeline.clips import keypoint_clips
from gaitlab.pipeline.keypoints import source_aspect
from gaitlab.training.dataset import (
    GaitData, class_balanced_weights, load_gait_data, sample_training_clip, subject_folds,
    training_clip_indices,
)
from gaitlab.errors import InputError



def synthetic_meta(seed: int = 0) -> pd.DataFrame:
    """Two videos per subject, imbalanced classes and a one-subject class, like the real set."""
    rng = np.random.default_rng(seed)
    subjects_per_class = {c: int(rng.integers(3, 9)) for c in CLASSES}
    subjects_per_class["PD_Severe"] = 1
    rows = []
    for label, n in subjects_per_class.items():
        for s in range(n):
            for seq in ("01", "02"):
                rows.append({"video_id": f"{label}-{s}-{seq}", "label": label, "subject_id": f"{label}-{s:03d}"})
    return pd.DataFrame(rows)


def assert_subject_grouped(meta: pd.DataFrame, folds: list[tuple[np.ndarray, np.ndarray]]) -> None:
    all_val = np.concatenate([va for _, va in folds])
    assert sorted(all_val) == list(range(len(meta))), "every video is held out exactly once"
    for tr, va in folds:
        assert set(tr).isdisjoint(va)
        shared = set(meta.loc[tr, "subject_id"]) & set(meta.loc[va, "subject_id"])
        assert not shared, f"subjects on both sides of a split: {sorted(shared)[:5]}"


def test_folds_never_share_a_subject_synthetic():
    meta = synthetic_meta()
    folds = subject_folds(meta, n_splits=5, seed=0)
    assert len(folds) == 5
    assert_subject_grouped(meta, folds)
    # Stratification: every class with at least 5 subjects appears in every hold-out.
    subjects = meta.groupby("label")["subject_id"].nunique()
    common = set(subjects[subjects >= 5].index)
    assert common
    for _, va in folds:
        assert common <= set(meta.loc[va, "label"])


def test_folds_depend_on_seed_and_are_reproducible():
    meta = synthetic_meta()
    a, b, c = subject_folds(meta, seed=0), subject_folds(meta, seed=0), subject_folds(meta, seed=1)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_folds_never_share_a_subject_real(shared_data):
    meta = pd.read_csv(shared_data / "metadata.csv")
    assert_subject_grouped(meta, subject_folds(meta, n_splits=5, seed=0))


def test_load_real_data(shared_data):
    data = load_gait_data(shared_data)
    assert len(data.meta) + len(data.dropped) == len(pd.read_csv(shared_data / "metadata.csv"))
    assert set(data.meta["label"]) <= set(CLASSES)
    seq = data.sequence(0)
    assert seq.dtype == np.float32 and seq.shape[1:] == (33, 4) and np.isfinite(seq).all()


def test_load_gait_data_names_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="metadata.csv and keypoints.npz missing"):
        load_gait_data(tmp_path)
    pd.DataFrame({"video_id": ["a"], "label": ["Normal"], "subject_id": ["s"]}).to_csv(tmp_path / "metadata.csv")
    with pytest.raises(InputError, match="keypoints.npz missing"):
        load_gait_data(tmp_path)


def standing_sequence(n: int = 40) -> np.ndarray:
    """A still, roughly human skeleton seen from the side ([n, 33, 4], 16:9 frame)."""
    seq = np.zeros((n, 33, 4), np.float32)
    seq[..., 3] = 1.0
    seq[:, :, 0] = 0.5
    seq[:, :, 1] = np.linspace(0.2, 0.9, 33)
    seq[:, [27, 28], 1] = 0.85
    seq[:, 28, 0] += 0.05 * np.sin(np.arange(n) / 3.0)  # some stepping for the cycle estimate
    return seq


def test_from_sequences_drops_unusable_videos_with_reasons():
    short = standing_sequence(30)
    short[5:] = np.nan  # only 5 detected frames
    meta = pd.DataFrame({
        "video_id": ["ok", "short", "absent", "odd"], "label": ["Normal", "Normal", "KOA_Early", "Martian"],
        "subject_id": ["a", "b", "c", "d"],
    })
    data = GaitData.from_sequences(meta, {"ok": standing_sequence(), "short": short, "odd": standing_sequence()})
    assert list(data.meta["video_id"]) == ["ok"]
    reasons = dict(zip(data.dropped["video_id"], data.dropped["reason"]))
    assert set(reasons) == {"short", "absent", "odd"}
    assert "frames" in reasons["short"] and "archive" in reasons["absent"] and "label" in reasons["odd"]


def test_source_aspect_recovers_a_portrait_frontal_view():
    # A person facing the camera in a 9:16 portrait frame: real shoulder width 0.25 H,
    # hip-to-ankle 0.49 H, hip-to-shoulder 0.29 H, person 0.5 of the frame height tall.
    aspect, h = 9 / 16, 0.5
    seq = np.zeros((30, 33, 4), np.float32)
    seq[..., 3] = 1
    seq[:, :, 0] = 0.5
    seq[:, 11, 0], seq[:, 12, 0] = 0.5 - 0.125 * h / aspect, 0.5 + 0.125 * h / aspect
    seq[:, [23, 25, 27, 29, 31], 0] -= 0.05 * h / aspect
    seq[:, [24, 26, 28, 30, 32], 0] += 0.05 * h / aspect
    seq[:, :, 1] = 0.4
    seq[:, [11, 12], 1] = 0.4 - 0.29 * h
    seq[:, [27, 28], 1] = 0.4 + 0.49 * h
    assert source_aspect(seq) == pytest.approx(aspect, rel=0.15)


def test_keypoint_clips_are_deterministic_pose_frames():
    seq = standing_sequence(100)
    clips = keypoint_clips(seq)
    assert 1 <= len(clips) <= 12
    for span, frames in clips:
        assert frames.shape == (CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE, 3) and frames.dtype == np.uint8
        assert all(frames[..., c].any() for c in range(3))  # left limbs, right limbs, trunk and head
        assert len(np.unique(frames)) > 10  # soft lines, not a binary mask
        assert 0 <= span.start <= span.end < len(seq)
    again = keypoint_clips(seq)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(clips, again))


def test_training_clips_are_augmented_pose_frames():
    """Training draws the same kind of frames as inference, through a random `PoseStyle`:
    reproducible from the generator's seed, different from draw to draw."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints

    meta = pd.DataFrame({"video_id": ["a"], "label": ["Normal"], "subject_id": ["s1"]})
    data = GaitData.from_sequences(meta, {"a": walk_keypoints(WalkerParams(), 90, aspect=16 / 9)})
    draws = [sample_training_clip(data, 0, np.random.default_rng(seed)) for seed in (0, 0, 1)]
    (idx, frames), (idx_again, again), (_, other) = draws
    assert frames.shape == (CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE, 3) and frames.dtype == np.uint8
    assert all(frames[..., c].any() for c in range(3))
    assert idx == idx_again and np.array_equal(frames, again)
    assert not np.array_equal(frames, other)


def test_training_clip_indices_stay_in_range_and_jitter_the_span():
    rng = np.random.default_rng(0)
    spans = []
    for _ in range(200):
        idx = training_clip_indices(300, 40.0, rng)
        assert len(idx) == CLIP_FRAMES and 0 <= min(idx) and max(idx) < 300
        assert list(idx) == sorted(idx)
        spans.append(idx[-1] - idx[0])
    # 7/8 of a span of 40 x [0.8, 1.25] frames.
    assert 26 <= min(spans) <= 30 and 41 <= max(spans) <= 45
    short = training_clip_indices(10, 40.0, rng)  # a walk shorter than one cycle
    assert max(short) < 10


def test_class_balanced_weights():
    labels = np.array([0] * 90 + [1] * 9 + [6])
    p = class_balanced_weights(labels, balance=1.0)
    assert p.sum() == pytest.approx(1.0)
    for c in (0, 1, 6):
        assert p[labels == c].sum() == pytest.approx(1 / 3)
    natural = class_balanced_weights(labels, balance=0.0)
    assert natural[labels == 0].sum() == pytest.approx(0.9)


