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
