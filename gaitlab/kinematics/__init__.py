"""Gait kinematics of a landmark sequence: events, cycles, joint angles, spatiotemporal
parameters, read against a normal band built from the shared data's Normal walkers.

One entry point: `compute(seq [T, 33, 4], fps=None, aspect=None) -> Kinematics` (see
`gaitlab.kinematics.core`); `Kinematics.to_dict()` is the `kinematics` block of `analyze --json`
and `Kinematics.phase_at(frame)` places a frame in the gait cycle. Modules, in data-flow order:
`prepare` (cleaning, units, view), `events` (heel strike, toe-off, cycles), `angles`,
`spatiotemporal`, `reference` (parameter names, the normal band file and its flags), `core`
(`compute`), `band` (building the band and per-class medians from the shared data).
"""
from gaitlab.kinematics.core import Kinematics, compute, time_compute
from gaitlab.kinematics.reference import PARAMETERS, load_band

__all__ = ["Kinematics", "PARAMETERS", "compute", "load_band", "time_compute"]
