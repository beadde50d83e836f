"""The parametric walker: anatomy, rhythm, parameters and CSV output."""
from __future__ import annotations

import numpy as np
import pytest

from gaitlab.pipeline.keypoints import load_keypoint_csv, step_signal
from gaitlab.synth.walker import WalkerParams, walk_keypoints, write_keypoint_csv

FPS = 30.0


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
    # The person spans about `height` of the frame and stands on the ground line (the nearer
    # foot a little below it, the farther one a little above: the side camera's perspective).
    span = y.max(axis=1) - y.min(axis=1)
    assert np.median(span) == pytest.approx(0.6 * 0.9, rel=0.15)
    assert y.max(axis=1) == pytest.approx(0.9, abs=0.005)


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
    # Half a cycle later the left leg is where the right one was (to within the perspective
    # that tells the nearer leg from the farther one: about 0.007 of the frame here).
    np.testing.assert_allclose(shifted[0, 27, :2], base[0, 28, :2], atol=0.01)


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


# --- Clinical terms, camera views and walking aids ------------------------------------------


def test_clinical_defaults_add_nothing():
    plain = walk_keypoints(WalkerParams(), 60)
    explicit = walk_keypoints(WalkerParams(affected_side="right", stance_asymmetry=0, trunk_sway=0, shuffle=0,
                                           festination=0, freeze_rate=0, tremor=0, device="none", view="side"), 60)
    np.testing.assert_array_equal(plain, explicit)


def test_front_view_approaches_with_perspective():
    seq = walk_keypoints(WalkerParams(view="front", speed=0.6), 120, aspect=9 / 16)
    y = seq[..., 1]
    span = y.max(axis=1) - y.min(axis=1)
    assert span[-1] > 1.3 * span[0]  # nearer, bigger
    assert span[-1] == pytest.approx(0.6, rel=0.1) and y[-1].max() == pytest.approx(0.9, abs=0.02)
    # Facing the camera, the person's left shoulder is on the image's right; away, on its left.
    assert (seq[:, 11, 0] > seq[:, 12, 0]).all()
    away = walk_keypoints(WalkerParams(view="front", direction=-1), 60, aspect=9 / 16)
    assert (away[:, 11, 0] < away[:, 12, 0]).all()
    # The hips hardly move sideways: the walk goes into the picture.
    assert np.ptp(seq[:, [23, 24], 0].mean(1)) < 0.05


def test_trunk_sway_and_base_width_show_from_the_front_only():
    def shoulder_roll(s):
        return np.ptp(s[:, [11, 12], 0].mean(1) - s[:, [23, 24], 0].mean(1))

    front = dict(view="front", speed=0.3)
    assert shoulder_roll(walk_keypoints(WalkerParams(trunk_sway=10, **front), 90, aspect=0.6)) > \
        3 * shoulder_roll(walk_keypoints(WalkerParams(**front), 90, aspect=0.6)) + 0.005
    # From the side a wide base shows only through the perspective (under 1% of the frame),
    # against the several percent it moves the feet seen from the front.
    np.testing.assert_allclose(walk_keypoints(WalkerParams(base_width=0.3), 60)[..., :2],
                               walk_keypoints(WalkerParams(), 60)[..., :2], atol=0.01)
    wide = walk_keypoints(WalkerParams(base_width=0.3, **front), 60, aspect=0.6)
    narrow = walk_keypoints(WalkerParams(base_width=0.05, **front), 60, aspect=0.6)
    assert np.abs(wide[:, 27, 0] - wide[:, 28, 0]).mean() > 2 * np.abs(narrow[:, 27, 0] - narrow[:, 28, 0]).mean()


def test_festination_quickens_and_shortens_steps():
    base = walk_keypoints(WalkerParams(), 240)
    fest = walk_keypoints(WalkerParams(festination=1.0), 240)
    late = slice(150, 240)  # festination has built up after 4 s

    def crossings(s):
        return np.count_nonzero(np.diff(np.sign(s[late, 27, 0] - s[late, 28, 0])))

    assert crossings(fest) > crossings(base)
    assert step_signal(fest[late]).max() < 0.8 * step_signal(base[late]).max()


def test_stance_asymmetry_shortens_the_affected_stance():
    def stance_share(s, ankle):  # share of frames the ankle moves slowly (it stands on the floor)
        v = np.abs(np.diff(s[:, ankle, 0]))
        return (v < 0.3 * np.percentile(v, 90)).mean()

    seq = walk_keypoints(WalkerParams(stance_asymmetry=1.0), 240)
    assert stance_share(seq, 28) < stance_share(seq, 27) - 0.05


def test_walking_frame_hands_stay_on_the_handles():
    from gaitlab.synth.walker import walk_with_device

    seq, frame = walk_with_device(WalkerParams(device="frame", step_length=0.25, speed=0.3, cadence=80,
                                               trunk_flexion=20), 120)
    assert frame.kind == "frame" and frame.points.shape == (120, 8, 2)
    gap = np.linalg.norm(seq[:, 15, :2] - frame.points[:, 0], axis=1)  # left wrist to its handle
    assert np.median(gap) < 0.03
    assert np.ptp(seq[:, 15, 0] - seq[:, 11, 0]) < 0.1  # no arm swing beyond following the frame
    with pytest.raises(ValueError, match="device"):
        walk_keypoints(WalkerParams(device="wheelchair"), 10)


def test_head_flexion_carries_the_head_forward():
    from gaitlab.pipeline.features import head_forward

    angles = [head_forward(walk_keypoints(WalkerParams(head_flexion=h), 120)) for h in (0.0, 15.0, 30.0)]
    # The plain walker's head sits where MediaPipe puts a real Normal walker's (median 13.6°).
    assert angles[0] == pytest.approx(13.6, abs=3.0)
    assert angles[1] - angles[0] == pytest.approx(15.0, abs=2.0) and angles[2] - angles[1] == pytest.approx(15.0, abs=2.0)


def test_side_camera_has_perspective_like_the_real_set_up():
    # Walking left to right the right side is nearer the camera (real data: the left
    # shoulder's z is the larger in every such walk), and the near shoulder is magnified away
    # from the frame's centre. So the shoulders' order along the walking direction flips as the
    # walker passes the centre, as in the real walks (+0.03 at the left edge, -0.065 at the right).
    for direction, start, near_z in ((1, 0.05, lambda s: s[:, 12, 2] < s[:, 11, 2]),
                                     (-1, 0.95, lambda s: s[:, 11, 2] < s[:, 12, 2])):
        seq = walk_keypoints(WalkerParams(speed=0.8, start_x=start, direction=direction), 150)
        assert near_z(seq).all()
        ahead = (seq[:, 11, 0] - seq[:, 12, 0]) * direction  # left shoulder ahead of the right
        hip_x = seq[:, [23, 24], 0].mean(1)
        assert ahead[hip_x < 0.3].min() > 0 and ahead[hip_x > 0.7].max() < 0
