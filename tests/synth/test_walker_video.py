"""Videos of the parametric walker: frames, true masks, determinism."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from gaitlab.synth.walker import WalkerParams, walk_keypoints
from gaitlab.synth.walker_video import render_walk_video


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


def test_plain_background_without_noise(tmp_path):
    """The plain, noise-free option (the bench's videos): two flat greys behind the figure,
    any size and frame rate, the same masks as on the textured scene."""
    w, h, n, fps = 240, 160, 12, 25.0
    seq = [walk_keypoints(WalkerParams(), n, fps=fps, aspect=w / h)]
    path = tmp_path / "plain.avi"
    masks = render_walk_video(path, seq, width=w, height=h, fps=fps, return_masks=True,
                              background="plain", noise=0)
    textured = render_walk_video(tmp_path / "t.avi", seq, width=w, height=h, fps=fps, return_masks=True)
    assert (masks == textured).all()
    cap = cv2.VideoCapture(str(path))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(fps)
    cap.release()
    frames = np.stack(_read_video(path)).astype(int)
    assert frames.shape == (n, h, w, 3)
    wall, floor = (~masks[:, : int(h * 0.75)]), (~masks[:, int(h * 0.85):])
    # Outside the figure: flat wall and floor colours (up to MJPG's rounding), no texture.
    for region, rows, colour in ((wall, slice(0, int(h * 0.75)), (170, 176, 182)),
                                 (floor, slice(int(h * 0.85), h), (120, 124, 128))):
        pixels = frames[:, rows][region]
        assert np.abs(np.median(pixels, axis=0) - colour).max() <= 2
        assert np.percentile(np.abs(pixels - colour).max(axis=1), 90) <= 4
    with pytest.raises(ValueError, match="background"):
        render_walk_video(tmp_path / "x.avi", seq, background="wallpaper")
