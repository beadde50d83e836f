"""The shipped weights work, checked on what ships with the project (no shared data needed).

- the model card's figures are the protocol's pooled out-of-fold figures for its recipe
  (weights/protocol.json), and the pooled accuracy re-derives from the confusion matrix;
- the bundled real walks (one per KOA-PD-NM class) are read as their recorded labels at least
  as often as the protocol's accuracy predicts (a binomial 5% floor), and so does the teacher;
- a walk given as a keypoint file and the same walk re-exported through `pose`'s CSV writer get
  the same answer (the video path = keypoint path check with real footage is in
  tests/pipeline/test_pose.py; this one runs on the shipped weights).

A regression of the shipped weights (retrained worse, or a stale card) fails here.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from gaitlab.constants import CLASSES
from gaitlab.demo import DEMO_DIR
from gaitlab.inference import analyze, get_teacher
from gaitlab.weights import DEFAULT_TEACHER, DEFAULT_WEIGHTS, read_card

PROTOCOL = json.loads((DEFAULT_WEIGHTS.parent / "protocol.json").read_text())
CARD = read_card(DEFAULT_WEIGHTS)


def binomial_floor(n: int, p: float, alpha: float = 0.05) -> int:
    """The largest k with P(X < k) ≤ alpha for X ~ Binomial(n, p)."""
    total, k = 0.0, 0
    while k <= n:
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if total > alpha:
            return k
        k += 1
    return n


@pytest.fixture(scope="module")
def real_walks() -> pd.DataFrame:
    manifest = pd.read_csv(DEMO_DIR / "manifest.csv")
    return manifest[manifest["source"] == "real"].reset_index(drop=True)


def test_shipped_weights_are_pose_frames_with_a_complete_protocol():
    assert CARD["view"] == "pose_limbs" and CARD["architecture"] == "pose_student"
    recipe = CARD["cross_validation"]["recipe"]
    assert not PROTOCOL["recipes"][recipe].get("incomplete")


def test_card_figures_are_the_protocols_pooled_figures():
    recipe = CARD["cross_validation"]["recipe"]
    res = PROTOCOL["recipes"][recipe]
    for condition in ("video_only", "fused", "as_trained"):
        assert CARD["metrics"][condition] == res[condition]["calibrated"]["pooled"], condition
    pooled = res["video_only"]["calibrated"]["pooled"]
    cm = np.asarray(pooled["confusion_matrix"])
    assert cm.sum() == PROTOCOL["videos"]  # every walk scored once, out of fold
    assert np.trace(cm) / cm.sum() == pytest.approx(pooled["accuracy"], abs=1e-9)
    assert CARD["calibration"]["temperature"] == pytest.approx(res["temperature"], abs=1e-4)
    top = CARD["calibration"]["top_label"]
    assert [top["slope"], top["intercept"]] == pytest.approx(res["top_label"], abs=1e-4)
    # Issue 13: pooled ECE of the headline after the cross-fitted calibration the app applies.
    assert res["calibration"]["bootstrap_95"]["ece"]["value"] <= 0.06
    # What one temperature could do at best, as the card reports it.
    best = res["calibration_temperature"]["best_in_sample"]
    assert CARD["cross_validation"]["calibration_temperature"]["best_in_sample"] == best


def test_real_walks_read_as_their_labels_at_the_protocols_rate(real_walks):
    recipe = CARD["cross_validation"]["recipe"]
    accuracy = PROTOCOL["recipes"][recipe]["video_only"]["calibrated"]["pooled"]["accuracy"]
    answers = [analyze(DEMO_DIR / p).label for p in real_walks["path"]]
    correct = int(np.sum(np.array(answers) == real_walks["label"].to_numpy()))
    floor = binomial_floor(len(real_walks), accuracy)
    assert correct >= floor, f"{correct}/{len(real_walks)} real walks right (floor {floor}): {answers}"


def test_the_teacher_ships_and_reads_the_real_walks(real_walks):
    assert DEFAULT_TEACHER.is_file()
    teacher = get_teacher()
    assert teacher is not None
    accuracy = PROTOCOL["recipes"]["teacher"]["pooled"]["accuracy"]
    from gaitlab.pipeline.keypoints import load_keypoint_csv

    probs = teacher.predict_proba([load_keypoint_csv(DEMO_DIR / p) for p in real_walks["path"]])
    assert probs.shape == (len(real_walks), len(CLASSES)) and np.allclose(probs.sum(1), 1, atol=1e-5)
    correct = int(np.sum(np.array(CLASSES)[probs.argmax(1)] == real_walks["label"].to_numpy()))
    assert correct >= binomial_floor(len(real_walks), accuracy)


def test_second_opinion_is_in_the_analysis(real_walks):
    result = analyze(DEMO_DIR / real_walks["path"][0])
    assert result.teacher is not None and result.teacher["label"] in CLASSES
    assert result.teacher["agrees"] == (result.teacher["label"] == result.label)
    assert result.to_dict()["teacher"] == result.teacher


def test_keypoint_file_and_its_pose_export_agree(real_walks, tmp_path):
    from gaitlab.pipeline.keypoints import load_keypoint_csv
    from gaitlab.pipeline.pose import keypoints_csv_text

    path = DEMO_DIR / real_walks["path"][0]
    seq = load_keypoint_csv(path)
    out = tmp_path / "export.csv"
    out.write_text(keypoints_csv_text(seq, np.arange(len(seq)), None), encoding="utf-8")
    a, b = analyze(path), analyze(out)
    assert a.label == b.label
    assert max(abs(a.probabilities[c] - b.probabilities[c]) for c in CLASSES) < 0.01
