"""Bundled demo cases, so every page is useful before any upload: real walks and synthetic ones.

- **Real walks** (`source="real"`, in `gaitlab/demo_cases/real/`): at most one recorded walk
  per KOA-PD-NM class of the shared gait-keypoints data (Kour et al. 2022, CC BY 4.0), as
  MediaPipe keypoint CSVs, with the walk's recorded label (`label`, shown to the user, never
  given to the model) and `real/CREDITS.md`. `make_real_demo_cases(data_dir)` rebuilds them,
  byte for byte, from the shared data; `pick_real_walks` is the rule that chose them.
- **Synthetic walks** (`source="synthetic"`), made by GaitLab's own walker: they demonstrate
  the tool (videos, several people, notes), not the disease.

`manifest.csv` (a cohort manifest: path, cohort, label, description, plus a title, what the case
shows and its source) lists them all. `python -m gaitlab demo` (`make_demo_cases`) rebuilds
the synthetic cases, the real ones when the shared data is present, and the manifest.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from gaitlab.constants import DISPLAY_NAMES
from gaitlab.pipeline.keypoints import LANDMARK_COLUMNS, detected_frames, load_npz_sequences
from gaitlab.synth.walker import WalkerParams, walk_keypoints, write_keypoint_csv
from gaitlab.synth.walker_video import render_walk_video

DEMO_DIR = Path(__file__).resolve().parent / "demo_cases"
MANIFEST = DEMO_DIR / "manifest.csv"
REAL_DIR = DEMO_DIR / "real"
CREDITS = REAL_DIR / "CREDITS.md"
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
    source: str = "synthetic"  # "real": a recorded walk of the shared data; "synthetic": the walker
    label: str = ""  # real walks: the walk's recorded label (shown, never given to the model)
    video_id: str = ""  # real walks: the shared data's video_id the file was written from

    @property
    def path(self) -> Path:
        return DEMO_DIR / self.file

    @property
    def is_real(self) -> bool:
        return self.source == "real"

    @property
    def option(self) -> str:
        """How a demo picker lists the case: "Real walk — …" or "Synthetic walker — …"."""
        return f"{'Real walk' if self.is_real else 'Synthetic walker'} — {self.title}"

    @property
    def caption(self) -> str:
        """One line under a picker: a real walk's recorded label and credit, else what it shows."""
        if not self.is_real:
            return self.shows
        return (f"Recorded label: {DISPLAY_NAMES[self.label]}, never given to the model (the shipped "
                f"weights were trained on this walk: their answer here is no test). {REAL_CREDIT}.")


# --- Real walks ---------------------------------------------------------------------------------
REAL_DATASET = "KOA-PD-NM"
# The KOA-PD-NM classes, in `CLASSES` order; the disabled-gait set is never bundled.
REAL_CLASSES = ("Normal", "KOA_Early", "KOA_Mild", "KOA_Severe", "PD_Early", "PD_Mild", "PD_Severe")
CITATION = ('N. Kour, S. Gupta, S. Arora, "A vision-based gait dataset for knee osteoarthritis and '
            "Parkinson's disease analysis with severity levels\" (2022)")
REAL_CREDIT = "Real walk from the KOA-PD-NM data set (Kour et al. 2022, CC BY 4.0)"
# A walk is skipped when, between its first and last detected frame (before and after, the
# person is out of view), more than this share of frames is missing or one gap is longer than
# `fill_gaps` bridges (it would cut the walk), or it has fewer detected frames than this.
REAL_MAX_MISSING = 0.10
REAL_MAX_GAP = 10
REAL_MIN_FRAMES = 60
REAL_DECIMALS = 4


def _real(label: str, video_id: str, subject: str, file: str) -> DemoCase:
    return DemoCase(
        f"real_{label.lower()}", f"real/{file}", f"{DISPLAY_NAMES[label]} (subject {subject}, keypoints)", "",
        "A recorded walk filmed from the side (sequence 01), as MediaPipe keypoints; no clinical note.",
        "real", source="real", label=label, video_id=video_id,
    )


