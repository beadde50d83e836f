"""`python -m gaitlab bench`: how fast and how lean GaitLab is on this machine.

Five sections, each measured side by side in one run (so they share the machine's load):

- `model`: forward pass (batch 1) and Grad-CAM of the shipped student vs the seed product's
  student (random weights; speed does not depend on weight values). Grad-CAM is what
  `explanations.explain` does per call: a private copy of the model, then Captum's
  LayerGradCam on `model.cam_layer`, upsampled to 224x224 per frame.
- `video`: `analyze` of a generated walking video (20 s, 1280x720, 30 fps) with the model
  already loaded, vs the floor under it: one decode of the video plus one bare MediaPipe Pose
  pass over the frames analyze poses (`bench_sections.decode_and_pose`); also Pose's own
  milliseconds per frame, and a plain decode for scale.
- `memory`: peak resident memory (max RSS) of `python -m gaitlab analyze … --json` on a 20 s
  and a 3 min 720p video, each in a fresh process.
- `cohort`: cases per minute of the cohort engine (`cohort.execute_items`, CSV written) on
  12 short generated videos with 1 and 2 local workers and on a 2-worker Dask LocalCluster,
  in steady state (each mode after one warm-up run that starts its workers, which later runs
  reuse), plus 2 local workers from a cold start (fork server and workers started inside the
  timing, as a one-shot `python -m gaitlab cohort --workers 2` does).
- `kinematics`: what the kinematics add beyond pose on a 10-s walk (compute, the JSON block,
  the 8 frames' gait phases; `gaitlab.bench_kinematics`), side and frontal view.

The walks are synthetic (GaitLab's walker, rendered on a plain background): no real 20-s
720p walk ships with GaitLab or with a package it installs; the report says so. The full run
should take about 15 minutes on 2 quiet cores (estimated from its parts), Pose on every frame
being most of it; `--only video` gives the pose figures in about 3.

Each timing is the median of several runs after warm-up; the runs of two things that are
compared are interleaved, so a change in background load hits both alike. Generated videos
are cached (keyed by their parameters) in `--cache`, default `~/.cache/gaitlab/bench`.
Missed targets are reported, never turned into a failing exit status: this is a measurement.

This module holds the figures, targets and report (`BenchReport`, its JSON `to_dict` and the
`format_report` table) and runs the sections (`run_bench`); `gaitlab.bench_sections` holds the
measurements themselves and the generated videos.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from gaitlab.files import user_cache_dir
from gaitlab.bench_kinematics import bench_kinematics
from gaitlab.bench_sections import (
    FULL, QUICK, BenchConfig, bench_cohort, bench_memory, bench_model, bench_video, log,
)
from gaitlab.bench_videos import VideoSpec

SECTIONS: tuple[str, ...] = ("model", "video", "memory", "cohort", "kinematics")
# Above this 1-minute load average per CPU at the start, the report says the machine was busy.
BUSY_LOAD_PER_CPU = 0.75

# figure key → (label, unit). Units: ms, s, MB (10^6 bytes), cases/min, x (a ratio).
FIGURES: dict[str, tuple[str, str]] = {
    "forward_student_ms": ("forward pass, shipped student (batch 1)", "ms"),
    "forward_seed_ms": ("forward pass, seed student (batch 1)", "ms"),
    "forward_ratio": ("forward pass, student / seed", "x"),
    "gradcam_student_ms": ("Grad-CAM, shipped student", "ms"),
    "gradcam_seed_ms": ("Grad-CAM, seed student", "ms"),
    "gradcam_ratio": ("Grad-CAM, student / seed", "x"),
    "decode_short_s": ("OpenCV decode only, short video", "s"),
    "pose_short_s": ("decode + MediaPipe Pose pass, short video", "s"),
    "analyze_short_s": ("analyze, short video (model loaded)", "s"),
    "analyze_vs_pose": ("analyze / (decode + Pose), short video", "x"),
    "pose_ms_per_frame": ("MediaPipe Pose per frame (bare)", "ms"),
    "analyze_ms_per_frame": ("analyze per posed frame", "ms"),
    "decode_crowded_s": ("OpenCV decode only, real footage, two people in view", "s"),
    "pose_crowded_s": ("decode + single-person Pose pass, two people in view", "s"),
    "analyze_crowded_s": ("analyze, two people in view (model loaded)", "s"),
    "analyze_crowded_vs_pose": ("analyze / (decode + Pose), two people in view", "x"),
    "rss_short_mb": ("peak memory, analyze short video (fresh process)", "MB"),
    "rss_long_mb": ("peak memory, analyze long video (fresh process)", "MB"),
    "rss_long_vs_short": ("peak memory, long / short", "x"),
    "cli_analyze_short_s": ("CLI analyze wall time, short video (fresh process)", "s"),
    "cli_analyze_long_s": ("CLI analyze wall time, long video (fresh process)", "s"),
    "cohort_1_worker_cpm": ("cohort, 1 local worker", "cases/min"),
    "cohort_2_workers_cpm": ("cohort, 2 local workers", "cases/min"),
    "cohort_2_workers_cold_cpm": ("cohort, 2 local workers, cold start", "cases/min"),
    "cohort_dask_2_workers_cpm": ("cohort, Dask LocalCluster, 2 workers", "cases/min"),
    "cohort_1_thread_cpm": ("cohort, 1 local worker held to 1 thread", "cases/min"),
    "cohort_2_vs_1": ("cohort speed-up, 2 local workers / 1", "x"),
    "cohort_2_vs_1_thread": ("cohort speed-up, 2 local workers / 1 at 1 thread", "x"),
    "cohort_dask_vs_1": ("cohort speed-up, Dask 2 workers / 1 local", "x"),
    "kinematics_10s_ms": ("kinematics of a 10-s walk beyond pose, side view", "ms"),
    "kinematics_10s_frontal_ms": ("kinematics of a 10-s walk beyond pose, frontal view", "ms"),
}
SECTION_FIGURES: dict[str, tuple[str, ...]] = {
    "model": ("forward_student_ms", "forward_seed_ms", "forward_ratio",
              "gradcam_student_ms", "gradcam_seed_ms", "gradcam_ratio"),
    "video": ("decode_short_s", "pose_short_s", "analyze_short_s", "analyze_vs_pose",
              "pose_ms_per_frame", "analyze_ms_per_frame", "decode_crowded_s", "pose_crowded_s",
              "analyze_crowded_s", "analyze_crowded_vs_pose"),
    "memory": ("rss_short_mb", "rss_long_mb", "rss_long_vs_short",
               "cli_analyze_short_s", "cli_analyze_long_s"),
    "cohort": ("cohort_1_worker_cpm", "cohort_2_workers_cpm", "cohort_2_workers_cold_cpm",
               "cohort_dask_2_workers_cpm", "cohort_1_thread_cpm", "cohort_2_vs_1",
               "cohort_2_vs_1_thread", "cohort_dask_vs_1"),
    "kinematics": ("kinematics_10s_ms", "kinematics_10s_frontal_ms"),
}


@dataclass(frozen=True)
class Target:
    """A figure's goal: `value op limit`."""

    op: str  # "<=", "<" or ">="
    limit: float

    def met(self, value: float) -> bool:
        return {"<=": value <= self.limit, "<": value < self.limit, ">=": value >= self.limit}[self.op]

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"


