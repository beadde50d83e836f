"""Rendering keypoints as silhouettes on the model frame."""
from __future__ import annotations

import time

import numpy as np
import pytest

from gaitlab.constants import FRAME_SIZE, PERSON_HEIGHT_FRACTION
from gaitlab.pipeline.framing import framing_for_boxes
from gaitlab.pipeline.render import RenderStyle, person_boxes, render_silhouettes
from gaitlab.synth.walker import WalkerParams, walk_keypoints

ASPECT = 16 / 9
CLIP = np.linspace(0, 35, 8).astype(int)


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    return walk_keypoints(WalkerParams(), 90, aspect=ASPECT)


def _extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max(), ys.max()


def test_output_shape_dtype_binary(walk):
    out = render_silhouettes(walk, CLIP, aspect=ASPECT)
    assert out.shape == (8, FRAME_SIZE, FRAME_SIZE) and out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 255}
    assert render_silhouettes(walk[:20], aspect=ASPECT).shape == (20, FRAME_SIZE, FRAME_SIZE)


def test_person_centred_at_framing_height(walk):
    out = render_silhouettes(walk, CLIP, aspect=ASPECT)
    heights, centres = [], []
    for mask in out:
        x0, y0, x1, y1 = _extent(mask)
        heights.append(y1 - y0 + 1)
        centres.append(((x0 + x1) / 2, (y0 + y1) / 2))
    assert np.median(heights) == pytest.approx(PERSON_HEIGHT_FRACTION * FRAME_SIZE, rel=0.15)
    assert np.allclose(np.median(centres, axis=0), FRAME_SIZE / 2, atol=0.1 * FRAME_SIZE)


def test_silhouette_looks_like_a_standing_body(walk):
    mask = render_silhouettes(walk, [0], aspect=ASPECT)[0] > 0
    x0, y0, x1, y1 = _extent(mask)
    height = y1 - y0
    rows = mask.sum(axis=1)
    # Narrow neck/head near the top, something at the very bottom (feet), a solid trunk.
    trunk_row = y0 + int(0.35 * height)
    assert 0.08 * height < rows[trunk_row] < 0.3 * height
    assert rows[y1] > 0 and rows[y0] > 0
    assert mask.sum() > 0.08 * height * height  # not a stick figure


def test_person_boxes_cover_all_landmarks(walk):
    boxes = person_boxes(walk, ASPECT)
    assert boxes.shape == (len(walk), 4)
    px = walk[..., 0] * 1000 * ASPECT
    py = walk[..., 1] * 1000
    assert (boxes[:, 0] < px.min(axis=1)).all() and (boxes[:, 2] > px.max(axis=1)).all()
    assert (boxes[:, 1] < py.min(axis=1)).all() and (boxes[:, 3] > py.max(axis=1)).all()
    seq = walk.copy()
    seq[3] = np.nan
    assert np.isnan(person_boxes(seq, ASPECT)[3]).all()
    framing = framing_for_boxes(boxes)
    assert framing.scale > 0


def test_augmentation_changes_pixels_but_keeps_a_person(walk):
    plain = render_silhouettes(walk, CLIP, aspect=ASPECT)
    rng = np.random.default_rng(3)
    for _ in range(5):
        style = RenderStyle.random(rng)
        aug = render_silhouettes(walk, CLIP, style=style, rng=rng, aspect=ASPECT)
        assert aug.shape == plain.shape and set(np.unique(aug)) <= {0, 255}
        assert (aug != plain).mean() > 0.005
        for mask in aug:
            area = (mask > 0).sum()
            assert 0.3 * (plain[0] > 0).sum() < area < 3.5 * (plain[0] > 0).sum()


def test_each_knob_has_an_effect(walk):
    plain = render_silhouettes(walk, CLIP[:2], aspect=ASPECT)
    area = (plain > 0).sum()
    knobs = {"coat": 1.0, "skirt": 1.0, "trousers": 1.0, "shadow": 1.0, "morph_px": 2,
             "ragged": 0.8, "holes": 3, "truncate": 0.2, "thigh": 1.3, "scale": 1.1}
    for name, value in knobs.items():
        out = render_silhouettes(walk, CLIP[:2], style=RenderStyle(**{name: value}), aspect=ASPECT)
        assert (out != plain).any(), name
    bigger = render_silhouettes(walk, CLIP[:2], style=RenderStyle(coat=1.0), aspect=ASPECT)
    assert (bigger > 0).sum() > area
    eroded = render_silhouettes(walk, CLIP[:2], style=RenderStyle(morph_px=-2), aspect=ASPECT)
    assert (eroded > 0).sum() < area


def test_mirroring_flips(walk):
    style = RenderStyle(thigh=1.2, coat=0.5)
    plain = render_silhouettes(walk, CLIP, style=style, aspect=ASPECT)
    mirrored = render_silhouettes(walk, CLIP, style=RenderStyle(thigh=1.2, coat=0.5, mirror=True),
                                  aspect=ASPECT)
    np.testing.assert_array_equal(mirrored, plain[:, :, ::-1])
    assert not np.array_equal(mirrored, plain)


def test_missing_frame_renders_empty(walk):
    seq = walk.copy()
    seq[10] = np.nan
    out = render_silhouettes(seq, [9, 10, 11], aspect=ASPECT)
    assert out[0].any() and not out[1].any() and out[2].any()


def test_sequence_without_person_renders_empty(walk):
    empty = np.full_like(walk[:10], np.nan)
    out = render_silhouettes(empty, aspect=ASPECT)
    assert out.shape == (10, FRAME_SIZE, FRAME_SIZE) and not out.any()


def test_tiny_truncation_keeps_the_person(walk):
    out = render_silhouettes(walk, CLIP[:1], style=RenderStyle(truncate=0.001), aspect=ASPECT)
    assert out.any()


def test_render_is_fast(walk):
    render_silhouettes(walk, CLIP, aspect=ASPECT)  # warm-up
    # CPU time, not wall time: shared test machines are often busy with other work.
    start = time.process_time()
    for _ in range(20):
        render_silhouettes(walk, CLIP, aspect=ASPECT)
    per_clip_ms = (time.process_time() - start) / 20 * 1000
    assert per_clip_ms < 20  # about 3 ms here; the slack absorbs slow machines
