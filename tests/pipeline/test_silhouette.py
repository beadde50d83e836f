"""Silhouette extraction on synthetic walkers: accuracy against true masks, and the warnings."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

import gaitlab.pipeline.silhouette as silhouette
from gaitlab.constants import BACKGROUND_SAMPLES, FRAME_SIZE
from gaitlab.pipeline.framing import place
from gaitlab.pipeline.silhouette import (
    WARN_CAMERA_MOVING,
    WARN_MISSING_FRAMES,
    WARN_NO_PERSON,
    WARN_SEVERAL_PEOPLE,
    extract_silhouettes,
)
from gaitlab.pipeline.video import probe_video
from gaitlab.synth.walker import WalkerParams, walk_keypoints
from gaitlab.synth.walker_video import render_walk_video

pytestmark = pytest.mark.timeout(60)

W, H, FPS, N = 640, 360, 30.0, 120


def walker(direction: int = 1, seed_phase: float = 0.0) -> np.ndarray:
    params = WalkerParams(speed=0.5, direction=direction, phase=seed_phase,
                          start_x=0.1 if direction > 0 else 0.9)
    return walk_keypoints(params, N, FPS, aspect=W / H)


@pytest.fixture(scope="module")
def one_walker(tmp_path_factory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("walk") / "walker.mp4"
    masks = render_walk_video(path, [walker()], width=W, height=H, fps=FPS, return_masks=True)
    return path, masks


def scene(w: int, h: int, seed: int) -> np.ndarray:
    """A textured static scene (BGR): coarse colour noise plus a few rectangles."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 215, size=(h // 16 + 2, w // 16 + 2, 3), dtype=np.uint8)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(15):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(10, w // 4)), y + int(rng.integers(10, h // 4))), colour, -1)
    return img


def write_scene_video(path: Path, n: int = 90, w: int = 320, h: int = 180, pan: int = 0,
                      noise: float = 3.0) -> Path:
    """No person: a static (or panning by `pan` px per frame) textured scene with noise."""
    rng = np.random.default_rng(7)
    wide = scene(w + pan * n + 1, h, seed=3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    for t in range(n):
        frame = wide[:, pan * t : pan * t + w].astype(np.float32)
        frame += rng.normal(0, noise, frame.shape).astype(np.float32)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    return path


def ious_in_view(track, true_masks: np.ndarray) -> np.ndarray:
    """IoU per frame where the true person is fully inside the picture, both masks placed with
    the track's own framing (the true mask first brought to processing resolution)."""
    out = []
    for k, i in enumerate(track.indices.tolist()):
        true = true_masks[i]
        ys, xs = np.nonzero(true)
        h, w = true.shape
        if len(xs) == 0 or xs.min() < 2 or ys.min() < 2 or xs.max() > w - 3 or ys.max() > h - 3:
            continue
        small = cv2.resize(true.astype(np.uint8), None, fx=track.scale, fy=track.scale,
                           interpolation=cv2.INTER_AREA) > 0
        placed = place(small, track.framing, k) > 0
        got = track.masks[k] > 0
        out.append((placed & got).sum() / max((placed | got).sum(), 1))
    return np.array(out)


def test_walker_masks_match_truth(one_walker):
    path, true_masks = one_walker
    info = probe_video(path)
    indices = list(range(0, N, 3))
    track = extract_silhouettes(info, indices)
    k = len(indices)
    assert track.masks.shape == (k, FRAME_SIZE, FRAME_SIZE) and track.masks.dtype == np.uint8
    assert set(np.unique(track.masks)) <= {0, 255}
    assert track.frames.shape == (k, FRAME_SIZE, FRAME_SIZE, 3) and track.frames.dtype == np.uint8
    assert track.boxes.shape == (k, 4) and track.person_found.shape == (k,)
    assert list(track.indices) == indices
    ious = ious_in_view(track, true_masks)
    assert len(ious) >= k // 2
    assert ious.mean() >= 0.85, f"mean IoU {ious.mean():.3f}"
    assert track.person_found.mean() >= 0.9
    assert track.warnings == []
    # The RGB frames are the same framing of the video: under the mask they show the person,
    # who differs from the placed background median elsewhere only by noise.
    assert track.frames[k // 2][track.masks[k // 2] > 0].size > 0


def test_boxes_in_processing_pixels(one_walker):
    path, true_masks = one_walker
    info = probe_video(path)
    track = extract_silhouettes(info, [30, 60])
    for k, i in enumerate([30, 60]):
        ys, xs = np.nonzero(true_masks[i])
        true_box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]) * track.scale
        assert np.abs(track.boxes[k] - true_box).max() < 6


