"""Spatiotemporal parameters: cadence, step and stride length, speed, stance, swing, double
support, asymmetries and variability (side view), and base width and trunk sway (frontal view).

Input: `points` float [T, 33, 2] in body heights (see `gaitlab.kinematics.prepare.Walk`), the
`Events` of `gaitlab.kinematics.events` (times in frames), and the frame rate `fps` (None when
unknown: every per-second or per-minute figure is then NaN). Output: {name: float}, NaN where
undefined. Definitions (L, R: the left and right means):

- step length (per side): how far the striking heel lands ahead of the other foot's last
  footprint (its heel at its own last strike); stride length: heel to heel of one foot over a
  cycle (= the two steps); both in body heights;
- cadence: steps per minute = 120 · fps / mean cycle frames; `steps_per_100_frames` is the
  same without a clock (comparable only between videos of one frame rate);
- speed: body heights per second = summed stride lengths / summed cycle times;
- stance %: heel strike to toe-off as a share of the cycle; swing % = 100 − stance;
  double support %: both feet down (initial plus terminal double support) per cycle;
- asymmetry (step length, stance time): |L − R| / ((L + R) / 2) × 100 %;
- stride-time variability: coefficient of variation of the cycle times (SD / mean × 100 %),
  from at least 3 cycles.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from gaitlab.kinematics.events import SIDES, Events
from gaitlab.pipeline.features import lean_deg
from gaitlab.pipeline.landmarks import ANKLE, HEEL, HIP, SHOULDER
from gaitlab.pipeline.render import body_height

NAN = float("nan")


def asymmetry(left: float, right: float) -> float:
    """|L − R| / mean(L, R) × 100 (%); NaN when undefined."""
    mean = (left + right) / 2
    return float(abs(left - right) / mean * 100) if np.isfinite(mean) and mean > 1e-9 else NAN


def _mean(values) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else NAN


def _heels(points: np.ndarray, typical: float) -> list[np.ndarray]:
    sigma = max(0.5, typical / 30.0) if np.isfinite(typical) else 1.0
    return [gaussian_filter1d(points[:, HEEL[k], 0], sigma, mode="nearest") for k in range(2)]


def _at(x: np.ndarray, t: float) -> float:
    return float(np.interp(t, np.arange(len(x)), x))


def sagittal_parameters(points: np.ndarray, events: Events, fps: float | None) -> dict[str, float]:
    """The side-view parameters of the module docstring (NaN where the events do not allow)."""
    cycles = {s: events.cycles.get(s, []) for s in SIDES}
    every = [c for s in SIDES for c in cycles[s]]
    typical = float(np.median([c.frames for c in every])) if every else NAN
    heels = _heels(points, typical)
    out: dict[str, float] = {}
    frames = np.array([c.frames for c in every])
    out["stride_time_frames"] = float(frames.mean()) if len(frames) else NAN
    out["steps_per_100_frames"] = 200.0 / out["stride_time_frames"] if len(frames) else NAN
    rate = float(fps) if fps else NAN
    out["cadence_steps_per_min"] = 120.0 * rate / out["stride_time_frames"] if len(frames) else NAN
    out["stride_time_cv"] = float(frames.std() / frames.mean() * 100) if len(frames) >= 3 else NAN

    strides = [[_at(heels[k], c.end) - _at(heels[k], c.start) for c in cycles[s]] for k, s in enumerate(SIDES)]
    out["stride_length_heights"] = _mean([v for side in strides for v in side])
    total = sum(c.frames for c in every)
    out["speed_heights_per_s"] = (sum(v for side in strides for v in side) / total * rate) if total else NAN

    steps = {}
    for k, side in enumerate(SIDES):
        other = events.heel_strikes[SIDES[1 - k]]
        lengths = []
        for t in events.heel_strikes[side]:
            before = other[(other < t) & (t - other < 0.75 * typical)] if np.isfinite(typical) else []
            if len(before):
                lengths.append(_at(heels[k], t) - _at(heels[1 - k], float(before[-1])))
        steps[side] = _mean(lengths)
        out[f"step_length_heights_{side}"] = steps[side]
    out["step_length_asymmetry"] = asymmetry(steps["left"], steps["right"])

    stance_time = {}
    for side in SIDES:
        with_off = [c for c in cycles[side] if c.toe_off is not None]
        stance = _mean([c.stance for c in with_off]) * 100
        out[f"stance_pct_{side}"] = stance
        out[f"swing_pct_{side}"] = 100.0 - stance
        stance_time[side] = _mean([c.toe_off - c.start for c in with_off])
    out["stance_time_asymmetry"] = asymmetry(stance_time["left"], stance_time["right"])

    double = []
    for k, side in enumerate(SIDES):
        strikes_o, offs_o = events.heel_strikes[SIDES[1 - k]], events.toe_offs[SIDES[1 - k]]
        for c in cycles[side]:
            if c.toe_off is None:
                continue
            first_off = offs_o[(offs_o > c.start) & (offs_o < c.toe_off)]
            last_strike = strikes_o[(strikes_o > c.start) & (strikes_o < c.toe_off)]
            if len(first_off) and len(last_strike) and first_off[0] < last_strike[-1]:
                double.append((first_off[0] - c.start + c.toe_off - last_strike[-1]) / c.frames * 100)
    out["double_support_pct"] = _mean(double)
    return out


def _scale(points: np.ndarray, chunk: int = 10) -> np.ndarray:
    """Body height per frame [T] relative to the walk's (a walk towards the camera grows in the
    image): `body_height` over chunks of `chunk` frames, interpolated."""
    starts = np.arange(0, len(points), chunk)
    h = np.array([body_height(points[s : s + chunk]) for s in starts])
    ok = np.isfinite(h) & (h > 0)
    if not ok.any():
        return np.ones(len(points))
    centres = starts + (np.minimum(starts + chunk, len(points)) - starts - 1) / 2
    return np.interp(np.arange(len(points)), centres[ok], h[ok])


def frontal_parameters(points: np.ndarray, cycle_frames: float, fps: float | None) -> dict[str, float]:
    """What a walk towards or away from the camera shows honestly: base width (median lateral
    ankle distance, body heights, per-frame scale), lateral trunk sway (5-95 % range of the
    trunk's sideways lean, degrees), and the cadence from the rhythm of the feet."""
    scale = _scale(points)
    width = np.abs(points[:, ANKLE[0], 0] - points[:, ANKLE[1], 0]) / scale
    hip_mid = (points[:, HIP[0]] + points[:, HIP[1]]) / 2
    lean = lean_deg(hip_mid, (points[:, SHOULDER[0]] + points[:, SHOULDER[1]]) / 2)
    cycle = float(cycle_frames)
    rate = float(fps) if fps else NAN
    return {
        "base_width_heights": float(np.median(width)),
        "trunk_sway_deg": float(np.percentile(lean, 95) - np.percentile(lean, 5)),
        "stride_time_frames": cycle,
        "steps_per_100_frames": 200.0 / cycle if np.isfinite(cycle) else NAN,
        "cadence_steps_per_min": 120.0 * rate / cycle if np.isfinite(cycle) else NAN,
    }
