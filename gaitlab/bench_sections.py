"""The measurements of `python -m gaitlab bench` (`gaitlab.bench` runs and reports them).

`bench_model`, `bench_video`, `bench_memory` and `bench_cohort` each measure one section and
write its figures (keys of `gaitlab.bench.FIGURES`), inputs and notes into a `Findings` (the
`BenchReport`). `FULL` and `QUICK` (`BenchConfig`) set sizes and repetitions. Timings are
medians (`median_seconds`), interleaved between the things compared (`interleaved_medians`);
peak memory is the max RSS of a fresh `python -m gaitlab analyze` process (`peak_rss_mb`).
The videos measured come from `gaitlab.bench_videos` (generated walks and the real two-person
clip, cached).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from gaitlab.bench_videos import (
    CROWDED_SOURCE, RENDER_VERSION, VideoSpec, cached_video, crowded_video, write_bench_video,
)

SUBPROCESS_TIMEOUT_S = 900  # a limit against a hung `analyze` subprocess, far above a normal run
@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repetitions of one bench mode."""

    forward_runs: int
    gradcam_runs: int
    warmup: int  # untimed runs before the model timings
    pipeline_runs: int  # timed runs of analyze / decode + pose (each after one warm-up run)
    short: VideoSpec
    crowded_seconds: float  # the real two-person clip, played to and fro to this length
    long: VideoSpec
    cohort_cases: int
    cohort_video: VideoSpec
    cohort_runs: int  # timed runs of each cohort mode (each after one warm-up run)


# Pose on every frame sets the pace: the full bench should take about 15 minutes on 2 quiet
# cores (estimated: video ~3, memory ~4 with the 3-minute walk, cohort ~5); `--only` runs a part.
FULL = BenchConfig(forward_runs=20, gradcam_runs=10, warmup=3, pipeline_runs=3,
                   short=VideoSpec(20, 1280, 720), crowded_seconds=20.0, long=VideoSpec(180, 1280, 720),
                   cohort_cases=12, cohort_video=VideoSpec(3, 480, 270), cohort_runs=2)
QUICK = BenchConfig(forward_runs=3, gradcam_runs=2, warmup=1, pipeline_runs=1,
                    short=VideoSpec(2, 320, 180), crowded_seconds=2.0, long=VideoSpec(4, 320, 180),
                    cohort_cases=2, cohort_video=VideoSpec(2, 160, 120), cohort_runs=1)


class Findings(Protocol):
    """Where a section writes what it measured (a `gaitlab.bench.BenchReport`)."""

    inputs: dict[str, str]
    figures: dict[str, float]
    notes: list[str]