TARGETS: dict[str, Target] = {
    "forward_ratio": Target("<=", 0.10),
    "gradcam_ratio": Target("<=", 0.15),
    "analyze_vs_pose": Target("<=", 1.3),
    "analyze_crowded_vs_pose": Target("<=", 2.0),
    "rss_long_vs_short": Target("<=", 1.15),
    "rss_long_mb": Target("<", 1500.0),
    "cohort_2_vs_1": Target(">=", 1.6),
    "kinematics_10s_ms": Target("<=", 50.0),
}


@dataclass
class BenchReport:
    """Everything one bench run measured, plus where and under which load."""

    mode: str
    machine: dict[str, object]
    inputs: dict[str, str] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def checks(self) -> dict[str, dict[str, object]]:
        """Targets of the figures measured: op, limit and whether the figure met it."""
        return {k: {"op": t.op, "limit": t.limit, "passed": t.met(self.figures[k])}
                for k, t in TARGETS.items() if k in self.figures}

    def failed(self) -> list[str]:
        return [k for k, c in self.checks().items() if not c["passed"]]

    def to_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "machine": self.machine, "inputs": self.inputs,
                "figures": self.figures, "units": {k: FIGURES[k][1] for k in self.figures},
                "targets": self.checks(), "failed": self.failed(),
                "all_passed": not self.failed(), "notes": self.notes}


# --- The machine and the weights ----------------------------------------------------------
def _load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict[str, object]:
    """What the figures depend on: CPUs, torch threads, versions, and the load right now."""
    import cv2
    import torch

    cpu_model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_count": os.cpu_count(), "usable_cpus": usable, "cpu_model": cpu_model,
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "opencv": cv2.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "load_average_start": _load_average(),
    }


