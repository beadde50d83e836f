"""`python -m gaitlab bench`: how fast and how lean GaitLab is on this machine.

Four sections, each measured side by side in one run (so they share the machine's load):

- `model`: forward pass (batch 1) and Grad-CAM of the shipped student vs the seed product's
  student (random weights; speed does not depend on weight values). Grad-CAM is what
  `explanations.explain` does per call: a private copy of the model, then Captum's
  LayerGradCam on `model.cam_layer`, upsampled to 224x224 per frame.
- `video`: `analyze` of a generated walking video (20 s, 1280x720, 30 fps) with the model
  already loaded, vs OpenCV merely decoding that video once (`read()` of every frame).
- `memory`: peak resident memory (max RSS) of `python -m gaitlab analyze … --json` on a 20 s
  and a 3 min 720p video, each in a fresh process.
- `cohort`: cases per minute of the cohort engine (`cohort.execute_items`, CSV written) on
  24 short generated videos with 1 and 2 local workers and on a 2-worker Dask LocalCluster,
  in steady state (each mode after one warm-up run that starts its workers, which later runs
  reuse), plus 2 local workers from a cold start (fork server and workers started inside the
  timing, as a one-shot `python -m gaitlab cohort --workers 2` does).

Each timing is the median of several runs after warm-up; the runs of two things that are
compared are interleaved, so a change in background load hits both alike. Generated videos
are cached (keyed by their parameters) in `--cache`, default `~/.cache/gaitlab/bench`.
Missed targets are reported, never turned into a failing exit status: this is a measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

SECTIONS: tuple[str, ...] = ("model", "video", "memory", "cohort")
SUBPROCESS_TIMEOUT_S = 900  # one CLI analysis of the long video takes well under a minute
# Above this 1-minute load average per CPU at the start, the report says the machine was busy.
BUSY_LOAD_PER_CPU = 0.75
RENDER_VERSION = 1  # bump when the generated videos change, so cached ones are not reused

# figure key → (label, unit). Units: ms, s, MB (10^6 bytes), cases/min, x (a ratio).
FIGURES: dict[str, tuple[str, str]] = {
    "forward_student_ms": ("forward pass, shipped student (batch 1)", "ms"),
    "forward_seed_ms": ("forward pass, seed student (batch 1)", "ms"),
    "forward_ratio": ("forward pass, student / seed", "x"),
    "gradcam_student_ms": ("Grad-CAM, shipped student", "ms"),
    "gradcam_seed_ms": ("Grad-CAM, seed student", "ms"),
    "gradcam_ratio": ("Grad-CAM, student / seed", "x"),
    "decode_short_s": ("OpenCV decode only, short video", "s"),
    "analyze_short_s": ("analyze, short video (model loaded)", "s"),
    "analyze_vs_decode": ("analyze / decode, short video", "x"),
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
}
SECTION_FIGURES: dict[str, tuple[str, ...]] = {
    "model": ("forward_student_ms", "forward_seed_ms", "forward_ratio",
              "gradcam_student_ms", "gradcam_seed_ms", "gradcam_ratio"),
    "video": ("decode_short_s", "analyze_short_s", "analyze_vs_decode"),
    "memory": ("rss_short_mb", "rss_long_mb", "rss_long_vs_short",
               "cli_analyze_short_s", "cli_analyze_long_s"),
    "cohort": ("cohort_1_worker_cpm", "cohort_2_workers_cpm", "cohort_2_workers_cold_cpm",
               "cohort_dask_2_workers_cpm", "cohort_1_thread_cpm", "cohort_2_vs_1",
               "cohort_2_vs_1_thread", "cohort_dask_vs_1"),
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
    "analyze_vs_decode": Target("<=", 2.0),
    "rss_long_vs_short": Target("<=", 1.15),
    "rss_long_mb": Target("<", 1500.0),
    "cohort_2_vs_1": Target(">=", 1.6),
}


@dataclass(frozen=True)
class VideoSpec:
    """A generated walking video: the file name is derived from every parameter (the cache key)."""

    seconds: float
    width: int
    height: int
    fps: float = 30.0
    variant: int = 0

    @property
    def n_frames(self) -> int:
        return int(round(self.seconds * self.fps))

    def file_name(self) -> str:
        return (f"walk_{self.width}x{self.height}_{self.seconds:g}s_{self.fps:g}fps"
                f"_v{self.variant}_r{RENDER_VERSION}.mp4")

    def describe(self) -> str:
        return f"{self.seconds:g} s {self.width}x{self.height} {self.fps:g} fps"


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repetitions of one bench mode."""

    forward_runs: int
    gradcam_runs: int
    warmup: int  # untimed runs before the model timings
    pipeline_runs: int  # timed runs of analyze/decode and of each cohort mode
    short: VideoSpec
    long: VideoSpec
    cohort_cases: int
    cohort_video: VideoSpec