# --- Small helpers ------------------------------------------------------------------------
def log(message: str) -> None:
    """Progress goes to stderr, so `--json` output stays one clean object on stdout."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


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


# --- Sections -------------------------------------------------------------------------------
def bench_model(cfg: BenchConfig, weights: str, report: Findings) -> None:
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

    log("model: forward passes")
    fw = interleaved_medians({"student": forward(student), "seed": forward(seed)},
                             cfg.forward_runs, cfg.warmup)
    log("model: Grad-CAM")
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


def decode_and_pose(path: Path) -> tuple[int, float]:
    """The floor under `analyze`: one decode of every frame (`read()`) plus one bare MediaPipe
    Pose pass (one Pose object, tracking mode, `model_complexity=1`) over the frames `analyze`
    gives Pose: every `pose_stride`-th, shrunk by `pose_input`. Nothing else: no people search,
    no walker logic, no second pass, no model. Returns (frames posed, seconds inside Pose)."""
    import cv2

    from gaitlab.pipeline.pose import native_logs_silenced, pose_factory, pose_input, pose_stride

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    stride = pose_stride(cap.get(cv2.CAP_PROP_FPS) or 30.0)
    posed, inside, index = 0, 0.0, 0
    with native_logs_silenced():
        pose = pose_factory()()
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if index % stride == 0:
                    rgb = cv2.cvtColor(pose_input(frame), cv2.COLOR_BGR2RGB)
                    t0 = time.perf_counter()
                    pose.process(rgb)
                    inside += time.perf_counter() - t0
                    posed += 1
                index += 1
        finally:
            pose.close()
            cap.release()
    return posed, inside


def bench_video(cfg: BenchConfig, weights: str, cache: Path, report: Findings) -> None:
    """`analyze` (model loaded) vs one decode plus one bare single-person Pose pass over the same
    frames (`decode_and_pose`), and vs a plain decode; interleaved, each after one warm-up run;
    on a generated walk alone (`cfg.short`) and on real footage with two people in view
    (`crowded_video`, where the shared footage is present)."""
    from gaitlab.inference import analyze, get_model

    model = get_model(weights)
    report.inputs["short_video"] = cfg.short.describe()
    report.inputs["pose_baseline"] = ("one decode (OpenCV read() of every frame) plus one single-person MediaPipe "
                                      "Pose pass (model_complexity=1, tracking) over the frames analyze poses, "
                                      "shrunk as analyze shrinks them")
    videos = [("short", cached_video(cfg.short, cache, say=log))]
    crowded = crowded_video(cfg.crowded_seconds, cache, say=log)
    if crowded is None:
        report.notes.append(f"{CROWDED_SOURCE} is absent: no figure with two people in view.")
    else:
        report.inputs["crowded_video"] = (f"{CROWDED_SOURCE.name} (Sports2D, BSD 3-Clause) played to and fro, "
                                          f"{cfg.crowded_seconds:g} s 1280x720 30 fps, two people in view")
        videos.append(("crowded", crowded))
    for key, path in videos:
        log(f"video: analyze vs decode + pose vs decode, {path.name}")
        inside: list[float] = []
        posed = [0]

        def baseline() -> None:
            posed[0], seconds = decode_and_pose(path)
            inside.append(seconds)

        times = interleaved_medians({"decode": lambda: decode_all(path), "pose": baseline,
                                     "analyze": lambda: analyze(path, model=model)},
                                    cfg.pipeline_runs, warmup=1)
        report.figures.update({f"decode_{key}_s": times["decode"], f"pose_{key}_s": times["pose"],
                               f"analyze_{key}_s": times["analyze"]})
        if key == "short":
            report.figures.update(
                analyze_vs_pose=times["analyze"] / times["pose"],
                pose_ms_per_frame=statistics.median(inside[1:] or inside) / max(posed[0], 1) * 1e3,
                analyze_ms_per_frame=times["analyze"] / max(posed[0], 1) * 1e3)
        else:
            report.figures["analyze_crowded_vs_pose"] = times["analyze"] / times["pose"]


# A tiny parent whose only child is the measured command, so that its RUSAGE_CHILDREN peak is
# that child's own. A child forked straight from a large process (torch loaded) would count the
# parent's resident pages from before its exec. argv: peak file, timeout (s), command…; the
# peak (kB) or "timeout" is written to the file, and the exit status is the command's.
_RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "try:\n"
    "    r = subprocess.run(sys.argv[3:], timeout=float(sys.argv[2])).returncode\n"
    "    peak = str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "except subprocess.TimeoutExpired:\n"
    "    r, peak = 124, 'timeout'\n"
    "open(sys.argv[1], 'w').write(peak)\n"
    "sys.exit(r)\n")


@dataclass
class MeasuredRun:
    """A command's exit status (None: it ran past its timeout and was killed), its output,
    its own peak resident memory (MB, 10^6 bytes) and wall time (s)."""

    returncode: int | None
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float


def run_measured(cmd: list[str], timeout: float = SUBPROCESS_TIMEOUT_S,
                 env: dict[str, str] | None = None) -> MeasuredRun:
    """Run `cmd` in a fresh process (through `_RUSAGE_WRAPPER`) and measure its peak memory."""
    with tempfile.TemporaryDirectory(prefix="gaitlab-rss-") as tmp:
        peak_file = Path(tmp) / "peak"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _RUSAGE_WRAPPER, str(peak_file), str(timeout), *cmd],
                              capture_output=True, text=True, env=env, timeout=timeout + 60)
        wall = time.perf_counter() - t0
        peak = peak_file.read_text() if peak_file.is_file() else ""
    if peak == "timeout":
        return MeasuredRun(None, proc.stdout, proc.stderr, 0.0, wall)
    if not peak.isdigit():
        raise RuntimeError(f"the peak memory of {' '.join(cmd[:4])} could not be measured: {proc.stderr[-300:]}")
    return MeasuredRun(proc.returncode, proc.stdout, proc.stderr, int(peak) * 1024 / 1e6, wall)


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Peak RSS (MB, 10^6 bytes) and wall time (s) of a `python -m gaitlab` command run in a
    fresh process; RuntimeError when it fails."""
    run = run_measured(cmd, env=_gaitlab_env())
    if run.returncode != 0:
        tail = run.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd[2:4])} failed (exit {run.returncode}): {' / '.join(tail)}")
    return run.peak_rss_mb, run.seconds


