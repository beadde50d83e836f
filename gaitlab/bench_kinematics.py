"""The `kinematics` section of `python -m gaitlab bench`: what the kinematics add beyond pose.

Once Pose has given the landmarks, `analyze` computes the walk's kinematics
(`gaitlab.kinematics.compute`), turns them into the JSON block (`Kinematics.to_dict`) and places
each of the 8 model frames in the gait cycle (`Kinematics.phase_at`). This section times exactly
that, on a 10-s walk of the synthetic walker at 30 fps (300 frames, the `Normal` preset, side
view: the full sagittal path, events, angles, curves and parameters) and, for scale, the same
walk seen from the front (`Disabled_NonAssistive`'s camera). Target: ≤ 50 ms for the side view.
"""
from __future__ import annotations

import dataclasses

from gaitlab.bench_sections import BenchConfig, Findings, log, median_seconds

SECONDS = 10.0
RUNS = {"full": 30, "quick": 5}


def _walk(view: str):
    from gaitlab.synth.simulator import FPS, PRESETS, aspect_of, simulate

    params = dataclasses.replace(PRESETS["Normal"], view=view)
    seq, _ = simulate(params, seconds=SECONDS)
    return seq, FPS, aspect_of(params)


def kinematics_after_pose(seq, fps: float, aspect: float) -> dict:
    """What `analyze` does with the landmarks for the kinematics: compute, the JSON block, and
    the gait phase of 8 frames spread over the walk."""
    from gaitlab.kinematics import compute

    kin = compute(seq, fps=fps, aspect=aspect)
    out = kin.to_dict()
    step = max(1, len(seq) // 8)
    out["frame_phases"] = [kin.phase_at(i) for i in range(0, 8 * step, step)]
    return out


def bench_kinematics(cfg: BenchConfig, report: Findings) -> None:
    """Median milliseconds of `kinematics_after_pose` on a 10-s walk, side and frontal view."""
    runs = RUNS["quick"] if cfg.pipeline_runs <= 1 else RUNS["full"]
    for view, key in (("side", "kinematics_10s_ms"), ("front", "kinematics_10s_frontal_ms")):
        seq, fps, aspect = _walk(view)
        seconds = median_seconds(lambda s=seq, f=fps, a=aspect: kinematics_after_pose(s, f, a), runs=runs, warmup=2)
        report.figures[key] = round(seconds * 1000.0, 3)
        log(f"kinematics, {view} view: {seconds * 1000:.1f} ms for {len(seq)} frames")
    report.inputs["kinematics"] = (f"synthetic walker, Normal preset, {SECONDS:g} s at 30 fps ({int(SECONDS * 30)} "
                                   f"frames), side and front view; median of {runs} runs of compute + to_dict + "
                                   "8 frame phases")
