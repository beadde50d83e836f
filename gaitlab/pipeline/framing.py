"""Place a person on the 224x224 model frame at a fixed height scale.

Video silhouettes and rendered keypoint silhouettes go through the same framing, so one model
serves both inputs. A *framing* is, per frame, the centre of the person's box in source pixels
and one scale for the whole sequence (the person's median height maps to
`PERSON_HEIGHT_FRACTION` of the frame), so the silhouette does not breathe as legs swing.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gaitlab.constants import FRAME_SIZE, PERSON_HEIGHT_FRACTION


@dataclass(frozen=True)
class Framing:
    """Per-frame placement: `centers` [T, 2] (x, y in source pixels) and one `scale`."""

    centers: np.ndarray
    scale: float

    def matrix(self, t: int, size: int = FRAME_SIZE) -> np.ndarray:
        """2x3 affine matrix mapping source pixels of frame `t` onto the size x size frame."""
        cx, cy = self.centers[t]
        s = self.scale * size / FRAME_SIZE
        return np.array(
            [[s, 0.0, size / 2 - s * cx], [0.0, s, size / 2 - s * cy]], dtype=np.float64
        )

    def apply_points(self, t: int, xy: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
        """Map source-pixel points `xy` [..., 2] of frame `t` to frame coordinates."""
        m = self.matrix(t, size)
        return xy @ m[:, :2].T + m[:, 2]


def _fill_and_smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Interpolate NaN gaps (edges held) and smooth with a centred moving average."""
    values = values.astype(np.float64).copy()
    ok = np.isfinite(values)
    if not ok.any():
        return np.zeros_like(values)
    idx = np.arange(len(values))
    values[~ok] = np.interp(idx[~ok], idx[ok], values[ok])
    if window > 1 and len(values) > 1:
        pad = window // 2
        padded = np.pad(values, pad, mode="edge")
        kernel = np.ones(window) / window
        values = np.convolve(padded, kernel, mode="valid")[: len(idx)]
    return values


def framing_for_boxes(boxes: np.ndarray, smooth: int = 5) -> Framing:
    """Framing from per-frame person boxes `boxes` [T, 4] = (x0, y0, x1, y1), NaN where none.

    The scale uses the median box height over the sequence (robust to a frame where the person
    is cut off); centres are gap-filled and lightly smoothed so the crop does not jitter.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    heights = boxes[:, 3] - boxes[:, 1]
    valid = np.isfinite(heights) & (heights > 1)
    height = float(np.median(heights[valid])) if valid.any() else float(FRAME_SIZE)
    scale = PERSON_HEIGHT_FRACTION * FRAME_SIZE / height
    cx = _fill_and_smooth((boxes[:, 0] + boxes[:, 2]) / 2, smooth)
    cy = _fill_and_smooth((boxes[:, 1] + boxes[:, 3]) / 2, smooth)
    return Framing(centers=np.stack([cx, cy], axis=1), scale=scale)


def place(image: np.ndarray, framing: Framing, t: int, size: int = FRAME_SIZE) -> np.ndarray:
    """Warp frame `t` (a mask or an image) onto the size x size model frame."""
    interp = cv2.INTER_NEAREST if image.dtype == bool else cv2.INTER_LINEAR
    src = image.astype(np.uint8) * 255 if image.dtype == bool else image
    return cv2.warpAffine(
        src, framing.matrix(t, size), (size, size), flags=interp, borderValue=0
    )
