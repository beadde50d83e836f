"""Fixtures of the kinematics tests: the synthetic walker's presets as measured and as true.

The truth is read from what the walker (`gaitlab.synth.walker`) really did: each body is built
in its own coordinates (forward, down, lateral; body heights) before a camera sees it, and its
gait clock places every heel strike (cycle phase 0 for the left leg, 0.5 for the right). The
ranges below use plain geometry on those body coordinates, before projection, landmark cleaning
or event detection, so they check all of `gaitlab.kinematics`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gaitlab.kinematics import compute
from gaitlab.synth import walker
from gaitlab.synth.simulator import FPS, PRESETS, aspect_of, simulate

SECONDS = 10.0


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def _walker_truth(params: walker.WalkerParams, n_frames: int, fps: float) -> dict:
    """{"knee_rom": {side: °}, "hip_rom": {side: °}, "cadence": steps/min} of a side-view walk.

    Ranges: per true cycle (heel strike to heel strike on the walker's clock), the median over
    the complete cycles, as `gaitlab.kinematics` reports them. The hip is the thigh's angle from
    vertical (the walker's trunk keeps a constant lean, so the range equals that against the
    trunk). Cadence: the clock's rate while walking (freezing, where the legs only tremble in
    place, left out).
    """
    t = np.arange(n_frames) / fps
    body, _, _ = walker._body(params, t)
    cycles, _, size = walker._clock(params, t)
    xy = body[..., :2]  # forward, down
    out: dict = {"knee_rom": {}, "hip_rom": {}}
    for k, side in enumerate(("left", "right")):
        hip, knee, ankle = xy[:, 23 + k], xy[:, 25 + k], xy[:, 27 + k]
        knee_flexion = 180.0 - _angle(hip - knee, ankle - knee)
        thigh = np.degrees(np.arctan2((knee - hip)[:, 0], (knee - hip)[:, 1]))
        strikes = np.flatnonzero(np.diff(np.floor(cycles + 0.5 * k)) > 0) + 1
        spans = list(zip(strikes[:-1], strikes[1:]))
        out["knee_rom"][side] = float(np.median([np.ptp(knee_flexion[a:b]) for a, b in spans]))
        out["hip_rom"][side] = float(np.median([np.ptp(thigh[a:b]) for a, b in spans]))
    out["cadence"] = float(np.mean(np.gradient(cycles, t)[size > 0.5]) * 120.0)
    return out


def _measure(name: str, direction: int = 1):
    params = dataclasses.replace(PRESETS[name], direction=direction)
    seq, _ = simulate(params, seconds=SECONDS)
    return params, seq, compute(seq, fps=FPS, aspect=aspect_of(params))


@pytest.fixture(scope="session")
def walker_truth():
    """`walker_truth(params, n_frames, fps)` → the walk's true knee and hip ranges and cadence."""
    return _walker_truth


@pytest.fixture(scope="session")
def measured_presets() -> dict:
    """{preset: (params, keypoints [T, 33, 4], Kinematics)} for every preset, 10-s walks at 30 fps
    with the simulator's frame aspect (side presets walk left to right)."""
    return {name: _measure(name) for name in PRESETS}


@pytest.fixture(scope="session")
def measure():
    """`measure(preset, direction)` → (params, keypoints, Kinematics)."""
    return _measure