FULL = BenchConfig(forward_runs=20, gradcam_runs=10, warmup=3, pipeline_runs=3,
                   short=VideoSpec(20, 1280, 720), long=VideoSpec(180, 1280, 720),
                   cohort_cases=24, cohort_video=VideoSpec(6, 640, 360))
QUICK = BenchConfig(forward_runs=3, gradcam_runs=2, warmup=1, pipeline_runs=1,
                    short=VideoSpec(2, 320, 180), long=VideoSpec(4, 320, 180),
                    cohort_cases=4, cohort_video=VideoSpec(2, 160, 120))


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


# --- Small helpers ------------------------------------------------------------------------
def _log(message: str) -> None:
    """Progress goes to stderr, so `--json` output stays one clean object on stdout."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


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


def median_seconds(fn: Callable[[], object], runs: int, warmup: int) -> float:
    """Median wall time of `fn()` over `runs` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(fns: dict[str, Callable[[], object]], runs: int, warmup: int) -> dict[str, float]:
    """Median wall time of each function, runs alternating between them (A B A B …), so a
    burst of background load does not land on one side of a comparison only."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _gaitlab_env() -> dict[str, str]:
    """Environment for `python -m gaitlab` subprocesses: this copy of the package importable."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _gaitlab_cmd(*args: str, weights: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "gaitlab", *args]
    return cmd + ["--weights", weights] if weights else cmd


# --- Weights: the shipped student, or a random one when none is shipped yet ----------------
def bench_weights(weights: str | None, cache: Path, report: BenchReport) -> str:
    """A weights file for the student: `weights`, the shipped one, or (when neither loads) a
    randomly initialised student of the default architecture, written to the cache.

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
        from gaitlab.model import gait_student

        fallback = cache / "random_student.safetensors"
        if not fallback.is_file():
            import torch

            torch.manual_seed(0)
            save_weights(gait_student(), {"architecture": "gait_student", "view": "silhouette"}, fallback)
        report.inputs["weights"] = f"{fallback} (random gait_student: {exc})"
        report.notes.append("No shipped weights could be loaded; a randomly initialised student of "
                            "the default architecture was timed instead (speed does not depend on weights).")
        return str(fallback)


# --- Generated videos -----------------------------------------------------------------------
def pacing_keypoints(spec: VideoSpec) -> np.ndarray:
    """Keypoints [T, 33, 4] of a person pacing back and forth across the frame for the whole
    video (a straight walk would leave the frame after a few seconds)."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints

    aspect = spec.width / spec.height
    rng = np.random.default_rng(spec.variant)
    base = WalkerParams(speed=float(rng.uniform(0.6, 0.9)), cadence=float(rng.uniform(90, 115)),
                        asymmetry=float(rng.uniform(0.0, 0.5)) if spec.variant else 0.0,
                        trunk_flexion=float(rng.uniform(0.0, 12.0)) if spec.variant else 0.0)
    base.step_length = base.speed * 60.0 / base.cadence  # no sliding feet (see WalkerParams)
    left, right = 0.12, 0.88  # normalised pelvis x at the turns
    crossing = (right - left) * aspect / (base.speed * base.height)  # seconds per crossing
    per_leg = max(2, int(round(crossing * spec.fps)))
    legs, direction, done = [], 1, 0
    while done < spec.n_frames:
        n = min(per_leg, spec.n_frames - done)
        params = WalkerParams(**{**base.__dict__, "direction": direction,
                                 "start_x": left if direction > 0 else right,
                                 "phase": done * base.cadence / 120.0 / spec.fps % 1.0})
        legs.append(walk_keypoints(params, n, spec.fps, aspect))
        direction, done = -direction, done + n
    return np.concatenate(legs)


# Plain scene and clothing (BGR): a calm wall and floor, saturated clothes, as a clinic video.
_WALL, _FLOOR = (182, 176, 170), (128, 124, 120)
_COLOURS = ({"head": (140, 172, 224), "neck": (140, 172, 224), "hand": (140, 172, 224),
             "torso": (40, 40, 200), "arm": (40, 40, 200), "thigh": (110, 40, 30),
             "shank": (110, 40, 30), "foot": (20, 20, 20)},
            {"head": (70, 100, 150), "neck": (70, 100, 150), "hand": (70, 100, 150),
             "torso": (200, 120, 40), "arm": (200, 120, 40), "thigh": (40, 50, 60),
             "shank": (40, 50, 60), "foot": (30, 30, 120)})