def test_order_and_duplicates_kept(one_walker):
    path, _ = one_walker
    info = probe_video(path)
    track = extract_silhouettes(info, [60, 9, 9, 30])
    assert list(track.indices) == [60, 9, 9, 30]
    assert np.array_equal(track.boxes[1], track.boxes[2])


def test_one_streaming_pass(one_walker, monkeypatch):
    path, _ = one_walker
    info = probe_video(path)
    calls = []
    real = silhouette.read_frames

    def counting(info_, wanted, transform):
        calls.append(sorted(wanted))
        return real(info_, wanted, transform)

    monkeypatch.setattr(silhouette, "read_frames", counting)
    extract_silhouettes(info, [5, 50, 100])
    assert len(calls) == 1
    assert {5, 50, 100} <= set(calls[0])
    assert len(calls[0]) <= BACKGROUND_SAMPLES + 3


def test_frames_past_the_real_end_are_dropped(one_walker):
    path, _ = one_walker
    info = dataclasses.replace(probe_video(path), n_frames=N + 40)  # a container that lied
    track = extract_silhouettes(info, [10, N + 20, 20])
    assert list(track.indices) == [10, 20]
    assert WARN_MISSING_FRAMES in track.warnings
    assert track.masks.shape[0] == 2


def test_two_walkers_warn(tmp_path):
    path = tmp_path / "two.mp4"
    render_walk_video(path, [walker(1), walker(-1, 0.3)], width=W, height=H, fps=FPS)
    track = extract_silhouettes(probe_video(path), list(range(0, N, 4)))
    assert WARN_SEVERAL_PEOPLE in track.warnings
    assert WARN_CAMERA_MOVING not in track.warnings


def test_no_person_warns(tmp_path):
    track = extract_silhouettes(probe_video(write_scene_video(tmp_path / "empty.mp4")), range(0, 90, 5))
    assert WARN_NO_PERSON in track.warnings
    assert track.person_found.mean() < 0.5
    assert np.isnan(track.boxes[~track.person_found]).all()
    assert track.frames.any()  # the scene is still placed for display


def test_panning_camera_warns(tmp_path):
    track = extract_silhouettes(probe_video(write_scene_video(tmp_path / "pan.mp4", pan=4)), range(0, 90, 5))
    assert WARN_CAMERA_MOVING in track.warnings


def test_static_scene_is_not_camera_motion(tmp_path):
    track = extract_silhouettes(probe_video(write_scene_video(tmp_path / "still.mp4", noise=6.0)), range(0, 90, 5))
    assert WARN_CAMERA_MOVING not in track.warnings


def test_rotated_phone_video(tmp_path):
    """A portrait walk stored as landscape pixels plus rotation metadata, as phones do: the
    silhouettes must come out upright and match the portrait truth."""
    from test_video import set_mp4_rotation  # the same mp4 header patch as the video tests

    portrait = tmp_path / "portrait.mp4"
    kp = walk_keypoints(WalkerParams(speed=0.5, start_x=0.1, height=0.5), 90, FPS, aspect=H / W)
    true_masks = render_walk_video(portrait, [kp], width=H, height=W, fps=FPS, return_masks=True)
    stored = tmp_path / "stored.mp4"
    reader = cv2.VideoCapture(str(portrait))
    writer = cv2.VideoWriter(str(stored), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    ok, frame = reader.read()
    while ok:
        writer.write(cv2.rotate(frame, cv2.ROTATE_90_COUNTERCLOCKWISE))
        ok, frame = reader.read()
    writer.release()
    reader.release()
    set_mp4_rotation(stored, 90)
    info = probe_video(stored)
    assert (info.width, info.height, info.rotation) == (H, W, 90)
    ious = ious_in_view(extract_silhouettes(info, list(range(0, 90, 3))), true_masks)
    assert len(ious) >= 8 and ious.mean() >= 0.85
