"""The kinematic parameters by name, and the normal band they are read against.

`PARAMETERS`: flat parameter name → (label, unit, one-line definition). Per-side parameters
end in `_left` / `_right`; their band is shared by both sides (`base_name`).

The normal band is the data file `normal_band.json` beside this module, written by
`gaitlab.kinematics.band.build_normal_band` (`python -m gaitlab band`):
`{"provenance": {...}, "parameters": {base name: {"mean", "sd", "n"}},
"curves": {angle: {"mean": [101], "sd": [101], "n"}}, "not_in_band": {name: reason}}`.
`load_band()` reads it (None when absent or unreadable), `outside_band(values, band)` lists the
names whose value lies outside mean ± 2 SD.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

BAND_JSON = Path(__file__).with_name("normal_band.json")
BAND_SD = 2.0  # a value is flagged outside mean ± BAND_SD · SD
MIN_BAND_N = 5  # a band from fewer walks flags nothing

_SIDED = {
    "knee_rom_deg": ("Knee range of motion", "°", "median over cycles of the knee flexion range (max − min)"),
    "hip_rom_deg": ("Hip range of motion", "°", "median over cycles of the hip flexion range (thigh against trunk)"),
    "ankle_rom_deg": ("Ankle range of motion", "°", "median over cycles of the ankle dorsi-/plantarflexion range"),
    "knee_peak_flexion_deg": ("Peak knee flexion", "°", "median over cycles of the largest knee flexion (swing)"),
    "arm_swing_deg": ("Arm swing", "°", "median over cycles of the shoulder flexion range (upper arm against trunk)"),
    "step_length_heights": ("Step length", "body heights", "striking heel ahead of the other foot's last footprint"),
    "stance_pct": ("Stance", "% of cycle", "heel strike to toe-off"),
    "swing_pct": ("Swing", "% of cycle", "toe-off to the next heel strike"),
}
_SINGLE = {
    "cadence_steps_per_min": ("Cadence", "steps/min", "120 · frame rate / mean cycle frames (needs the frame rate)"),
    "steps_per_100_frames": ("Steps per 100 frames", "steps", "cadence without a clock: compare only at one frame rate"),
    "stride_time_frames": ("Stride time", "frames", "mean heel strike to heel strike of one foot"),
    "stride_length_heights": ("Stride length", "body heights", "heel to heel of one foot over a cycle"),
    "speed_heights_per_s": ("Speed", "body heights/s", "summed stride lengths / summed cycle times (needs the frame rate)"),
    "double_support_pct": ("Double support", "% of cycle", "both feet on the ground"),
    "step_length_asymmetry": ("Step-length asymmetry", "%", "|L − R| / mean(L, R) × 100"),
    "stance_time_asymmetry": ("Stance-time asymmetry", "%", "|L − R| / mean(L, R) × 100 of the stance times"),
    "stride_time_cv": ("Stride-time variability", "%", "coefficient of variation of the cycle times"),
    "trunk_lean_deg": ("Trunk forward lean", "°", "mean forward lean of the trunk over the cycles"),
    "trunk_rom_deg": ("Trunk lean range", "°", "median over cycles of the trunk lean range (mean of the two sides' cycles)"),
    "base_width_heights": ("Base width", "body heights", "median sideways distance of the ankles (frontal view)"),
    "trunk_sway_deg": ("Lateral trunk sway", "°", "5-95 % range of the trunk's sideways lean (frontal view)"),
}
PARAMETERS: dict[str, tuple[str, str, str]] = {
    **{f"{name}_{side}": (f"{label} ({side})", unit, text)
       for name, (label, unit, text) in _SIDED.items() for side in ("left", "right")},
    **_SINGLE,
}
SIDED = tuple(_SIDED)
# Parameters that need a frame rate, or are only comparable at one: never in the band.
RATE_BOUND = ("cadence_steps_per_min", "speed_heights_per_s", "steps_per_100_frames", "stride_time_frames")


def base_name(name: str) -> str:
    """`knee_rom_deg_left` → `knee_rom_deg`; names without a side stay as they are."""
    for suffix in ("_left", "_right"):
        if name.endswith(suffix) and name[: -len(suffix)] in _SIDED:
            return name[: -len(suffix)]
    return name


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict[str, Any] | None:
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "parameters" in record else None


def load_band(path: str | Path = BAND_JSON) -> dict[str, Any] | None:
    """The normal band record of `path` (see the module docstring); None when missing or bad."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _read(str(path), mtime)


def outside_band(values: dict[str, float | None], band: dict[str, Any] | None) -> list[str]:
    """Names in `values` whose finite value lies outside the band's mean ± 2 SD (band n ≥ 5)."""
    if not band:
        return []
    out = []
    for name, value in values.items():
        ref = band["parameters"].get(base_name(name))
        if value is None or not np.isfinite(value) or not ref or ref.get("n", 0) < MIN_BAND_N:
            continue
        if abs(value - ref["mean"]) > BAND_SD * ref["sd"]:
            out.append(name)
    return out