def render_plain_video(path: Path, spec: VideoSpec) -> None:
    """Write `spec`'s video: the walker's body shapes on a plain two-tone background.

    No texture or per-frame noise: rendering a 3-minute 720p video then takes about a minute,
    most of it the encoder. Written to a temporary name and renamed, so an interrupted run
    never leaves a half video in the cache.
    """
    import cv2

    from gaitlab.pipeline.render import RenderStyle, body_height, body_shapes, draw_body

    seq = pacing_keypoints(spec)
    pts = seq[..., :2].astype(np.float64) * [spec.width, spec.height]
    shapes = body_shapes(pts, body_height(pts), RenderStyle())
    background = np.empty((spec.height, spec.width, 3), np.uint8)
    floor = int(spec.height * 0.8)
    background[:floor], background[floor:] = _WALL, _FLOOR
    colours = _COLOURS[spec.variant % len(_COLOURS)]
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.mp4")  # cv2 picks the muxer by suffix
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), spec.fps, (spec.width, spec.height))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v video here")
    try:
        for t in range(len(seq)):
            canvas = background.copy()
            draw_body(canvas, shapes, t, colours)
            writer.write(canvas)
    finally:
        writer.release()
    os.replace(tmp, path)


def cached_video(spec: VideoSpec, cache: Path) -> Path:
    """The video for `spec`, rendered on first use and reused afterwards."""
    path = cache / spec.file_name()
    if not path.is_file():
        _log(f"rendering a {spec.describe()} walking video (cached in {cache})")
        cache.mkdir(parents=True, exist_ok=True)
        render_plain_video(path, spec)
    return path


# --- Sections -------------------------------------------------------------------------------
def bench_model(cfg: BenchConfig, weights: str, report: BenchReport) -> None:
    """Forward pass and Grad-CAM, shipped student vs seed student, interleaved."""
    import torch

    from gaitlab.constants import CHANNELS, CLIP_FRAMES, EMBED_DIM, FRAME_SIZE
    from gaitlab.explanations import gradcam_map, private_copy
    from gaitlab.inference import get_model
    from gaitlab.model import count_parameters, seed_student

    torch.manual_seed(0)
    student, seed = get_model(weights), seed_student().eval()
    clip = torch.randn(1, CHANNELS, CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE)
    embedding = torch.randn(1, EMBED_DIM)
    report.inputs["model"] = (f"student {count_parameters(student):,} parameters vs seed "
                              f"{count_parameters(seed):,}; one random clip [1, 3, 8, 224, 224]")

    def forward(model):
        def run():
            with torch.no_grad():
                model(clip, embedding)
        return run

    def gradcam(model):
        # What explain() does per call: a private copy (Captum hooks it), then Grad-CAM.
        def run():
            with torch.enable_grad():
                gradcam_map(private_copy(model), clip, embedding, 0)
        return run

    _log("model: forward passes")
    fw = interleaved_medians({"student": forward(student), "seed": forward(seed)},
                             cfg.forward_runs, cfg.warmup)
    _log("model: Grad-CAM")
    gc = interleaved_medians({"student": gradcam(student), "seed": gradcam(seed)},
                             cfg.gradcam_runs, cfg.warmup)
    report.figures.update(
        forward_student_ms=fw["student"] * 1e3, forward_seed_ms=fw["seed"] * 1e3,
        forward_ratio=fw["student"] / fw["seed"],
        gradcam_student_ms=gc["student"] * 1e3, gradcam_seed_ms=gc["seed"] * 1e3,
        gradcam_ratio=gc["student"] / gc["seed"])


