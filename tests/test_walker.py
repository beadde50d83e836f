"""The parametric walker: anatomy, rhythm, parameters, CSV and video output."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from gaitlab.keypoints import load_keypoint_csv, step_signal
from gaitlab.walker import WalkerParams, render_walk_video, walk_keypoints, write_keypoint_csv

FPS = 30.0


def _read_video(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def test_shape_and_anatomy():
    seq = walk_keypoints(WalkerParams(), 60, fps=FPS)
    assert seq.shape == (60, 33, 4) and seq.dtype == np.float32
    assert np.isfinite(seq).all() and (seq[..., 3] == 1).all()
    assert (np.abs(seq[..., 2]) < 0.2).all()
    y = seq[..., 1]
    head = y[:, :11].max(axis=1)
    shoulders, hips = y[:, [11, 12]].mean(1), y[:, [23, 24]].mean(1)
    knees, ankles = y[:, [25, 26]].mean(1), y[:, [27, 28]].mean(1)
    assert (head < shoulders).all() and (shoulders < hips).all()
    assert (hips < knees).all() and (knees < ankles).all()
    # Nose ahead of the ears in the walking direction; toes ahead of heels.
    assert (seq[:, 0, 0] > seq[:, [7, 8], 0].mean(1)).all()
    assert (seq[:, [31, 32], 0].mean(1) > seq[:, [29, 30], 0].mean(1)).all()
    # The person spans about `height` of the frame and stands on the ground line.
    span = y.max(axis=1) - y.min(axis=1)
    assert np.median(span) == pytest.approx(0.6 * 0.9, rel=0.15)
    assert y.max(axis=1) == pytest.approx(0.9, abs=1e-5)


def test_legs_alternate_at_the_cadence():
    cadence = 120.0
    seq = walk_keypoints(WalkerParams(cadence=cadence), 120, fps=FPS)
    # Signed ankle offset: changes sign every step, i.e. twice per cycle.
    offset = seq[:, 27, 0] - seq[:, 28, 0]
    crossings = np.count_nonzero(np.diff(np.sign(offset)) != 0)
    steps = cadence / 60 * len(seq) / FPS
    assert abs(crossings - steps) <= 1
    distance = step_signal(seq)
    assert distance.max() > 5 * distance.min()


def test_arms_swing_against_legs():
    seq = walk_keypoints(WalkerParams(arm_swing=40), 90, fps=FPS)
    arm = seq[:, 15, 0] - seq[:, 11, 0]  # left wrist ahead of left shoulder
    leg = seq[:, 27, 0] - seq[:, 23, 0]  # left ankle ahead of left hip
    assert np.corrcoef(arm, leg)[0, 1] < -0.5
    still = walk_keypoints(WalkerParams(arm_swing=0), 90, fps=FPS)
    assert np.ptp(still[:, 15, 0] - still[:, 11, 0]) < 0.3 * np.ptp(arm)


def test_parameters_act():
    base = walk_keypoints(WalkerParams(), 90)
    back = walk_keypoints(WalkerParams(direction=-1), 90)
    assert base[-1, 23, 0] > base[0, 23, 0] and back[-1, 23, 0] < back[0, 23, 0]
    fast = walk_keypoints(WalkerParams(speed=1.2), 90)
    assert fast[-1, 23, 0] - fast[0, 23, 0] > base[-1, 23, 0] - base[0, 23, 0]
    short = walk_keypoints(WalkerParams(step_length=0.25), 90)
    assert step_signal(short).max() < step_signal(base).max()
    lean = walk_keypoints(WalkerParams(trunk_flexion=20), 90)
    def stoop(s: np.ndarray) -> float:  # shoulders ahead of the hips
        return float((s[:, 11, 0] - s[:, 23, 0]).mean())

    assert stoop(lean) > stoop(base) + 0.01
    stiff = walk_keypoints(WalkerParams(knee_flexion=20), 90)
    # More swing knee flexion lifts the swinging ankle higher (smaller y).
    assert base[:, 27, 1].min() < stiff[:, 27, 1].min() - 0.01
    asym = walk_keypoints(WalkerParams(asymmetry=0.8), 120)
    left = np.ptp(asym[:, 27, 0] - asym[:, 23, 0])
    right = np.ptp(asym[:, 28, 0] - asym[:, 24, 0])
    assert right < 0.8 * left
    shifted = walk_keypoints(WalkerParams(phase=0.5), 10)
    # Half a cycle later the left leg is where the right one was.
    np.testing.assert_allclose(shifted[0, 27, :2], base[0, 28, :2], atol=1e-3)


def test_csv_written_in_mediapipe_layout(tmp_path):
    seq = walk_keypoints(WalkerParams(), 20)
    seq[4] = np.nan
    path = tmp_path / "w.csv"
    write_keypoint_csv(path, seq, {"label": "Normal"})
    lines = path.read_text().splitlines()
    assert lines[0].startswith("x_0,y_0,z_0,v_0,x_1") and lines[0].endswith("v_32,label")
    assert lines[5] == "," * 132 + "Normal"
    assert len(lines) == 21
    np.testing.assert_allclose(load_keypoint_csv(path)[0], seq[0], atol=1e-6)


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_video_written_with_masks(tmp_path, suffix):
    w, h, n = 320, 180, 24
    walkers = [
        walk_keypoints(WalkerParams(), n, aspect=w / h),
        walk_keypoints(WalkerParams(direction=-1, height=0.5, cadence=115), n, aspect=w / h),
    ]
    path = tmp_path / f"walk{suffix}"
    masks = render_walk_video(path, walkers, width=w, height=h, return_masks=True)
    assert masks.shape == (n, h, w) and masks.dtype == bool
    frames = _read_video(path)
    assert len(frames) == n and frames[0].shape == (h, w, 3)
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    cap.release()
    # Two separate people in the first frame.
    count, _ = cv2.connectedComponents(masks[0].astype(np.uint8))
    assert count - 1 >= 2
    # The figure differs from the static background exactly where the mask says.
    background = np.median(np.stack(frames), axis=0)
    for t in (0, n // 2, n - 1):
        diff = np.abs(frames[t].astype(int) - background).max(axis=2) > 40
        inter = (diff & masks[t]).sum()
        union = (diff | masks[t]).sum()
        assert inter / union > 0.8


def test_video_deterministic_and_no_masks_by_default(tmp_path):
    seq = [walk_keypoints(WalkerParams(), 6, aspect=2.0)]
    a = render_walk_video(tmp_path / "a.avi", seq, width=200, height=100, seed=3)
    assert a is None
    render_walk_video(tmp_path / "b.avi", seq, width=200, height=100, seed=3)
    assert (tmp_path / "a.avi").read_bytes() == (tmp_path / "b.avi").read_bytes()
