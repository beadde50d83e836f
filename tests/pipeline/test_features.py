"""Hand-crafted gait features on generated walkers, the feature baseline and the CV protocol."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaitlab.pipeline.features import FEATURES, gait_features, mirror
from gaitlab.training.baseline import FeatureBaseline, LengthBaseline, cross_validate
from gaitlab.synth.walker import WalkerParams, walk_keypoints

# Features that a clean, regular walker pins down tightly (stance and step-timing proxies are
# noisier: the walker's feet slide a little and a short walk has few steps).
STABLE = ["step_length", "stride_per_cycle", "knee_range_left", "knee_range_right", "knee_extension",
          "hip_range_left", "hip_range_right", "trunk_flexion_mean", "arm_swing_left", "arm_swing_right",
          "elbow_flexion", "knee_asymmetry", "hip_asymmetry", "arm_asymmetry", "step_asymmetry"]


def feats(n_frames: int = 150, fps: float = 30.0, **params: float) -> dict[str, float]:
    return gait_features(walk_keypoints(WalkerParams(**params), n_frames, fps))


def assert_close(a: dict[str, float], b: dict[str, float], rel: float = 0.05, abs_: float = 1.0) -> None:
    for k in STABLE:
        assert a[k] == pytest.approx(b[k], rel=rel, abs=abs_ if "range" in k or "flex" in k or "ext" in k else 0.02), k


def test_feature_names_and_values():
    f = feats()
    assert list(f) == list(FEATURES)
    assert all(np.isfinite(v) for v in f.values())


def test_features_respond_to_walker_parameters():
    base = feats()
    stiff, bent = feats(knee_flexion=40.0), feats(knee_flexion=85.0)
    assert stiff["knee_range_left"] < base["knee_range_left"] - 10 < bent["knee_range_left"] - 20
    assert feats(trunk_flexion=20.0)["trunk_flexion_mean"] > base["trunk_flexion_mean"] + 15
    assert feats(arm_swing=5.0)["arm_swing_left"] < 0.5 * base["arm_swing_left"]
    assert feats(step_length=0.3, speed=0.52)["step_length"] < 0.8 * base["step_length"]
    limp = feats(asymmetry=0.8)
    for k in ("knee_asymmetry", "hip_asymmetry", "step_asymmetry"):
        assert limp[k] > base[k] + 0.03, k
    assert limp["knee_range_right"] < limp["knee_range_left"]


def test_features_ignore_length_frame_rate_and_direction():
    base = feats(n_frames=150)
    # Twice as long a walk. It spends more of its time far from the side camera's axis, where
    # the perspective lengthens the nearer leg's steps: step asymmetry moves by about 0.02.
    longer = feats(n_frames=300)
    assert_close({**longer, "step_asymmetry": base["step_asymmetry"]}, base)
    assert longer["step_asymmetry"] == pytest.approx(base["step_asymmetry"], abs=0.03)
    assert_close(feats(n_frames=300, fps=60.0), base)  # same walk filmed at twice the rate
    # Walking right→left: the same walk but for the side camera's perspective, which now shows
    # the left leg nearer (stride 2% and knee ranges 0.8° apart at most).
    assert_close(feats(direction=-1), base, rel=0.03, abs_=1.0)
    # A mirrored video swaps the labels of the sides; symmetric summaries do not change.
    limp = walk_keypoints(WalkerParams(asymmetry=0.5), 150, 30.0)
    a, b = gait_features(limp), gait_features(mirror(limp))
    assert b["knee_range_left"] == pytest.approx(a["knee_range_right"], abs=0.5)
    assert b["knee_asymmetry"] == pytest.approx(a["knee_asymmetry"], abs=0.01)


def test_features_survive_detection_gaps():
    seq = walk_keypoints(WalkerParams(), 150, 30.0)
    seq[40:45] = np.nan  # a short gap is interpolated
    assert all(np.isfinite(v) for k, v in gait_features(seq).items() if k in STABLE)


def _toy_data(n_subjects: int = 12) -> object:
    """A GaitData-like object: two classes (upright vs stooped), two walks per subject,
    of deliberately equal length distribution so length cannot tell them apart."""
    from gaitlab.training.dataset import GaitData

    rng = np.random.default_rng(0)
    rows, seqs = [], {}
    for s in range(n_subjects):
        label = s % 2
        for k in range(2):
            vid = f"s{s}_{k}"
            params = WalkerParams(trunk_flexion=22.0 * label + rng.normal(0, 2), knee_flexion=rng.uniform(50, 65),
                                  phase=rng.random(), direction=1 if k == 0 else -1)
            seqs[vid] = walk_keypoints(params, int(rng.integers(90, 180)), 30.0)
            rows.append({"video_id": vid, "label": "Normal" if label == 0 else "PD_Mild",
                         "y": 0 if label == 0 else 5, "subject_id": f"S{s}"})
    return GaitData(meta=pd.DataFrame(rows), sequences=seqs, dropped=pd.DataFrame())


def test_feature_baseline_and_cross_validation_protocol():
    from gaitlab.training.dataset import subject_folds

    data = _toy_data()
    folds = subject_folds(data.meta, 3, seed=0)
    for train, val in folds:  # no subject on both sides
        assert not set(data.meta.subject_id[train]) & set(data.meta.subject_id[val])
    result = cross_validate(lambda: FeatureBaseline(n_estimators=50), data, folds)
    assert result["pooled"]["accuracy"] >= 0.9
    assert result["oof_proba"].shape == (len(data.meta), 9) and np.isfinite(result["oof_proba"]).all()
    assert result["summary"]["recall_PD_Mild"]["mean"] >= 0.8 and result["summary"]["recall_KOA_Early"] is None
    # Lengths were drawn independently of the class: the shortcut probe is near chance.
    assert cross_validate(LengthBaseline, data, folds)["pooled"]["accuracy"] < 0.8
    leaky = [(tr, np.r_[va, tr[:1]]) for tr, va in folds]
    with pytest.raises(ValueError):
        cross_validate(LengthBaseline, data, leaky)
