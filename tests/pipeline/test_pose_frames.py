"""Pose frames (view `pose_limbs`): landmarks drawn as soft limbs, one channel per body side."""
from __future__ import annotations

import numpy as np
import pytest

from gaitlab.constants import FRAME_SIZE
from gaitlab.pipeline.landmarks import ANKLE, KNEE, MIRROR_ORDER
from gaitlab.pipeline.pose_frames import BODY_FRACTION, PoseStyle, pose_frame_matrices, render_pose_frames, walking_direction
from gaitlab.synth.walker import WalkerParams, walk_keypoints

ASPECT = 16 / 9
CLIP = np.linspace(0, 35, 8).astype(int)


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    return walk_keypoints(WalkerParams(), 90, aspect=ASPECT)


def _pixel(matrix: np.ndarray, xy: np.ndarray) -> tuple[int, int]:
    x, y = matrix[:, :2] @ xy + matrix[:, 2]
    return int(round(y)), int(round(x))


def test_shape_dtype_and_three_channels(walk):
    out = render_pose_frames(walk, CLIP, aspect=ASPECT)
    assert out.shape == (8, FRAME_SIZE, FRAME_SIZE, 3) and out.dtype == np.uint8
    for c in range(3):  # every channel holds something in every frame
        assert (out[..., c].reshape(8, -1).max(axis=1) > 100).all()


def test_left_leg_is_drawn_in_channel_0_and_right_in_channel_1(walk):
    out = render_pose_frames(walk, CLIP, aspect=ASPECT)
    m = pose_frame_matrices(walk, CLIP, ASPECT)
    for j, t in enumerate(CLIP):
        if abs(walk[t, KNEE[0], 0] - walk[t, KNEE[1], 0]) * ASPECT < 0.05:
            continue  # knees side by side: both channels overlap there
        ly, lx = _pixel(m[j], walk[t, KNEE[0], :2])
        ry, rx = _pixel(m[j], walk[t, KNEE[1], :2])
        assert out[j, ly, lx, 0] > 150 and out[j, ry, rx, 1] > 150
        assert out[j, ly, lx, 1] < 100 and out[j, ry, rx, 0] < 100


def test_right_to_left_walk_is_mirrored_with_sides_swapped(walk):
    """The mirror image of a walk (x flipped, left and right labels swapped, as a camera on the
    other side would see it) walks right-to-left and draws the same frames."""
    mirror = walk[:, MIRROR_ORDER].copy()
    mirror[..., 0] = 1.0 - mirror[..., 0]
    assert walking_direction(walk) == 1 and walking_direction(mirror) == -1
    a = render_pose_frames(walk, CLIP, aspect=ASPECT).astype(int)
    b = render_pose_frames(mirror, CLIP, aspect=ASPECT).astype(int)
    assert np.abs(a - b).mean() < 1.0  # sub-pixel rounding only


def test_one_crop_per_clip_keeps_progression_visible(walk):
    """Within a clip the walker moves across the frame (stride visible); each clip is centred."""
    out = render_pose_frames(walk, np.concatenate([CLIP, CLIP + 40]), aspect=ASPECT)
    centre = lambda img: (img.sum(axis=(0, 2)) * np.arange(FRAME_SIZE)).sum() / img.sum()  # noqa: E731
    xs = np.array([centre(f.astype(float)) for f in out])
    assert xs[7] - xs[0] > 10 and xs[15] - xs[8] > 10  # moves right within each clip
    assert abs(xs[:8].mean() - FRAME_SIZE / 2) < 20 and abs(xs[8:].mean() - FRAME_SIZE / 2) < 20


def test_body_height_sets_the_scale(walk):
    """The drawn walker, head to toe, is BODY_FRACTION of the frame high (within the head's
    radius and the line width), whatever the source size."""
    out = render_pose_frames(walk, CLIP, aspect=ASPECT)
    rows = np.flatnonzero(out[0].max(axis=(1, 2)) > 60)
    assert abs((rows[-1] - rows[0]) / FRAME_SIZE - BODY_FRACTION) < 0.08
    half = render_pose_frames(walk * [0.5, 0.5, 1, 1], CLIP, aspect=ASPECT)
    rows_half = np.flatnonzero(half[0].max(axis=(1, 2)) > 60)
    assert abs((rows_half[-1] - rows_half[0]) - (rows[-1] - rows[0])) <= 3


def test_no_person_gives_black_frames(walk):
    empty = np.full_like(walk[:10], np.nan)
    assert not render_pose_frames(empty, aspect=ASPECT).any()


def test_augmentation_changes_frames_but_keeps_the_body(walk):
    rng = np.random.default_rng(1)
    plain = render_pose_frames(walk, CLIP, aspect=ASPECT)
    for _ in range(5):
        aug = render_pose_frames(walk, CLIP, style=PoseStyle.random(rng), rng=rng, aspect=ASPECT)
        assert not np.array_equal(aug, plain)
        assert (aug.reshape(8, -1).max(axis=1) > 100).all()


def test_matrices_place_the_ankles_where_they_are_drawn(walk):
    out = render_pose_frames(walk, CLIP, aspect=ASPECT)
    m = pose_frame_matrices(walk, CLIP, ASPECT)
    inside = 0
    for j, t in enumerate(CLIP):
        y, x = _pixel(m[j], walk[t, ANKLE[0], :2])
        if 0 <= x < FRAME_SIZE and 0 <= y < FRAME_SIZE:  # a long stride may carry a foot past the edge
            assert out[j, y, x].max() > 150
            inside += 1
    assert inside >= 6
