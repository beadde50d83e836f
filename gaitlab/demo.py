"""Bundled demo cases, made by GaitLab's own walker so every page is useful before any upload.

The files live in `gaitlab/demo_cases/` with `manifest.csv` (a cohort manifest: path, cohort,
description, plus a title and what the case shows). `python -m gaitlab demo` rebuilds them.
They are synthetic walks, not patients: they demonstrate the tool, not the disease.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from gaitlab.synth.walker import WalkerParams, walk_keypoints, write_keypoint_csv
from gaitlab.synth.walker_video import render_walk_video

DEMO_DIR = Path(__file__).resolve().parent / "demo_cases"
MANIFEST = DEMO_DIR / "manifest.csv"
FPS = 30.0
WIDTH, HEIGHT = 480, 270


@dataclass(frozen=True)
class DemoCase:
    """One bundled case: the file, its note, and what a teacher would point out."""

    name: str
    file: str
    title: str
    description: str
    shows: str
    cohort: str
    walkers: tuple[WalkerParams, ...] = field(default_factory=tuple)
    seconds: float = 4.0

    @property
    def path(self) -> Path:
        return DEMO_DIR / self.file


DEMO_CASES: tuple[DemoCase, ...] = (
    DemoCase(
        "steady_walk", "steady_walk.mp4", "Steady walk (video)",
        "Routine check-up, no complaints, active.",
        "Symmetric steps, full knee swing and reciprocal arm swing.", "typical",
        (WalkerParams(),),
    ),
    DemoCase(
        "antalgic_limp", "antalgic_limp.mp4", "Limping walk (video)",
        "62-year-old woman, right knee pain on walking, morning stiffness in the knees.",
        "Short, stiff right step: reduced knee flexion and a clear left/right asymmetry.", "atypical",
        (WalkerParams(speed=0.55, cadence=95, step_length=0.35, asymmetry=0.6, knee_flexion=35),),
    ),
    DemoCase(
        "stooped_shuffle", "stooped_shuffle.csv", "Stooped, shuffling walk (keypoints)",
        "71-year-old man, resting tremor of the hand, slowness of movement.",
        "Forward trunk lean, short steps, little arm swing and low knee lift.", "atypical",
        (WalkerParams(speed=0.4, cadence=110, step_length=0.22, arm_swing=6, knee_flexion=40, trunk_flexion=22),),
        seconds=5.0,
    ),
    DemoCase(
        "steady_walk_keypoints", "steady_walk_keypoints.csv", "Steady walk (keypoints)",
        "",
        "The same kind of walk as the steady video, given as MediaPipe keypoints, without a note.", "typical",
        (WalkerParams(speed=0.85, cadence=108, direction=-1),),
    ),
    DemoCase(
        "two_people", "two_people.mp4", "Two people in view (video)",
        "",
        "Two walkers cross: GaitLab follows the dominant one and warns that several people move.", "atypical",
        (WalkerParams(start_x=0.1), WalkerParams(direction=-1, start_x=0.95, height=0.45, y_feet=0.8)),
    ),
)


def demo_case(name: str) -> DemoCase:
    for case in DEMO_CASES:
        if case.name == name:
            return case
    raise KeyError(f"no demo case named {name!r}")


def make_demo_cases(out_dir: Path = DEMO_DIR) -> list[Path]:
    """Write every demo case and the manifest into `out_dir`; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for case in DEMO_CASES:
        n = int(case.seconds * FPS)
        path = out_dir / case.file
        if path.suffix == ".csv":
            write_keypoint_csv(path, walk_keypoints(case.walkers[0], n, FPS, aspect=16 / 9))
        else:
            seqs = [walk_keypoints(w, n, FPS, aspect=WIDTH / HEIGHT) for w in case.walkers]
            render_walk_video(path, seqs, width=WIDTH, height=HEIGHT, fps=FPS, seed=7)
        written.append(path)
    with open(out_dir / MANIFEST.name, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "cohort", "description", "title", "shows"])
        for case in DEMO_CASES:
            writer.writerow([case.file, case.cohort, case.description, case.title, case.shows])
    written.append(out_dir / MANIFEST.name)
    return written
