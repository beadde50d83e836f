"""`compute`: the kinematics of one walk, and the `Kinematics` record it returns.

Data flow:
```
landmarks float [T, 33, 4] (+ fps or None, + source aspect or None)
  → prepare.prepare: fill_gaps, isotropic body-height units, view, direction  → Walk [T', 33, 2]
  ├─ side view:  events.detect_events → heel strikes, toe-offs, cycles (per side)
  │              angles.joint_angles → per-frame angles; angles.cycle_curves → [n, 101] per side
  │              spatiotemporal.sagittal_parameters → cadence, lengths, speed, stance, …
  └─ frontal:    spatiotemporal.frontal_parameters → base width, trunk sway, cadence
  → reference.outside_band (normal_band.json) → Kinematics
```
Nothing raises for usable input: what cannot be measured is None with a plain-language reason
in `warnings`. Input of the wrong shape is the only error (`InputError`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gaitlab.errors import InputError
from gaitlab.kinematics import angles as ang
from gaitlab.kinematics import events as ev
from gaitlab.kinematics import prepare as prep
from gaitlab.kinematics import reference as ref
from gaitlab.kinematics import spatiotemporal as st

SIDES = ev.SIDES
_FRONTAL = ("The person walks towards or away from the camera: joint angles, step and stride length, "
            "speed and stance times need a side view and are not reported (base width, lateral trunk "
            "sway and cadence are).")
_NO_RATE = ("The frame rate is unknown (keypoint input): cadence per minute and speed per second are "
            "not reported; stride time is given in frames.")


@dataclass
class Kinematics:
    """The kinematics of one walk.

    `parameters`: flat {name: float or None} over `reference.PARAMETERS` (per-side names end in
    `_left` / `_right`). `curves`: {angle: {side: {"mean": [101], "sd": [101], "n": cycles}}}
    over 0..100 % of the cycle (side view only). `events`: heel strikes, toe-offs and cycles in
    frames of the cleaned walk; add `offset` for frames of the input sequence. `angles`:
    per-frame angles {angle: {side: [T']}}. `outside_normal_band`: parameter names outside the
    normal band's mean ± 2 SD. `warnings`: plain-language reasons for what is missing.
    """

    view: str | None
    direction: int
    fps: float | None
    offset: int
    n_frames: int
    parameters: dict[str, float | None]
    curves: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    events: ev.Events | None = None
    angles: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    outside_normal_band: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def phase_at(self, frame_index: int, side: str | None = None) -> tuple[float, str, str] | None:
        """Gait phase at `frame_index` (a frame of the input sequence): (percent of the cycle
        0..100, "stance" or "swing", side). `side` None picks the leg in swing, else (double
        support) the leg that struck last. Frames up to one cycle before the first or after the
        last heel strike are placed by the walk's typical cycle; None elsewhere and without
        cycles (frontal view, too short a walk)."""
        if self.events is None:
            return None
        t = float(frame_index) - self.offset
        found = []
        for s in ([side] if side else SIDES):
            placed = _place(self.events, s, t)
            if placed is not None:
                found.append((placed, s))
        if not found:
            return None
        swinging = [f for f in found if f[0][1] == "swing"]
        (pct, phase, start), s = (swinging or sorted(found, key=lambda f: -f[0][2]))[0]
        return round(pct, 1), phase, s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: parameters (per-side ones as {left, right}), `outside_normal_band`,
        `curves`, `events` (input frame indices), `view`, `direction`, `fps`, `warnings`."""
        out: dict[str, Any] = {"view": self.view, "direction": _DIRECTIONS.get(self.direction), "fps": self.fps}
        for name, value in self.parameters.items():
            base = ref.base_name(name)
            if base != name:
                out.setdefault(base, {})[name[len(base) + 1 :]] = _num(value)
            else:
                out[name] = _num(value)
        out["outside_normal_band"] = list(self.outside_normal_band)
        out["curves"] = {a: {s: {"mean": [_num(v, 2) for v in c["mean"]], "sd": [_num(v, 2) for v in c["sd"]],
                                 "n": int(c["n"])} for s, c in sides.items()} for a, sides in self.curves.items()}
        out["events"] = _events_dict(self.events, self.offset)
        out["warnings"] = list(self.warnings)
        return out


_DIRECTIONS = {1: "left_to_right", -1: "right_to_left", 0: "towards_or_away"}


def _num(value, digits: int = 3) -> float | None:
    return round(float(value), digits) if value is not None and np.isfinite(value) else None


def _events_dict(events: ev.Events | None, offset: int) -> dict[str, Any]:
    if events is None:
        return {"heel_strike": {s: [] for s in SIDES}, "toe_off": {s: [] for s in SIDES}, "cycles": {s: [] for s in SIDES}}
    idx = lambda times: [int(round(t)) + offset for t in times]  # noqa: E731
    return {"heel_strike": {s: idx(events.heel_strikes[s]) for s in SIDES},
            "toe_off": {s: idx(events.toe_offs[s]) for s in SIDES},
            "cycles": {s: [[int(round(c.start)) + offset, int(round(c.end)) + offset] for c in events.cycles[s]]
                       for s in SIDES}}


def _place(events: ev.Events, side: str, t: float) -> tuple[float, str, float] | None:
    """(percent, phase, strike time) of frame time `t` in `side`'s cycles, or None."""
    cycles = events.cycles.get(side, [])
    every = events.all_cycles()
    if not cycles or not every:
        return None
    typical = float(np.median([c.frames for c in every]))
    stances = [c.stance for c in every if c.stance is not None]
    stance = float(np.mean(stances)) if stances else 0.6
    strikes = events.heel_strikes[side]
    for c in cycles:
        if c.start <= t < c.end:
            pct = (t - c.start) / c.frames
            cut = c.stance if c.stance is not None else stance
            return pct * 100, "stance" if pct < cut else "swing", c.start
    before, after = strikes[strikes <= t], strikes[strikes > t]
    if len(before) and t - before[-1] < typical and (not len(after) or after[0] - before[-1] > 1.6 * typical):
        start = float(before[-1])  # after the last strike (or a gap): the typical cycle
    elif len(after) and after[0] - t <= typical and not len(before):
        start = float(after[0]) - typical  # before the first strike
    else:
        return None
    pct = (t - start) / typical
    return pct * 100, "stance" if pct < stance else "swing", start


def _empty(reason: str, fps: float | None) -> Kinematics:
    return Kinematics(None, 0, fps, 0, 0, {name: None for name in ref.PARAMETERS},
                      warnings=[f"Kinematics could not be measured: {reason}."])


def _curves(per_frame: dict[str, dict[str, np.ndarray]], events: ev.Events) -> tuple[dict, dict]:
    """Per-cycle curves and their range-type parameters (NaN where a side has no cycle)."""
    curves: dict[str, dict[str, dict[str, Any]]] = {}
    values: dict[str, float] = {}
    trunk_rows = []
    for name in ang.ANGLES:
        for side in SIDES:
            rows = ang.cycle_curves(per_frame[name][side], events.cycles[side])
            if len(rows):
                curves.setdefault(name, {})[side] = {"mean": rows.mean(0), "sd": rows.std(0), "n": len(rows)}
            rom = ang.cycle_rom(rows)
            if name == "trunk":
                trunk_rows.append(rows)
            elif name == "arm":
                values[f"arm_swing_deg_{side}"] = rom
            else:
                values[f"{name}_rom_deg_{side}"] = rom
            if name == "knee":
                values[f"knee_peak_flexion_deg_{side}"] = float(np.median(rows.max(axis=1))) if len(rows) else np.nan
    trunk = [rows for rows in trunk_rows if len(rows)]
    values["trunk_lean_deg"] = float(np.mean(np.concatenate(trunk))) if trunk else np.nan
    values["trunk_rom_deg"] = float(np.mean([ang.cycle_rom(rows) for rows in trunk])) if trunk else np.nan
    return curves, values


def _sagittal_warnings(events: ev.Events, values: dict[str, float]) -> list[str]:
    out = []
    n = {s: len(events.cycles[s]) for s in SIDES}
    if not any(n.values()):
        out.append("No complete gait cycle (heel strike to the next heel strike of the same foot) was found: "
                   "the walk is too short or its steps are unclear, so joint-angle curves and cycle-based "
                   "parameters are missing.")
        return out
    for s in SIDES:
        if not n[s]:
            out.append(f"No complete {s} gait cycle was found: {s}-side angles and stance are missing.")
    if sum(n.values()) < 3:
        out.append("Stride-time variability needs at least 3 gait cycles; this walk has fewer.")
    if any(n[s] and not np.isfinite(values.get(f"stance_pct_{s}", np.nan)) for s in SIDES):
        out.append("Toe-off was not found in every cycle: stance and swing are missing for a side.")
    return out


def compute(seq: np.ndarray, fps: float | None = None, aspect: float | None = None) -> Kinematics:
    """The `Kinematics` of one walk: landmarks float [T, 33, 4] (MediaPipe layout, normalised x, y;
    NaN rows = no detection), the frame rate `fps` (None when unknown, as for keypoint files) and
    the source frame's width/height `aspect` (None: estimated from the landmarks).

    Never raises for a [T, 33, 4] array: what cannot be measured is None with a reason in
    `warnings`. InputError when `seq` is not [T, 33, 4].
    """
    seq = np.asarray(seq)
    if seq.ndim != 3 or seq.shape[1:] != (33, 4) or not np.issubdtype(seq.dtype, np.number):
        raise InputError(f"landmarks must be a numeric array of shape [frames, 33, 4], not {list(seq.shape)}.")
    try:
        rate = float(fps) if fps is not None else None
    except (TypeError, ValueError):
        rate = None
    rate = rate if rate is not None and np.isfinite(rate) and 0 < rate < 10_000 else None
    try:
        walk = prep.prepare(seq, aspect)
    except prep.Unusable as exc:
        return _empty(str(exc), rate)
    with np.errstate(all="ignore"):
        kin = _measure(walk, rate)
    kin.parameters = {k: (float(v) if v is not None and np.isfinite(v) else None) for k, v in kin.parameters.items()}
    if rate is None:
        kin.warnings.append(_NO_RATE)
    kin.outside_normal_band = ref.outside_band(kin.parameters, ref.load_band())
    return kin


def _measure(walk: prep.Walk, fps: float | None) -> Kinematics:
    values: dict[str, float] = {}
    warnings: list[str] = []
    curves: dict = {}
    events, per_frame = None, {}
    if walk.view == "frontal":
        warnings.append(_FRONTAL)
        values.update(st.frontal_parameters(walk.points, walk.cycle_frames, fps))
        if not np.isfinite(walk.cycle_frames):
            warnings.append("No clear step rhythm was found: cadence is missing.")
    else:
        events = ev.detect_events(walk.points, walk.cycle_frames)
        typical = np.median([c.frames for c in events.all_cycles()]) if events.all_cycles() else walk.cycle_frames
        per_frame = ang.joint_angles(walk.points, float(typical))
        curves, rom = _curves(per_frame, events)
        values.update(rom)
        values.update(st.sagittal_parameters(walk.points, events, fps))
        warnings += _sagittal_warnings(events, values)
        for name in ang.ANGLES:
            hidden = [s for s in SIDES if events.cycles[s] and s not in curves.get(name, {})]
            if hidden and name != "trunk":
                which = " and ".join(hidden)
                warnings.append(f"{ang.LABELS[name]} ({which}) could not be measured: its landmarks are implausible "
                                "in too many frames (a limb hidden behind the body, or sides swapped).")
            elif hidden and len(hidden) == 2:
                warnings.append("Trunk lean could not be measured: the shoulders or hips are implausible in too many frames.")
    parameters = {name: values.get(name, float("nan")) for name in ref.PARAMETERS}
    return Kinematics(walk.view, walk.direction, fps, walk.offset, len(walk.points), parameters, curves,
                      events, per_frame, [], warnings)


def time_compute(seq: np.ndarray, fps: float | None = None, aspect: float | None = None, repeats: int = 20) -> float:
    """Median wall time (seconds) of `compute(seq, fps, aspect)` over `repeats` runs after one
    warm-up run (for `bench`: the target is ≤ 50 ms for a 10-s walk, 300 frames)."""
    compute(seq, fps, aspect)
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        compute(seq, fps, aspect)
        times.append(time.perf_counter() - start)
    return float(np.median(times))
