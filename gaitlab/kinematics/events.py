"""Gait events and cycles of a side-view walk, from foot trajectories relative to the pelvis.

Input: `points` float [T, 33, 2] in body heights, x in the walking direction (see
`gaitlab.kinematics.prepare.Walk`), and an estimate of the cycle length in frames (NaN when
unknown). Coordinate-based detection after Zeni, Richards & Higginson (2008, Gait & Posture 27:
710-714): a heel strikes when the heel is furthest ahead of the pelvis, a foot leaves the ground
when its toe is furthest behind it. Only the ordering of the foot against the pelvis matters, so
the detection needs no frame rate, no ground line and no camera height.

Output: `Events` with, per side ("left", "right"), heel-strike and toe-off times in frames of
`points` (float, refined between frames by a parabola through the peak), and `cycles`: per side
a list of `Cycle` (heel strike to the next heel strike of the same foot, with its toe-off when
one was found inside it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from gaitlab.pipeline.landmarks import FOOT_INDEX, HEEL, HIP

SIDES = ("left", "right")
_SIDE = {"left": 0, "right": 1}  # index into the landmark (left, right) pairs
# A cycle counts when its length is within this factor of the walk's median cycle.
_CYCLE_RANGE = (0.6, 1.6)
# A peak counts when it stands out by this share of the signal's 5-95 % range.
_PROMINENCE = 0.25


@dataclass(frozen=True)
class Cycle:
    """One gait cycle of one foot, in (fractional) frames: heel strike `start`, the next heel
    strike `end`, toe-off `toe_off` (None when not found between them)."""

    side: str
    start: float
    end: float
    toe_off: float | None

    @property
    def frames(self) -> float:
        return self.end - self.start

    @property
    def stance(self) -> float | None:
        """Share of the cycle (0..1) before the toe leaves the ground."""
        return None if self.toe_off is None else (self.toe_off - self.start) / self.frames


@dataclass(frozen=True)
class Events:
    """Heel strikes and toe-offs per side (float frames, ascending) and the cycles they form."""

    heel_strikes: dict[str, np.ndarray]
    toe_offs: dict[str, np.ndarray]
    cycles: dict[str, list[Cycle]] = field(default_factory=dict)

    def all_cycles(self) -> list[Cycle]:
        return sorted((c for s in SIDES for c in self.cycles.get(s, [])), key=lambda c: c.start)


def _refine(x: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Sub-frame peak positions: the vertex of the parabola through each peak and its neighbours."""
    out = peaks.astype(np.float64)
    inner = (peaks > 0) & (peaks < len(x) - 1)
    i = peaks[inner]
    a, b, c = x[i - 1], x[i], x[i + 1]
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / denom, 0.0)
    out[inner] += np.clip(shift, -0.5, 0.5)
    return out


def _peaks(x: np.ndarray, distance: float) -> np.ndarray:
    """Sub-frame times of the clear maxima of `x`, at least `distance` frames apart."""
    spread = float(np.percentile(x, 95) - np.percentile(x, 5))
    if not spread > 1e-6:
        return np.zeros(0)
    found, _ = find_peaks(x, distance=max(1, int(distance)), prominence=_PROMINENCE * spread)
    return _refine(x, found)


def foot_signals(points: np.ndarray, cycle_frames: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per side, (heel ahead of the pelvis, toe ahead of the pelvis) [T] in body heights,
    lightly smoothed (Gaussian, σ = 1/30 of a cycle, at least half a frame)."""
    pelvis = (points[:, HIP[0], 0] + points[:, HIP[1], 0]) / 2
    sigma = max(0.5, (cycle_frames if np.isfinite(cycle_frames) else 30.0) / 30.0)
    out = {}
    for side in SIDES:
        k = _SIDE[side]
        heel = gaussian_filter1d(points[:, HEEL[k], 0] - pelvis, sigma, mode="nearest")
        toe = gaussian_filter1d(points[:, FOOT_INDEX[k], 0] - pelvis, sigma, mode="nearest")
        out[side] = (heel, toe)
    return out


def _cycles(side: str, strikes: np.ndarray, offs: np.ndarray, typical: float) -> list[Cycle]:
    lo, hi = _CYCLE_RANGE
    out = []
    for start, end in zip(strikes[:-1], strikes[1:]):
        if not lo * typical <= end - start <= hi * typical:
            continue  # a missed or a spurious strike: not a cycle
        inside = offs[(offs > start) & (offs < end)]
        # Toe-off falls in the second part of the cycle (after the other foot's strike).
        inside = inside[(inside - start) > 0.3 * (end - start)]
        out.append(Cycle(side, float(start), float(end), float(inside[0]) if len(inside) else None))
    return out


def detect_events(points: np.ndarray, cycle_frames: float) -> Events:
    """Heel strikes, toe-offs and cycles of a side-view walk `points` [T, 33, 2] (see above)."""
    signals = foot_signals(points, cycle_frames)
    guess = cycle_frames if np.isfinite(cycle_frames) else 30.0
    strikes, offs = {}, {}
    for side, (heel, toe) in signals.items():
        strikes[side] = _peaks(heel, 0.6 * guess)
        offs[side] = _peaks(-toe, 0.6 * guess)
    gaps = np.concatenate([np.diff(strikes[s]) for s in SIDES])
    typical = float(np.median(gaps)) if len(gaps) else guess
    if len(gaps) and not 0.7 * guess <= typical <= 1.4 * guess:
        # The rhythm estimate was off (no clear autocorrelation peak): detect again at the
        # spacing the strikes themselves show.
        for side, (heel, toe) in signals.items():
            strikes[side] = _peaks(heel, 0.6 * typical)
            offs[side] = _peaks(-toe, 0.6 * typical)
        gaps = np.concatenate([np.diff(strikes[s]) for s in SIDES])
        typical = float(np.median(gaps)) if len(gaps) else typical
    cycles = {s: _cycles(s, strikes[s], offs[s], typical) for s in SIDES}
    return Events(strikes, offs, cycles)