# The first subject (sorted subject_id) of each class whose sequence 01 passes the gap rule:
# `pick_real_walks` reproduces this choice from the data (tests check it does).
REAL_CASES: tuple[DemoCase, ...] = (
    _real("Normal", "001_NM_01_Normal", "NM-001", "real_normal_walk.csv"),
    _real("KOA_Early", "001_KOA_01_EL_KOA_Early", "KOA-EL-001", "real_knee_oa_early_walk.csv"),
    _real("KOA_Mild", "001_KOA_01_MD_KOA_Mild", "KOA-MD-001", "real_knee_oa_mild_walk.csv"),
    _real("KOA_Severe", "001_KOA_01_SV_KOA_Severe", "KOA-SV-001", "real_knee_oa_severe_walk.csv"),
    _real("PD_Early", "001_PD_01_ML_PD_Mild", "PD-ML-001", "real_parkinson_early_walk.csv"),
    _real("PD_Mild", "001_PD_01_MD_PD_Early", "PD-MD-001", "real_parkinson_mild_walk.csv"),
    _real("PD_Severe", "001_PD_01_SV_PD_Severe", "PD-SV-001", "real_parkinson_severe_walk.csv"),
)


SYNTHETIC_CASES: tuple[DemoCase, ...] = (
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

# Real walks first: the app opens on the first case.
DEMO_CASES: tuple[DemoCase, ...] = REAL_CASES + SYNTHETIC_CASES


def demo_case(name: str) -> DemoCase:
    for case in DEMO_CASES:
        if case.name == name:
            return case
    raise KeyError(f"no demo case named {name!r}")


def _default_data_dir() -> Path:
    from gaitlab.training.dataset import DEFAULT_DATA_DIR

    return DEFAULT_DATA_DIR


def _has_data(data_dir: Path) -> bool:
    return (data_dir / "metadata.csv").is_file() and (data_dir / "keypoints.npz").is_file()


def _metadata(data_dir: Path) -> list[dict[str, str]]:
    with open(Path(data_dir) / "metadata.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def real_walk_usable(seq) -> bool:
    """The gap rule of `REAL_MAX_MISSING`, `REAL_MAX_GAP`, `REAL_MIN_FRAMES` on [T, 33, 4]."""
    idx = detected_frames(seq).nonzero()[0]
    if len(idx) < REAL_MIN_FRAMES:
        return False
    span = int(idx[-1] - idx[0] + 1)
    return (span - len(idx)) <= REAL_MAX_MISSING * span and int((idx[1:] - idx[:-1]).max()) - 1 <= REAL_MAX_GAP


def pick_real_walks(data_dir: str | Path | None = None) -> dict[str, str]:
    """label → video_id: per KOA-PD-NM class, the first subject (sorted `subject_id`) whose
    sequence 01 passes `real_walk_usable`. Chosen from the metadata and the gaps only, never
    from what the model answers."""
    data_dir = Path(data_dir) if data_dir is not None else _default_data_dir()
    rows = [r for r in _metadata(data_dir)
            if r["dataset"] == REAL_DATASET and r["label"] in REAL_CLASSES and r["sequence"].zfill(2) == "01"]
    rows.sort(key=lambda r: (REAL_CLASSES.index(r["label"]), r["subject_id"], r["video_id"]))
    picked: dict[str, str] = {}
    with load_npz_sequences(data_dir / "keypoints.npz") as seqs:
        for r in rows:
            if r["label"] not in picked and r["video_id"] in seqs and real_walk_usable(seqs[r["video_id"]]):
                picked[r["label"]] = r["video_id"]
    return picked


def _cell(value: float) -> str:
    """A value rounded to `REAL_DECIMALS`, without trailing zeros; empty for NaN."""
    if value != value:
        return ""
    text = f"{value:.{REAL_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_real_csv(path: Path, seq) -> None:
    """[T, 33, 4] → the raw MediaPipe CSV layout (`x_0,y_0,z_0,v_0,…,v_32`); an undetected
    frame is a row of empty cells."""
    flat = seq.reshape(len(seq), -1).tolist()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LANDMARK_COLUMNS)
        for row in flat:
            writer.writerow([_cell(v) for v in row])


def _credits(rows: dict[str, dict[str, str]]) -> str:
    lines = [
        "# Real demo walks: credits",
        "",
        "The files in this folder are the only walks of the shared gait-keypoints data in this",
        "repository: at most one walk per KOA-PD-NM class (none of the disabled-gait set),",
        "keypoints only (no video, no image of a person).",
        "",
        f"- **Source**: the KOA-PD-NM data set, {CITATION}.",
        "  MediaPipe Pose landmarks as published in the MIT-licensed repository behind the original",
        "  GaitLab demo, read from `gait-keypoints/keypoints.npz` (float16).",
        "- **Licence**: CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/).",
        "- **Changes**: the float16 landmarks of each video were written in the raw MediaPipe CSV",
        "  layout (`x_0,y_0,z_0,v_0,...,x_32,y_32,z_32,v_32`, one row per frame, empty cells where no",
        f"  person was detected) with values rounded to {REAL_DECIMALS} decimals; every frame is kept, nothing else",
        "  was changed. The recorded label is not in the files (`gaitlab.demo.DEMO_CASES` holds it; the",
        "  app shows it and never gives it to the model). Labels are the shared data's: its PD severity",
        "  labels were repaired (source ML → PD_Early, MD → PD_Mild), so a video_id may end in the",
        "  source's own name.",
        "- **Choice**: per class, the first subject (sorted `subject_id`) whose sequence 01 has, between",
        f"  its first and last detected frame, at most {REAL_MAX_MISSING:.0%} of frames missing and no gap over",
        f"  {REAL_MAX_GAP} frames (`gaitlab.demo.pick_real_walks`); chosen without looking at the model's answers.",
        "- **Rebuild**: `python -m gaitlab demo` (or `gaitlab.demo.make_real_demo_cases(data_dir)`).",
        "",
        "| file | recorded label | video_id | subject | frames | detected |",
        "|---|---|---|---|---|---|",
    ]
    for case in REAL_CASES:
        r = rows[case.video_id]
        lines.append(f"| `{Path(case.file).name}` | {case.label} | `{case.video_id}` | {r['subject_id']} "
                     f"| {r['n_frames']} | {r['n_detected']} |")
    return "\n".join(lines) + "\n"


def make_real_demo_cases(data_dir: str | Path | None = None, out_dir: str | Path = REAL_DIR) -> list[Path]:
    """Write the real walks of `REAL_CASES` and CREDITS.md from the shared gait-keypoints data
    (`data_dir`, default `../shared/data/gait-keypoints`) into `out_dir`; returns the files."""
    data_dir = Path(data_dir) if data_dir is not None else _default_data_dir()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {r["video_id"]: r for r in _metadata(data_dir)}
    written = []
    with load_npz_sequences(data_dir / "keypoints.npz") as seqs:
        for case in REAL_CASES:
            r = rows[case.video_id]
            if r["dataset"] != REAL_DATASET or r["label"] != case.label:
                raise ValueError(f"{case.video_id} is not a {REAL_DATASET} {case.label} walk in {data_dir}")
            path = out_dir / Path(case.file).name
            write_real_csv(path, seqs[case.video_id])
            written.append(path)
    credits = out_dir / CREDITS.name
    credits.write_text(_credits(rows), encoding="utf-8")
    written.append(credits)
    return written


def write_manifest(out_dir: str | Path = DEMO_DIR) -> Path:
    """The cohort manifest of the demo cases whose files are in `out_dir` (real ones carry
    their recorded label)."""
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST.name
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "cohort", "label", "description", "title", "shows", "source"])
        for case in DEMO_CASES:
            if case.is_real and not (out_dir / case.file).is_file():
                continue
            writer.writerow([case.file, case.cohort, case.label, case.description, case.title, case.shows, case.source])
    return path


