"""Is the camera moving? The share of the background that stands still, frame to frame.

`CameraMotion.step(grey, boxes)` takes each analysed frame (grey uint8 [H, W]) with the
people's boxes in it (normalised [x0, y0, x1, y1], masked out: people's own motion is not the
camera's) and returns the share of background corners that stood still since the previous
frame, by sparse optical flow on a small copy (about 1 ms a frame), or None when the frame
has too few corners to tell (a plain wall, darkness). `pipeline/pose.py` decides from the
median over the video (`CAMERA_STILL_SHARE` there).
"""
from __future__ import annotations

import math
from typing import Iterable

import cv2
import numpy as np

# Optical flow on frames this wide: a corner is still when it moves < FLOW_STILL_PX. With a
# fixed camera 16-80% of corners are still (demo videos, vtest.avi), even where the plain
# background leaves mostly corners on people; panning by 0.3 frame widths in 4 s or shaking
# leaves 0-4%.
FLOW_WIDTH, FLOW_STILL_PX = 160, 0.15
FLOW_MIN_POINTS = 12  # fewer trackable corners tell nothing
BOX_MARGIN = 0.05  # people's boxes are widened by this share of the frame before masking


class CameraMotion:
    """The background's stillness between consecutive analysed frames (module docstring)."""

    def __init__(self) -> None:
        self.prev: np.ndarray | None = None

    def step(self, grey: np.ndarray, boxes: Iterable[np.ndarray] = ()) -> float | None:
        h, w = grey.shape
        small = cv2.resize(grey, (FLOW_WIDTH, max(16, round(FLOW_WIDTH * h / w))),
                           interpolation=cv2.INTER_AREA)
        prev, self.prev = self.prev, small
        if prev is None or prev.shape != small.shape:
            return None
        sh, sw = small.shape
        mask = np.full(small.shape, 255, np.uint8)
        for b in boxes:
            x0, y0, x1, y1 = (np.asarray(b, dtype=np.float64) + (-BOX_MARGIN, -BOX_MARGIN, BOX_MARGIN, BOX_MARGIN)) \
                * (sw, sh, sw, sh)
            if not np.isfinite([x0, y0, x1, y1]).all():
                continue
            mask[max(int(y0), 0):max(int(math.ceil(y1)), 0), max(int(x0), 0):max(int(math.ceil(x1)), 0)] = 0
        points = cv2.goodFeaturesToTrack(prev, 100, 0.01, 4, mask=mask)
        if points is None or len(points) < FLOW_MIN_POINTS:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, small, points, None)
        ok = status.ravel() == 1
        if ok.sum() < FLOW_MIN_POINTS:
            return None
        flow = (moved - points).reshape(-1, 2)[ok]
        return float(np.mean(np.hypot(flow[:, 0], flow[:, 1]) < FLOW_STILL_PX))


__all__ = ["CameraMotion"]
