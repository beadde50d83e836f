"""From raw landmarks to a walk in body units: cleaning, aspect, body height, view and direction.

Input: a MediaPipe Pose sequence float [T, 33, 4] (x, y normalised to the source frame's width
and height, z, visibility; all-NaN rows where no one was detected) and optionally the source
frame's width/height (`aspect`; None: `keypoints.source_aspect`). `prepare` drops frames whose
body is not upright (`upright`: pose estimators fold or invert a person entering the frame),
cleans the rest with `gaitlab.pipeline.keypoints.fill_gaps` (gaps bridged, the longest usable
stretch kept), decides the view (side: the pelvis crosses the image, or the ankles swing far
ahead and behind while the shoulders overlap; else frontal) and returns a `Walk`:

- `points` float64 [T', 33, 2]: isotropic coordinates in units of body height, y up. In a side
  (sagittal) view x points in the walking direction (a right-to-left walk is mirrored, so
  "forward" is always +x); in a frontal view x is the image's horizontal axis.
- `offset`: index in the input of `points[0]` (event frames are reported in input indices).
- `view`: "sagittal" or "frontal" (walking towards or away from the camera), `direction`:
  +1 left-to-right, -1 right-to-left, 0 frontal; `cycle_frames`: estimated gait cycle length.

Unusable input raises `Unusable` with a plain-language reason (never an InputError: the caller
turns it into a warning and missing parameters).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaitlab.errors import InputError
from gaitlab.pipeline import keypoints
from gaitlab.pipeline.clips import estimate_cycle_frames
from gaitlab.pipeline.landmarks import ANKLE, FOOT_INDEX, HEEL, HIP, SHOULDER
from gaitlab.pipeline.render import body_height

# A side view is recognised by the pelvis crossing the image: the walks of KOA-PD-NM (side
# views, shuffling Parkinson's gait included) travel 1.5-2.8 body heights between the first and
# the last quarter of the walk, the walks towards the camera of the disabled-gait set under 0.25.
SIDE_TRAVEL = 0.5
# Without travel (a treadmill, walking on the spot) a side view still swings the ankles far ahead
# of and behind the pelvis (95th − 5th percentile, body heights) while the shoulders overlap.
SIDE_EXCURSION, SIDE_SHOULDERS = 0.25, 0.1
# Pelvis travel (body heights) that settles the walking direction; below it, the feet do.
DIRECTION_TRAVEL = 0.25


class Unusable(Exception):
    """The sequence cannot give kinematics; `str(exc)` is the plain-language reason."""


@dataclass(frozen=True)
class Walk:
    """A cleaned walk in body units; see the module docstring for the fields' meaning."""

    points: np.ndarray
    offset: int
    view: str
    direction: int
    cycle_frames: float
    height: float  # body height in frame heights (the unit of `points`)
    aspect: float


def _locate(seq: np.ndarray, part: np.ndarray) -> int:
    """Index in `seq` [T, 33, 4] where the cleaned `part` [T', 33, 4] starts.

    `fill_gaps` keeps one stretch of the input; its first and last frames are detections, so
    the start is the window whose end frames lie nearest the part's (exact for plain gap
    filling, nearest if the cleaning also smooths).
    """
    n = len(part)
    if n > len(seq):
        return 0
    xy = seq[..., :2].astype(np.float64)
    first = np.nansum(np.abs(xy[: len(seq) - n + 1] - part[0, :, :2]), axis=(1, 2))
    last = np.nansum(np.abs(xy[n - 1 :] - part[-1, :, :2]), axis=(1, 2))
    ok = keypoints.detected_frames(seq)
    cost = np.where(ok[: len(seq) - n + 1] & ok[n - 1 :], first + last, np.inf)
    return int(np.argmin(cost)) if np.isfinite(cost).any() else 0


def upright(seq: np.ndarray) -> np.ndarray:
    """bool [T]: frames whose body stands the right way up in the image (shoulders above hips,
    hips above ankles, each by at least half the walk's typical distance). Pose estimators
    return upside-down or folded bodies for a person entering or leaving the frame."""
    y = seq[..., 1].astype(np.float64)  # image y: down
    hip = (y[:, HIP[0]] + y[:, HIP[1]]) / 2
    trunk = hip - (y[:, SHOULDER[0]] + y[:, SHOULDER[1]]) / 2
    leg = (y[:, ANKLE[0]] + y[:, ANKLE[1]]) / 2 - hip
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(trunk) & np.isfinite(leg) & (trunk > 0) & (leg > 0)
        if not ok.any():
            return ok
        return ok & (trunk > 0.5 * np.median(trunk[ok])) & (leg > 0.5 * np.median(leg[ok]))