def make_synthetic_demo_cases(out_dir: str | Path = DEMO_DIR) -> list[Path]:
    """Write every synthetic demo case into `out_dir`; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for case in SYNTHETIC_CASES:
        n = int(case.seconds * FPS)
        path = out_dir / case.file
        if path.suffix == ".csv":
            write_keypoint_csv(path, walk_keypoints(case.walkers[0], n, FPS, aspect=16 / 9))
        else:
            seqs = [walk_keypoints(w, n, FPS, aspect=WIDTH / HEIGHT) for w in case.walkers]
            render_walk_video(path, seqs, width=WIDTH, height=HEIGHT, fps=FPS, seed=7)
        written.append(path)
    return written


def make_demo_cases(out_dir: Path = DEMO_DIR, data_dir: str | Path | None = None) -> list[Path]:
    """Write every synthetic demo case, the real walks when the shared data is present
    (`data_dir`, default `../shared/data/gait-keypoints`), and the manifest into `out_dir`;
    returns the files written. Prints nothing."""
    out_dir = Path(out_dir)
    written = make_synthetic_demo_cases(out_dir)
    data_dir = Path(data_dir) if data_dir is not None else _default_data_dir()
    if _has_data(data_dir):
        written += make_real_demo_cases(data_dir, out_dir / REAL_DIR.name)
    written.append(write_manifest(out_dir))
    return written