def decode_all(path: Path) -> int:
    """Decode every frame once with OpenCV (`read()`: grab and convert); returns the count."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    n = 0
    try:
        while cap.read()[0]:
            n += 1
    finally:
        cap.release()
    return n


def bench_video(cfg: BenchConfig, weights: str, cache: Path, report: BenchReport) -> None:
    """`analyze` (model loaded) vs a plain decode of the same video, interleaved."""
    from gaitlab.inference import analyze, get_model

    path = cached_video(cfg.short, cache)
    model = get_model(weights)
    report.inputs["short_video"] = cfg.short.describe()
    _log(f"video: analyze vs decode, {cfg.short.describe()}")
    times = interleaved_medians({"decode": lambda: decode_all(path),
                                 "analyze": lambda: analyze(path, model=model)},
                                cfg.pipeline_runs, warmup=1)
    report.figures.update(decode_short_s=times["decode"], analyze_short_s=times["analyze"],
                          analyze_vs_decode=times["analyze"] / times["decode"])


_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")
# Fallback when /usr/bin/time is missing: a tiny parent whose only child is the analysis, so
# its RUSAGE_CHILDREN peak is that child's own.
_RUSAGE_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
                   "print('Maximum resident set size (kbytes):', "
                   "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r)")


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Peak RSS (MB, 10^6 bytes) and wall time (s) of `cmd` run in a fresh process."""
    if Path("/usr/bin/time").is_file():
        full = ["/usr/bin/time", "-v", *cmd]
    else:
        full = [sys.executable, "-c", _RUSAGE_WRAPPER, *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True, env=_gaitlab_env(),
                          timeout=SUBPROCESS_TIMEOUT_S)
    wall = time.perf_counter() - t0
    found = _MAX_RSS.search(proc.stderr)
    if proc.returncode != 0 or not found:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd[2:4])} failed (exit {proc.returncode}): {' / '.join(tail)}")
    return int(found.group(1)) * 1024 / 1e6, wall


def bench_memory(cfg: BenchConfig, weights: str, cache: Path, report: BenchReport) -> None:
    """Max RSS of the CLI `analyze` on a short and a long video, each in a fresh process."""
    short, long = cached_video(cfg.short, cache), cached_video(cfg.long, cache)
    report.inputs["long_video"] = cfg.long.describe()
    report.inputs["short_video"] = cfg.short.describe()
    rss = "/usr/bin/time -v" if Path("/usr/bin/time").is_file() else "getrusage(RUSAGE_CHILDREN)"
    report.inputs["peak_memory"] = f"max RSS by {rss} of `python -m gaitlab analyze VIDEO --json`"
    _log(f"memory: analyze {cfg.short.describe()} in a fresh process")
    rss_short, wall_short = peak_rss_mb(_gaitlab_cmd("analyze", str(short), "--json", weights=weights))
    _log(f"memory: analyze {cfg.long.describe()} in a fresh process")
    rss_long, wall_long = peak_rss_mb(_gaitlab_cmd("analyze", str(long), "--json", weights=weights))
    report.figures.update(rss_short_mb=rss_short, rss_long_mb=rss_long,
                          rss_long_vs_short=rss_long / rss_short,
                          cli_analyze_short_s=wall_short, cli_analyze_long_s=wall_long)


def cohort_folder(cfg: BenchConfig, cache: Path) -> Path:
    """A folder of `cfg.cohort_cases` different short walking videos (cached)."""
    spec = cfg.cohort_video
    folder = cache / f"cohort_{cfg.cohort_cases}x_{spec.width}x{spec.height}_{spec.seconds:g}s_r{RENDER_VERSION}"
    for k in range(cfg.cohort_cases):
        case = VideoSpec(spec.seconds, spec.width, spec.height, spec.fps, variant=k + 1)
        target = folder / f"case_{k:03d}.mp4"
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            render_plain_video(target, case)
    return folder