def bench_memory(cfg: BenchConfig, weights: str, cache: Path, report: Findings) -> None:
    """Max RSS of the CLI `analyze` on a short and a long video, each in a fresh process."""
    short, long = cached_video(cfg.short, cache, say=log), cached_video(cfg.long, cache, say=log)
    report.inputs["long_video"] = cfg.long.describe()
    report.inputs["short_video"] = cfg.short.describe()
    report.inputs["peak_memory"] = ("max RSS of `python -m gaitlab analyze VIDEO --json`, each in a fresh "
                                    "process (getrusage(RUSAGE_CHILDREN) of a small parent)")
    log(f"memory: analyze {cfg.short.describe()} in a fresh process")
    rss_short, wall_short = peak_rss_mb(_gaitlab_cmd("analyze", str(short), "--json", weights=weights))
    log(f"memory: analyze {cfg.long.describe()} in a fresh process")
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
            write_bench_video(target, case)
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


def bench_cohort(cfg: BenchConfig, weights: str, cache: Path, report: Findings) -> None:
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

    from gaitlab.cohort.executors import shutdown_pool
    from gaitlab.cohort.inputs import collect_inputs
    from gaitlab.cohort.run import execute_items

    log(f"cohort: preparing {cfg.cohort_cases} videos of {cfg.cohort_video.describe()}")
    items = collect_inputs(cohort_folder(cfg, cache))
    n = len(items)
    report.inputs["cohort"] = (f"{n} videos of {cfg.cohort_video.describe()}; wall time of "
                               "cohort.execute_items (CSV written), median of "
                               f"{cfg.cohort_runs} run(s) per mode; steady state: after one "
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

        log("cohort: 1 local worker, 2 local workers (steady, cold), 1 worker on 1 thread")
        local = interleaved_medians({"one": lambda: timed(workers=1), "two": lambda: timed(workers=2),
                                     "one_thread": single_threaded, "two_cold": cold},
                                    cfg.cohort_runs, warmup=1)
        if not cold_includes_fork_server:
            report.notes.append("The fork server could not be stopped here: the cold-start cohort "
                                "figure leaves out its start (importing torch once).")
        shutdown_pool()  # idle local workers would hold memory during the Dask runs
        log("cohort: starting a 2-worker Dask LocalCluster")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            timed(scheduler=cluster.scheduler_address)  # warm-up: imports, one model per worker
            log("cohort: Dask, 2 workers")
            dask = median_seconds(lambda: timed(scheduler=cluster.scheduler_address), cfg.cohort_runs, 0)
    if errors:
        report.notes.append(f"{errors} cohort row(s) had errors; throughput counts them as cases.")
    one, two, one_thread, two_cold = local["one"], local["two"], local["one_thread"], local["two_cold"]
    report.figures.update(
        cohort_1_worker_cpm=60 * n / one, cohort_2_workers_cpm=60 * n / two,
        cohort_2_workers_cold_cpm=60 * n / two_cold,
        cohort_dask_2_workers_cpm=60 * n / dask, cohort_1_thread_cpm=60 * n / one_thread,
        cohort_2_vs_1=one / two, cohort_2_vs_1_thread=one_thread / two, cohort_dask_vs_1=one / dask)
