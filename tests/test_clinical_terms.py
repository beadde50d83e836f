"""Explanations in the clinic's terms: each model frame's gait phase and body region, the maps
taken back onto the original frames, and the kinematics every analysis carries."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gaitlab.explanations import SEGMENTS, frame_regions, maps_on_originals, phase_name
from gaitlab.inference import analyze
from gaitlab.pipeline.landmarks import ANKLE, KNEE
from gaitlab.synth.walker import WalkerParams, walk_keypoints, write_keypoint_csv
from gaitlab.weights import load_model


@pytest.fixture(scope="module")
def model(random_weights):
    return load_model(random_weights)


def test_phase_names_follow_the_gait_cycle():
    assert phase_name((5.0, "stance", "left")) == "left loading response, 5% of the cycle"
    assert phase_name((40.0, "stance", "right")).startswith("right terminal stance")
    assert phase_name((80.0, "swing", "left")).startswith("left mid-swing")
    assert phase_name(None) is None


def test_frame_region_is_the_segment_under_the_heat():
    skeleton = np.full((1, 33, 2), np.nan)
    skeleton[0, KNEE[0]], skeleton[0, ANKLE[0]] = (100, 120), (100, 170)  # the left shank, drawn
    skeleton[0, 23], skeleton[0, 24], skeleton[0, 11], skeleton[0, 12] = (100, 70), (110, 70), (100, 20), (110, 20)
    heat = np.zeros((1, 224, 224), np.float32)
    heat[0, 125:165, 95:105] = 1.0  # all the weight on the left shank
    assert frame_regions(heat, skeleton) == ["left knee and shank"]
    assert "left knee and shank" in SEGMENTS
    assert frame_regions(heat, None) == [None]


def test_maps_go_back_through_the_inverse_crop():
    """A hot pixel at model-frame (x, y) lands on the original pixel its crop put there."""
    placement = np.array([[[2.0 * 224, 0.0, -50.0], [0.0, 2.0 * 224, -100.0]]])  # normalised → model px
    maps = np.zeros((1, 224, 224), np.float32)
    maps[0, 60:64, 40:44] = 1.0
    back = maps_on_originals(maps, placement, height=448, width=448)
    ys, xs = np.nonzero(back[0] > 0.5)
    # model x = 2·224·(u/448) − 50 = u − 50 → u = x + 50; likewise v = y + 100
    assert abs(xs.mean() - (41.5 + 50)) < 1.5 and abs(ys.mean() - (61.5 + 100)) < 1.5


def test_every_analysis_carries_kinematics_and_frame_phases(model, tmp_path):
    path = tmp_path / "walk.csv"
    write_keypoint_csv(path, walk_keypoints(WalkerParams(), 240))
    result = analyze(path, model=model)
    kin = result.kinematics
    assert kin["view"] == "sagittal" and kin["knee_rom_deg"]["left"] is not None
    assert kin["cadence_steps_per_min"] is None  # a plain keypoint file has no frame rate
    assert len(result.frame_phases) == 8 and any(p is not None for p in result.frame_phases)
    record = json.loads(json.dumps(result.to_dict()))
    assert "kinematics" in record and "frame_phases" in record and "teacher" in record


def test_a_pose_export_with_times_gives_cadence_per_minute(model, tmp_path):
    from gaitlab.pipeline.pose import keypoints_csv_text

    seq = walk_keypoints(WalkerParams(), 240, fps=30.0)
    path = tmp_path / "export.csv"
    path.write_text(keypoints_csv_text(seq, np.arange(len(seq)), np.arange(len(seq)) / 30.0), encoding="utf-8")
    cadence = analyze(path, model=model).kinematics["cadence_steps_per_min"]
    assert cadence == pytest.approx(WalkerParams().cadence, rel=0.05)
