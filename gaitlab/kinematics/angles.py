"""Sagittal joint angles per frame and per gait cycle (time-normalised to 0-100 %).

Input: `points` float [T, 33, 2] in body heights, x in the walking direction, y up (a side-view
`gaitlab.kinematics.prepare.Walk`). Conventions (clinical, in the image plane):

- hip: flexion of the thigh (hip→knee) against the trunk line (shoulder-mid→hip-mid, extended
  down); 0° when thigh and trunk are aligned, + thigh ahead (flexion), − behind (extension);
- knee: flexion, 0° straight (hip-knee-ankle in line), + bent;
- ankle: dorsiflexion, 0° when the foot (heel→toe) is at right angles to the shank, + toes up;
- trunk: forward lean of hip-mid→shoulder-mid from vertical, + forward (one curve, not a side);
- arm: shoulder flexion of the upper arm (shoulder→elbow) against the trunk line, + forward.

`joint_angles(points)` → {angle: {side: float [T] degrees}} (trunk repeated for both sides; NaN
in frames where the angle is implausible for walking, `PLAUSIBLE`);
`cycle_curves(series, cycles)` → float [n, 101] (one row per cycle with at least 80 % plausible
frames, 0..100 % in 1 % steps);
`cycle_rom(curves)` → the median over cycles of each cycle's range (max − min), degrees.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from gaitlab.kinematics.events import SIDES, Cycle
from gaitlab.pipeline.features import angle_deg, lean_deg
from gaitlab.pipeline.landmarks import ANKLE, ELBOW, FOOT_INDEX, HEEL, HIP, KNEE, SHOULDER

ANGLES = ("hip", "knee", "ankle", "trunk", "arm")
LABELS = {"hip": "Hip flexion", "knee": "Knee flexion", "ankle": "Ankle dorsiflexion",
          "trunk": "Trunk forward lean", "arm": "Shoulder flexion (arm swing)"}
CURVE_POINTS = 101  # 0, 1, ..., 100 % of the cycle
# Angles outside these ranges (degrees) do not occur in walking: the landmarks of that frame are
# wrong (a limb hidden behind the body, left and right swapped) and the frame is left out.
PLAUSIBLE = {"hip": (-60.0, 100.0), "knee": (-20.0, 120.0), "ankle": (-60.0, 60.0),
             "trunk": (-45.0, 75.0), "arm": (-90.0, 100.0)}
# A cycle counts for an angle when at least this share of its frames is plausible.
MIN_VALID = 0.8


def _smooth(series: dict[tuple[str, str], np.ndarray], cycle_frames: float) -> dict[tuple[str, str], np.ndarray]:
    """Savitzky-Golay (cubic) over about an eighth of a cycle, all series at once: removes
    landmark jitter while keeping the knee's swing peak (a moving average would flatten it).
    Frames implausible for the angle (`PLAUSIBLE`) are bridged for the filter and NaN after it."""
    keys = list(series)
    x = np.stack([series[k] for k in keys])  # [n, T]
    lo = np.array([PLAUSIBLE[name][0] for name, _ in keys])[:, None]
    hi = np.array([PLAUSIBLE[name][1] for name, _ in keys])[:, None]
    bad = ~(np.isfinite(x) & (x >= lo) & (x <= hi))
    t = np.arange(x.shape[1])
    for i in np.flatnonzero(bad.any(axis=1)):
        x[i, bad[i]] = np.interp(t[bad[i]], t[~bad[i]], x[i, ~bad[i]]) if not bad[i].all() else 0.0
    frames = cycle_frames if np.isfinite(cycle_frames) else 30.0
    n = x.shape[1]
    window = min(max(int(frames / 8) | 1, 5), n if n % 2 else n - 1)
    if window >= 5:
        x = savgol_filter(x, window, 3, axis=1, mode="interp")
    x[bad] = np.nan
    return dict(zip(keys, x))


def _signed(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Forward angle (degrees) of a segment hanging from `upper` down to `lower`: + ahead."""
    return -lean_deg(lower, upper)


def joint_angles(points: np.ndarray, cycle_frames: float = float("nan")) -> dict[str, dict[str, np.ndarray]]:
    """Per-frame angles {name: {side: [T]}} of a side-view walk (conventions above), smoothed."""
    p = points.astype(np.float64)
    hip_mid = (p[:, HIP[0]] + p[:, HIP[1]]) / 2
    shoulder_mid = (p[:, SHOULDER[0]] + p[:, SHOULDER[1]]) / 2
    trunk = lean_deg(hip_mid, shoulder_mid)
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in ANGLES}
    for k, side in enumerate(SIDES):
        hip, knee, ankle = p[:, HIP[k]], p[:, KNEE[k]], p[:, ANKLE[k]]
        out["hip"][side] = _signed(knee, hip) + trunk
        out["knee"][side] = angle_deg(hip, knee, ankle)
        shank, foot = knee - ankle, p[:, FOOT_INDEX[k]] - p[:, HEEL[k]]
        cos = (shank * foot).sum(-1) / (np.linalg.norm(shank, axis=-1) * np.linalg.norm(foot, axis=-1) + 1e-9)
        out["ankle"][side] = 90.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        out["trunk"][side] = trunk
        out["arm"][side] = _signed(p[:, ELBOW[k]], p[:, SHOULDER[k]]) + trunk
    smooth = _smooth({(name, s): v for name, sides in out.items() for s, v in sides.items()}, cycle_frames)
    return {name: {s: smooth[(name, s)] for s in sides} for name, sides in out.items()}


def cycle_curves(series: np.ndarray, cycles: list[Cycle]) -> np.ndarray:
    """`series` [T] (NaN: implausible) resampled over each cycle to `CURVE_POINTS` samples:
    [n, 101], one row per cycle with at least `MIN_VALID` plausible frames (gaps bridged)."""
    frames = np.arange(len(series))
    valid = np.isfinite(series)
    pct = np.linspace(0.0, 1.0, CURVE_POINTS)
    rows = []
    for c in cycles:
        lo, hi = int(np.floor(c.start)), min(int(np.ceil(c.end)), len(series) - 1)
        inside = valid[lo : hi + 1]
        if inside.mean() < MIN_VALID:
            continue
        t = frames[lo : hi + 1][inside]
        rows.append(np.interp(c.start + pct * c.frames, t, series[lo : hi + 1][inside]))
    return np.stack(rows) if rows else np.zeros((0, CURVE_POINTS))


def cycle_rom(curves: np.ndarray) -> float:
    """Range of motion (degrees): the median over cycles (rows of `curves` [n, 101]) of each
    cycle's max − min, as gait labs report it per stride. One odd cycle does not move it, and
    cycles of different timing (festination) are not averaged into a flatter curve first.
    NaN without cycles."""
    if len(curves) == 0:
        return float("nan")
    return float(np.median(np.ptp(curves, axis=1)))