def _stop_fork_server() -> bool:
    """Stop multiprocessing's fork server, so the next local pool starts a new one, as in a
    fresh process. A private CPython method (its own tests use it); False where it is missing."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is None:
        return False
    stop()
    return True


def bench_cohort(cfg: BenchConfig, weights: str, cache: Path, report: BenchReport) -> None:
    """Cases per minute of the cohort engine: 1 local worker, 2 local workers, and a 2-worker
    Dask LocalCluster, in steady state; and 2 local workers from a cold start.

    Timed is `cohort.execute_items` in this process (writing its CSV as the CLI does), from
    the call to the last row. Steady state: each mode first has one untimed run, which starts
    its workers (each loads the model once) and leaves them running for the timed runs: the
    local pool is kept between runs, as the Dask LocalCluster is started before its timing.
    The 1-worker modes run in this process, its model already loaded. This is the throughput
    of the app or a notebook running cohort after cohort.

    Cold start: the kept pool and multiprocessing's fork server are stopped before each such
    run, so its time includes starting the fork server (which imports torch), forking both
    workers and loading the model in each: what a one-shot `python -m gaitlab cohort
    --workers 2` pays beyond its interpreter start-up (the CLI wall times of the memory
    section show that part).
    """
    from distributed import LocalCluster

    from gaitlab.cohort.run import collect_inputs, execute_items, shutdown_pool

    _log(f"cohort: preparing {cfg.cohort_cases} videos of {cfg.cohort_video.describe()}")
    items = collect_inputs(cohort_folder(cfg, cache))
    n = len(items)
    report.inputs["cohort"] = (f"{n} videos of {cfg.cohort_video.describe()}; wall time of "
                               "cohort.execute_items (CSV written), median of "
                               f"{cfg.pipeline_runs} run(s) per mode; steady state: after one "
                               "warm-up run that starts the workers, which later runs reuse; cold "
                               "start: fork server and workers started inside the timed run")
    errors = 0
    with tempfile.TemporaryDirectory(prefix="gaitlab-bench-") as tmp:
        def timed(**mode) -> float:
            nonlocal errors
            run = execute_items(items, Path(tmp) / "out.csv", weights=weights, **mode)
            errors = max(errors, run.errors)
            return run.seconds

        def single_threaded() -> float:
            # The work of one of the two workers below (each runs on one thread), done here:
            # the ratio to it is the pool's own parallel efficiency, while the ratio to
            # `--workers 1` (torch and OpenCV free to use every core) is what a user gains.
            import cv2
            import torch

            threads = (torch.get_num_threads(), cv2.getNumThreads())
            torch.set_num_threads(1)
            cv2.setNumThreads(1)
            try:
                return timed(workers=1)
            finally:
                torch.set_num_threads(threads[0])
                cv2.setNumThreads(threads[1])

        cold_includes_fork_server = True

        def cold() -> float:
            nonlocal cold_includes_fork_server
            shutdown_pool()  # waits for the old workers to exit: none shares the timed run
            cold_includes_fork_server &= _stop_fork_server()
            # The pool this run starts stays: the next "two" run is in steady state again.
            return timed(workers=2)

        _log("cohort: 1 local worker, 2 local workers (steady, cold), 1 worker on 1 thread")
        local = interleaved_medians({"one": lambda: timed(workers=1), "two": lambda: timed(workers=2),
                                     "one_thread": single_threaded, "two_cold": cold},
                                    cfg.pipeline_runs, warmup=1)
        if not cold_includes_fork_server:
            report.notes.append("The fork server could not be stopped here: the cold-start cohort "
                                "figure leaves out its start (importing torch once).")
        shutdown_pool()  # idle local workers would hold memory during the Dask runs
        _log("cohort: starting a 2-worker Dask LocalCluster")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            timed(scheduler=cluster.scheduler_address)  # warm-up: imports, one model per worker
            _log("cohort: Dask, 2 workers")
            dask = median_seconds(lambda: timed(scheduler=cluster.scheduler_address), cfg.pipeline_runs, 0)
    if errors:
        report.notes.append(f"{errors} cohort row(s) had errors; throughput counts them as cases.")
    one, two, one_thread, two_cold = local["one"], local["two"], local["one_thread"], local["two_cold"]
    report.figures.update(
        cohort_1_worker_cpm=60 * n / one, cohort_2_workers_cpm=60 * n / two,
        cohort_2_workers_cold_cpm=60 * n / two_cold,
        cohort_dask_2_workers_cpm=60 * n / dask, cohort_1_thread_cpm=60 * n / one_thread,
        cohort_2_vs_1=one / two, cohort_2_vs_1_thread=one_thread / two, cohort_dask_vs_1=one / dask)


# --- Running and reporting --------------------------------------------------------------------
def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gaitlab" / "bench"


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
    }
    section_loads: dict[str, list[float]] = {}
    report.machine["load_average_by_section"] = section_loads  # when a section is suspect
    for name in only or SECTIONS:
        section_loads[name] = _load_average()
        try:
            steps[name]()
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
            report.notes.append(f"section {name} failed: {type(exc).__name__}: {exc}")
            _log(f"{name} failed: {exc}")
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


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object (figures, targets, booleans)")
    parser.add_argument("--quick", action="store_true", help="small videos and few runs (a smoke test, not figures)")
    parser.add_argument("--only", action="append", choices=SECTIONS, default=None,
                        help="run only this section (repeatable)")
    parser.add_argument("--cache", default=None, help=f"folder for generated videos (default {default_cache()})")
    parser.add_argument("--weights", default=None, help=argparse.SUPPRESS)


def run_bench_cli(args: argparse.Namespace) -> int:
    """The `bench` command: always exit 0 when it measured something; misses are printed."""
    report = run_bench(quick=args.quick, only=args.only, cache=args.cache, weights=args.weights)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    if report.failed():
        print(f"bench: targets missed: {', '.join(report.failed())}", file=sys.stderr)
    return 0


__all__ = ["BenchConfig", "BenchReport", "Target", "VideoSpec", "run_bench", "format_report",
           "FIGURES", "TARGETS", "SECTIONS", "SECTION_FIGURES", "add_bench_arguments", "run_bench_cli"]
