"""Bodies drawn from keypoints for people: body height, body shapes (the walker videos), the skeleton."""
from __future__ import annotations

import numpy as np
import pytest

from gaitlab.pipeline.landmarks import ANKLE, KNEE, LEFT_BONES, RIGHT_BONES, SHOULDER
from gaitlab.pipeline.render import (SKELETON_COLORS, SOURCE_HEIGHT, RenderStyle, body_height, body_shapes, draw_body,
                                     draw_skeleton)
from gaitlab.synth.walker import WalkerParams, walk_keypoints

ASPECT = 16 / 9
SIZE = (360, 640)  # canvas (height, width) the landmarks are drawn on


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    return walk_keypoints(WalkerParams(), 90, aspect=ASPECT)


def _pixels(seq: np.ndarray) -> np.ndarray:
    return np.asarray(seq, np.float64)[..., :2] * [SIZE[1], SIZE[0]]


def _drawn(seq: np.ndarray, t: int, style: RenderStyle | None = None) -> np.ndarray:
    pts = _pixels(seq)
    img = np.zeros(SIZE, np.uint8)
    draw_body(img, body_shapes(pts, body_height(pts), style), t)
    return img > 0


def _extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max(), ys.max()


@pytest.mark.parametrize("height", [0.4, 0.6, 0.8])
def test_body_height_is_the_walkers_standing_height(height):
    seq = walk_keypoints(WalkerParams(height=height), 60, aspect=ASPECT)
    pts = seq[..., :2].astype(np.float64) * [SOURCE_HEIGHT * ASPECT, SOURCE_HEIGHT]
    assert body_height(pts) == pytest.approx(height * SOURCE_HEIGHT, rel=0.08)
    # Joint distances, not the box: the same whatever the legs are doing.
    halves = [body_height(pts[:30]), body_height(pts[30:])]
    assert halves[0] == pytest.approx(halves[1], rel=0.02)


def test_body_height_is_nan_without_a_person(walk):
    assert np.isnan(body_height(np.full((5, 33, 2), np.nan)))
    pts = _pixels(walk)
    pts[:40] = np.nan  # frames without a person do not count
    assert body_height(pts) == pytest.approx(body_height(_pixels(walk)[40:]))


def test_drawn_body_looks_like_a_standing_body(walk):
    mask = _drawn(walk, 0)
    x0, y0, x1, y1 = _extent(mask)
    height = y1 - y0
    assert height == pytest.approx(0.6 * SIZE[0], rel=0.15)  # the walker spans 0.6 of the frame
    rows = mask.sum(axis=1)
    trunk_row = y0 + int(0.35 * height)  # a solid trunk, narrower than the body is tall
    assert 0.08 * height < rows[trunk_row] < 0.3 * height
    assert rows[y1] > 0 and rows[y0] > 0
    assert mask.sum() > 0.08 * height * height  # a body with volume, not a stick figure
    # The feet are at the bottom, the shoulders above the knees.
    feet_y = _pixels(walk)[0, list(ANKLE), 1]
    assert (feet_y > y0 + 0.85 * height).all()
    assert _pixels(walk)[0, list(SHOULDER), 1].max() < _pixels(walk)[0, list(KNEE), 1].min()


@pytest.mark.parametrize("knob", ["arm", "thigh", "shank", "torso", "head"])
def test_each_width_knob_widens_its_part(walk, knob):
    plain = _drawn(walk, 5)
    wider = _drawn(walk, 5, RenderStyle(**{knob: 1.5}))
    narrower = _drawn(walk, 5, RenderStyle(**{knob: 0.6}))
    assert wider.sum() > plain.sum() > narrower.sum()
    assert (wider | plain).sum() == wider.sum()  # widening only adds pixels


def test_colours_by_part_and_missing_frames(walk):
    pts = _pixels(walk)
    pts[10] = np.nan
    shapes = body_shapes(pts, body_height(pts))
    assert set(shapes.parts) == {"thigh", "shank", "foot", "torso", "neck", "arm", "hand"}
    img = np.zeros((*SIZE, 3), np.uint8)
    draw_body(img, shapes, 0, {"thigh": (255, 0, 0), "head": (0, 255, 0)}, default=(0, 0, 255))
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert {(255, 0, 0), (0, 255, 0), (0, 0, 255)} <= colours
    empty = np.zeros(SIZE, np.uint8)
    draw_body(empty, shapes, 10)  # a frame without landmarks draws nothing
    assert not empty.any()


def test_skeleton_sides_in_their_colours(walk):
    frames = np.zeros((2, *SIZE, 3), np.uint8)
    points = _pixels(walk[:2]).copy()
    points[1, :, :] = np.nan
    out = draw_skeleton(frames, points)
    assert out.shape == frames.shape and out.dtype == np.uint8 and not frames.any()  # a new array
    assert not out[1].any()  # unknown landmarks: nothing drawn
    for side, bones in (("left", LEFT_BONES), ("right", RIGHT_BONES)):
        a, b = bones[3]  # knee → ankle: the middle of the shank is that side's colour
        x, y = np.round((points[0, a] + points[0, b]) / 2).astype(int)
        patch = out[0, y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)
        assert np.abs(patch - SKELETON_COLORS[side]).sum(axis=1).min() < 60, side
