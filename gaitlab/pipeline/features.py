"""Hand-crafted gait features of a keypoint sequence, and the body frame they are measured in.

Input: MediaPipe Pose keypoints float [T, 33, 4] (x, y, z, visibility; x, y in fractions of
the source frame; all-NaN frames where no one was detected). `body_frame` cleans a sequence
and expresses it in a person-centred frame (`BodyFrame`, points [T, 33, 2]); `gait_features`
returns the named `FEATURES` of one sequence ({name: float}, NaN where undefined) and
`feature_matrix` stacks them for N sequences (float [N, len(FEATURES)]). `head_forward`
measures head posture (outside `FEATURES`: the protocol's feature baseline was measured
without it). `mirror` flips a sequence left ↔ right.

Features are *rate-free*: frame rates are unknown and differ by group, so a sequence is first
resampled to a fixed number of steps per estimated gait cycle, and nothing grows with the
number of frames (a model reading the sequence length learns a shortcut). The classifiers
built on these features live in `gaitlab.training.baseline`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d
from scipy.signal import find_peaks

from gaitlab.constants import DEFAULT_CYCLE_FRAMES
from gaitlab.pipeline import keypoints
from gaitlab.pipeline.clips import estimate_cycle_frames
from gaitlab.pipeline.landmarks import ANKLE, ELBOW, HIP, KNEE, L_EAR, MIRROR_ORDER, NOSE, R_EAR, SHOULDER, WRIST

STEPS_PER_CYCLE = 32  # resolution of the rate-free time axis used by the features


@dataclass(frozen=True)
class BodyFrame:
    """A sequence in a person-centred, isotropic frame.

    `points` float32 [T, 33, 2]: x along the walking direction (the walk always goes towards
    +x), y up, in units of body height (shoulder-mid to ankle-mid); not centred, so progression
    stays visible. `cycle_frames`: estimated gait-cycle length in source frames. `direction`:
    +1 when the person walked left→right in the image, −1 when it was mirrored.
    """

    points: np.ndarray
    cycle_frames: float
    direction: int


def mirror(seq: np.ndarray) -> np.ndarray:
    """Keypoints of the horizontally flipped video [T, 33, 4]: x → 1 − x, left/right labels swap."""
    out = np.array(seq, dtype=np.float32, copy=True)
    out[..., 0] = 1.0 - out[..., 0]
    return out[:, MIRROR_ORDER]


def cycle_frames(seq: np.ndarray) -> float:
    """Gait-cycle length in frames from the horizontal ankle distance, else (walks towards the
    camera barely separate the ankles horizontally) from the vertical one."""
    cycle = estimate_cycle_frames(keypoints.step_signal(seq), default=np.nan)
    if not np.isfinite(cycle):
        vertical = np.abs(seq[:, ANKLE[0], 1] - seq[:, ANKLE[1], 1])
        cycle = estimate_cycle_frames(vertical, default=DEFAULT_CYCLE_FRAMES)
    return float(cycle)


def body_frame(seq: np.ndarray) -> BodyFrame:
    """Clean `seq` [T, 33, 4] (when it has gaps) and express it in its `BodyFrame` (see there)."""
    seq = np.asarray(seq, dtype=np.float32)
    if not np.isfinite(seq[..., :2]).all():
        seq = keypoints.clean_sequence(seq)
    cycle = cycle_frames(seq)
    p = seq[..., :2].astype(np.float64) * [keypoints.estimate_aspect(seq), -1.0]  # isotropic, y up
    mid = lambda pair: p[:, list(pair)].mean(axis=1)  # noqa: E731
    # Height per frame, smoothed over a cycle: a walk towards the camera grows in the image.
    height = np.linalg.norm(mid(SHOULDER) - mid(ANKLE), axis=1)
    height = median_filter(height, size=max(3, int(cycle)), mode="nearest")
    height = np.clip(height, 0.5 * np.median(height), 2.0 * np.median(height)) + 1e-9
    hip_x, quarter = mid(HIP)[:, 0], max(1, len(p) // 4)
    travel = np.median(hip_x[-quarter:]) - np.median(hip_x[:quarter])
    if abs(travel) > 0.25 * np.median(height):
        direction = 1 if travel > 0 else -1
    else:  # walking towards or away from the camera: the nose points where the face turns
        facing = np.median(p[:, NOSE, 0] - mid((L_EAR, R_EAR))[:, 0])
        direction = -1 if facing < 0 else 1
    p[..., 0] *= direction
    # Scale the body about the mid-hip and integrate the hip's scaled steps: dividing absolute
    # positions by a changing height would invent motion far from the image origin.
    hip = mid(HIP)
    path = np.cumsum(np.diff(hip, axis=0, prepend=hip[:1]) / height[:, None], axis=0) + hip[0] / height[0]
    points = (p - hip[:, None]) / height[:, None, None] + path[:, None]
    return BodyFrame(points.astype(np.float32), cycle, direction)


def resample_time(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of `x` [T, ...] at fractional frame `positions` [L] → [L, ...]."""
    positions = np.clip(positions, 0, len(x) - 1)
    lo = np.floor(positions).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    w = (positions - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return (1 - w) * x[lo] + w * x[hi]


def per_cycle(frame: BodyFrame, steps: int = STEPS_PER_CYCLE) -> np.ndarray:
    """`frame.points` resampled to `steps` samples per gait cycle: [T', 33, 2]."""
    n = len(frame.points)
    count = max(2, int(round((n - 1) / frame.cycle_frames * steps)) + 1)
    return resample_time(frame.points, np.linspace(0, n - 1, count))


def angle_deg(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Flexion at joint b, degrees [T]: 0 when a-b-c is straight. a, b, c: [T, 2]."""
    u, v = a - b, c - b
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-9)
    return 180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def lean_deg(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Angle of the segment lower→upper from vertical, degrees [T], + leaning forward (+x)."""
    d = upper - lower
    return np.degrees(np.arctan2(d[:, 0], d[:, 1]))


def _range(x: np.ndarray) -> float:
    return float(np.nanpercentile(x, 95) - np.nanpercentile(x, 5))


def _asym(a: float, b: float) -> float:
    """|a − b| / (a + b): 0 symmetric, 1 one side only; NaN when both are 0."""
    return float(abs(a - b) / (a + b)) if a + b > 1e-9 else float("nan")


def _cv(x: np.ndarray) -> float:  # coefficient of variation; NaN for fewer than 3 values
    return float(np.std(x) / np.mean(x)) if len(x) >= 3 and np.mean(x) > 1e-9 else float("nan")


# One line per feature; `gait_features` returns exactly these keys, in this order.
FEATURES: dict[str, str] = {
    "step_length": "95th percentile of the horizontal ankle separation / leg length",
    "stride_per_cycle": "forward travel of the mid-hip per gait cycle / leg length (speed without a clock)",
    "knee_range_left": "left knee flexion range (5th-95th percentile), degrees",
    "knee_range_right": "right knee flexion range, degrees",
    "knee_extension": "least knee flexion (5th percentile, mean of both knees): a stiff or flexed knee stays high",
    "hip_range_left": "left thigh angle range from vertical, degrees",
    "hip_range_right": "right thigh angle range, degrees",
    "trunk_flexion_mean": "mean forward lean of the hip-mid→shoulder-mid line, degrees",
    "trunk_flexion_range": "range of that trunk lean, degrees",
    "arm_swing_left": "range of the left wrist's forward offset from its shoulder / body height",
    "arm_swing_right": "range of the right wrist's forward offset / body height",
    "elbow_flexion": "median elbow flexion, both arms, degrees (flexed arms in Parkinson's gait)",
    "knee_asymmetry": "|L − R| / (L + R) of the knee ranges",
    "hip_asymmetry": "|L − R| / (L + R) of the hip ranges",
    "arm_asymmetry": "|L − R| / (L + R) of the arm swings",
    "step_asymmetry": "|L − R| / (L + R) of how far each ankle gets ahead of the other",
    "base_width": "10th percentile of the 2D ankle distance / body height (base of support proxy)",
    "ankle_roughness": "mean |2nd difference| / mean |1st difference| of the hip-relative ankle paths",
    "head_bob": "std of the nose height after removing its one-cycle moving average / body height",
    "step_interval_cv": "coefficient of variation of the intervals between steps",
    "step_amplitude_cv": "coefficient of variation of the peak ankle separation per step",
    "double_support": "share of time both ankles are near-still (stance) at once",
    "stance_asymmetry": "|L − R| / (L + R) of each ankle's share of time in stance",
}


def gait_features(seq: np.ndarray) -> dict[str, float]:
    """The `FEATURES` of one keypoint sequence [T, 33, 4] (gaps are filled first).

    Computed on the sequence resampled to `STEPS_PER_CYCLE` per gait cycle, so they depend on
    neither the frame rate nor the number of frames; NaN where a feature is undefined.
    """
    p = per_cycle(body_frame(seq)).astype(np.float64)
    side = lambda pair: (p[:, pair[0]], p[:, pair[1]])  # noqa: E731
    (hl, hr), (kl, kr), (al, ar) = side(HIP), side(KNEE), side(ANKLE)
    (sl, sr), (el, er), (wl, wr) = side(SHOULDER), side(ELBOW), side(WRIST)
    hip_mid, sh_mid = (hl + hr) / 2, (sl + sr) / 2
    leg = float(np.median(np.linalg.norm(kl - hl, axis=1) + np.linalg.norm(al - kl, axis=1))) + 1e-9
    f: dict[str, float] = {}
    ahead = al[:, 0] - ar[:, 0]  # + while the left ankle is in front
    f["step_length"] = float(np.percentile(np.abs(ahead), 95)) / leg
    slope = np.polyfit(np.arange(len(p)), hip_mid[:, 0], 1)[0] if len(p) > 2 else np.nan
    f["stride_per_cycle"] = float(slope * STEPS_PER_CYCLE) / leg
    knee_l, knee_r = angle_deg(hl, kl, al), angle_deg(hr, kr, ar)
    f["knee_range_left"], f["knee_range_right"] = _range(knee_l), _range(knee_r)
    f["knee_extension"] = float((np.percentile(knee_l, 5) + np.percentile(knee_r, 5)) / 2)
    f["hip_range_left"] = _range(lean_deg(kl, hl))  # thigh angle; knee→hip points up, no wrap
    f["hip_range_right"] = _range(lean_deg(kr, hr))
    trunk = lean_deg(hip_mid, sh_mid)
    f["trunk_flexion_mean"], f["trunk_flexion_range"] = float(np.mean(trunk)), _range(trunk)
    f["arm_swing_left"], f["arm_swing_right"] = _range(wl[:, 0] - sl[:, 0]), _range(wr[:, 0] - sr[:, 0])
    f["elbow_flexion"] = float(np.median(np.r_[angle_deg(sl, el, wl), angle_deg(sr, er, wr)]))
    f["knee_asymmetry"] = _asym(f["knee_range_left"], f["knee_range_right"])
    f["hip_asymmetry"] = _asym(f["hip_range_left"], f["hip_range_right"])
    f["arm_asymmetry"] = _asym(f["arm_swing_left"], f["arm_swing_right"])
    f["step_asymmetry"] = _asym(float(np.percentile(ahead, 95)), float(np.percentile(-ahead, 95)))
    f["base_width"] = float(np.percentile(np.linalg.norm(al - ar, axis=1), 10))
    rel = np.stack([al - hip_mid, ar - hip_mid])  # [2, T', 2]
    d1 = np.linalg.norm(np.diff(rel, axis=1), axis=-1).mean()
    d2 = np.linalg.norm(np.diff(rel, n=2, axis=1), axis=-1).mean()
    f["ankle_roughness"] = float(d2 / d1) if d1 > 1e-9 else float("nan")
    nose_y = p[:, NOSE, 1]
    f["head_bob"] = float(np.std(nose_y - uniform_filter1d(nose_y, STEPS_PER_CYCLE, mode="nearest")))
    sep = np.abs(ahead)  # peaks once per step, twice per cycle
    peaks, _ = find_peaks(sep, distance=STEPS_PER_CYCLE // 4, prominence=0.3 * _range(sep) + 1e-9)
    f["step_interval_cv"] = _cv(np.diff(peaks).astype(float))
    f["step_amplitude_cv"] = _cv(sep[peaks])
    # A foot in stance stands still on the floor (fixed camera); swing moves it fastest.
    speed = np.linalg.norm(np.diff(np.stack([al, ar]), axis=1), axis=-1)  # [2, T'-1]
    speed = uniform_filter1d(speed, 3, axis=1)
    stance = speed < 0.3 * np.percentile(speed, 90, axis=1, keepdims=True)
    f["double_support"] = float((stance[0] & stance[1]).mean())
    f["stance_asymmetry"] = _asym(float(stance[0].mean()), float(stance[1].mean()))
    return {name: f[name] for name in FEATURES}


def head_forward(seq: np.ndarray) -> float:
    """Forward head posture, degrees: the median angle of the shoulder-mid → ear-mid line from
    vertical, + forward (90° minus the craniovertebral angle). Real side-view walks: Normal 14,
    KOA 7-19, PD 24-26 (class medians). Meaningless for a walk towards the camera."""
    p = body_frame(seq).points.astype(np.float64)
    shoulder, ear = p[:, list(SHOULDER)].mean(axis=1), p[:, [L_EAR, R_EAR]].mean(axis=1)
    return float(np.median(lean_deg(shoulder, ear)))


def feature_matrix(seqs: Sequence[np.ndarray]) -> np.ndarray:
    """float [N, len(FEATURES)] for N sequences (NaN where undefined)."""
    return np.array([list(gait_features(s).values()) for s in seqs], dtype=np.float64)