def clean(seq: np.ndarray) -> tuple[np.ndarray, int]:
    """The cleaned sequence float32 [T', 33, 4] (no NaN) and its offset in `seq`: frames that
    are not `upright` count as missed detections, then `fill_gaps`."""
    ok = upright(seq)
    if not ok.any():
        raise Unusable("no frame shows a person standing upright (a rotated video, or landmarks that "
                       "are not of a walking person)")
    seq = np.where(ok[:, None, None], seq, np.nan).astype(np.float32)
    try:
        part = keypoints.fill_gaps(seq)
    except InputError as exc:
        raise Unusable(f"the landmarks are too sparse to measure the walk ({exc})") from None
    return part, _locate(seq, part)


def _usable_aspect(aspect: float | None, part: np.ndarray) -> float:
    try:
        a = float(aspect) if aspect is not None else float("nan")
    except (TypeError, ValueError):
        a = float("nan")
    return a if np.isfinite(a) and 0.05 < a < 20 else keypoints.source_aspect(part)


def _mid(p: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    return (p[:, pair[0]] + p[:, pair[1]]) / 2


def prepare(seq: np.ndarray, aspect: float | None = None) -> Walk:
    """Clean `seq` [T, 33, 4] and express it as a `Walk`; `Unusable` when it cannot be."""
    seq = np.asarray(seq)
    if seq.ndim != 3 or seq.shape[1:] != (33, 4):
        raise Unusable(f"landmarks must have shape [frames, 33, 4], not {list(seq.shape)}")
    with np.errstate(all="ignore"):
        seq = seq.astype(np.float64)
        seq = np.where(np.abs(seq) < 1e6, seq, np.nan).astype(np.float32)  # absurd values: no detection
        part, offset = clean(seq)
        a = _usable_aspect(aspect, part)
        p = part[..., :2].astype(np.float64) * [a, -1.0]  # frame heights, y up
        height = body_height(p)
        if not (np.isfinite(height) and height > 1e-4):
            raise Unusable("the body's size could not be measured from the landmarks")
        p /= height
        hip = _mid(p, HIP)
        quarter = max(1, len(p) // 4)
        travel = float(np.median(hip[-quarter:, 0]) - np.median(hip[:quarter, 0]))
        rel = p[:, list(ANKLE), 0] - hip[:, :1]  # [T', 2] ankle ahead of the pelvis
        excursion = float(np.mean(np.percentile(rel, 95, axis=0) - np.percentile(rel, 5, axis=0)))
        shoulders = float(np.median(np.abs(p[:, SHOULDER[0], 0] - p[:, SHOULDER[1], 0])))
    if not (np.isfinite(excursion) and np.isfinite(travel)):
        raise Unusable("the landmarks hold no finite positions")
    side = abs(travel) >= SIDE_TRAVEL or (excursion >= SIDE_EXCURSION and shoulders < SIDE_SHOULDERS)
    if not side:
        # The nearer foot shows lower in the image: the signed height difference of the ankles
        # repeats once per cycle (its first autocorrelation peak is a whole cycle, which
        # `estimate_cycle_frames`, made for twice-per-cycle signals, reports doubled).
        cycle = estimate_cycle_frames(p[:, ANKLE[0], 1] - p[:, ANKLE[1], 1], default=np.nan) / 2
        return Walk(p, offset, "frontal", 0, float(cycle), float(height), a)
    if abs(travel) > DIRECTION_TRAVEL:
        direction = 1 if travel > 0 else -1
    else:  # treadmill or walking on the spot: the feet point where the person faces
        toes = p[:, list(FOOT_INDEX), 0] - p[:, list(HEEL), 0]
        direction = -1 if float(np.median(toes)) < 0 else 1
    p[..., 0] *= direction
    steps = np.abs(p[:, HEEL[0], 0] - p[:, HEEL[1], 0])
    cycle = estimate_cycle_frames(steps, default=np.nan)
    return Walk(p, offset, "sagittal", direction, float(cycle), float(height), a)