def bench_weights(weights: str | None, cache: Path, report: BenchReport) -> str:
    """A weights file for the student: `weights`, the shipped one, or (when neither loads) a
    randomly initialised pose-frame student (`model.pose_student`), written to the cache.

    Speed and memory do not depend on the weight values, only on the architecture.
    """
    from gaitlab.errors import WeightsError
    from gaitlab.weights import default_weights, load_model, save_weights

    path = weights or str(default_weights())
    try:
        load_model(path)
        report.inputs["weights"] = path
        return path
    except WeightsError as exc:
        if weights:
            raise
        from gaitlab.model import pose_student

        fallback = cache / "random_pose_student.safetensors"
        if not fallback.is_file():
            import torch

            torch.manual_seed(0)
            save_weights(pose_student(), {"architecture": "pose_student"}, fallback)  # today's view
        report.inputs["weights"] = f"{fallback} (random pose_student: {exc})"
        report.notes.append("No shipped weights could be loaded; a randomly initialised pose-frame student "
                            "was timed instead (speed does not depend on weights).")
        return str(fallback)


# --- Running and reporting --------------------------------------------------------------------
def default_cache() -> Path:
    return user_cache_dir("bench")


def run_bench(quick: bool = False, only: list[str] | None = None, cache: str | Path | None = None,
              weights: str | None = None) -> BenchReport:
    """Run the bench sections (`only`: a subset of `SECTIONS`) and return the report.

    A section that fails is recorded in `notes` and the others still run.
    """
    cfg = QUICK if quick else FULL
    cache_dir = Path(cache) if cache else default_cache()
    cache_dir.mkdir(parents=True, exist_ok=True)
    report = BenchReport(mode="quick" if quick else "full", machine=machine_info())
    path = bench_weights(weights, cache_dir, report)
    steps = {
        "model": lambda: bench_model(cfg, path, report),
        "video": lambda: bench_video(cfg, path, cache_dir, report),
        "memory": lambda: bench_memory(cfg, path, cache_dir, report),
        "cohort": lambda: bench_cohort(cfg, path, cache_dir, report),
        "kinematics": lambda: bench_kinematics(cfg, report),
    }
    section_loads: dict[str, list[float]] = {}
    report.machine["load_average_by_section"] = section_loads  # when a section is suspect
    for name in only or SECTIONS:
        section_loads[name] = _load_average()
        try:
            steps[name]()
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
            report.notes.append(f"section {name} failed: {type(exc).__name__}: {exc}")
            log(f"{name} failed: {exc}")
    if {"video", "memory"} & set(only or SECTIONS):
        report.notes.append("The walking videos are synthetic (GaitLab's walker on a plain background): "
                            "no real 20-s 720p walk ships with GaitLab or with a package it installs.")
    report.machine["load_average_end"] = _load_average()
    # Only the load at the start says whether others were busy: by the end the bench's own
    # work (two workers on two cores) has raised the load average itself.
    start = report.machine["load_average_start"]
    busy = BUSY_LOAD_PER_CPU * (os.cpu_count() or 1)
    if start and start[0] > busy:
        report.notes.append(f"The machine was busy (1-minute load average {start[0]:g} > {busy:g} at "
                            "the start): other work shared the CPUs, so timings are pessimistic.")
    return report


def _format(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.3f}"
    if unit == "cases/min":
        return f"{value:.1f} {unit}"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def format_report(report: BenchReport) -> str:
    """A readable table: figure, value, target, pass/fail; then the machine and any misses."""
    m = report.machine
    lines = [f"GaitLab bench ({report.mode}) on {m['cpu_count']} CPU(s) ({m['cpu_model']}), "
             f"torch {m['torch_threads']} thread(s); load average "
             f"{m['load_average_start']} at start, {m.get('load_average_end')} at end"]
    by_section = m.get("load_average_by_section") or {}
    if by_section:
        lines.append("1-minute load average as each section started: "
                     + ", ".join(f"{k} {v[0]:g}" for k, v in by_section.items() if v))
    lines.append("")
    checks = report.checks()
    width = max(len(label) for label, _ in FIGURES.values())
    lines.append(f"{'figure':<{width}}  {'value':>16}  {'target':>8}  result")
    for key, value in report.figures.items():
        label, unit = FIGURES[key]
        target = str(TARGETS[key]) if key in TARGETS else ""
        result = ("pass" if checks[key]["passed"] else "FAIL") if key in checks else ""
        lines.append(f"{label:<{width}}  {_format(value, unit):>16}  {target:>8}  {result}")
    lines.append("")
    for name, text in report.inputs.items():
        lines.append(f"{name}: {text}")
    for note in report.notes:
        lines.append(f"note: {note}")
    failed = report.failed()
    lines.append(f"targets missed: {', '.join(failed)}" if failed else "all measured targets met")
    return "\n".join(lines)


__all__ = ["BenchConfig", "BenchReport", "Target", "VideoSpec", "run_bench", "format_report", "default_cache",
           "FIGURES", "TARGETS", "SECTIONS", "SECTION_FIGURES", "FULL", "QUICK"]
