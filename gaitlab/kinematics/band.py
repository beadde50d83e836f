"""The normal band and per-class summaries, built from the shared gait-keypoints data.

Input: a gait-keypoints folder (`metadata.csv` with `video_id, label, subject_id`, and
`keypoints.npz`, one float16 [T, 33, 4] array per video; see the data's README). Every walk goes
through `gaitlab.kinematics.compute` (no frame rate: the data has none).

- `walk_table(data_dir, labels)` → DataFrame, one row per walk: `video_id, label, subject_id,
  view, n_cycles` and every parameter of `reference.PARAMETERS` (NaN where missing);
- `build_normal_band(data_dir, command)` → the band record of `reference` (per parameter
  mean, SD and n over the Normal walks' values, both sides pooled; per angle the mean and SD
  over the walks' per-side mean curves at 101 points) with its provenance: data folder name,
  walks, subjects, SHA-256 of `keypoints.npz` and `metadata.csv`, command, date;
- `write_band(record, path)` writes it as JSON (`gaitlab/kinematics/normal_band.json`);
- `class_medians(table)` → DataFrame, per class the medians of the headline parameters
  (`MEDIAN_COLUMNS`), and `markdown_table(table)` → that table as Markdown text.
"""
from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gaitlab.constants import DEFAULT_DATA_DIR, CLASSES
from gaitlab.errors import InputError
from gaitlab.files import sha256_file
from gaitlab.kinematics import reference as ref
from gaitlab.kinematics.angles import ANGLES, CURVE_POINTS
from gaitlab.kinematics.core import Kinematics, compute
from gaitlab.pipeline.keypoints import load_npz_sequences, read_gait_metadata

# The shared data beside the repository (`../shared/data/gait-keypoints`), as the training
# code reads it; the kinematics layer sits below training, so it names the folder itself.
NORMAL = "Normal"
# Columns of `class_medians`: (column, how it is made from a walk's parameters).
MEDIAN_COLUMNS = {
    "knee_rom_deg": "mean of left and right knee range of motion, degrees",
    "hip_rom_deg": "mean of left and right hip range of motion, degrees",
    "arm_swing_deg": "mean of left and right arm swing (shoulder flexion range), degrees",
    "stride_length_heights": "stride length, body heights",
    "speed_heights_per_100_frames": "stride length / stride time × 100 (speed without a clock)",
    "steps_per_100_frames": "cadence without a clock (one camera: comparable between classes)",
    "step_length_asymmetry": "step-length asymmetry, %",
    "stance_time_asymmetry": "stance-time asymmetry, %",
    "base_width_heights": "base width, body heights (frontal walks)",
    "trunk_sway_deg": "lateral trunk sway, degrees (frontal walks)",
}


def _walks(data_dir: Path, labels: Iterable[str] | None) -> Iterator[tuple[pd.Series, Kinematics]]:
    meta = read_gait_metadata(data_dir)
    if labels is not None:
        meta = meta[meta["label"].isin(list(labels))]
    with load_npz_sequences(data_dir / "keypoints.npz") as seqs:
        for _, row in meta.iterrows():
            if row["video_id"] in seqs:
                yield row, compute(seqs[row["video_id"]])


def _row(row: pd.Series, kin: Kinematics) -> dict[str, Any]:
    n = 0 if kin.events is None else len(kin.events.all_cycles())
    values = {k: (np.nan if v is None else v) for k, v in kin.parameters.items()}
    return {"video_id": row["video_id"], "label": row["label"], "subject_id": row["subject_id"],
            "view": kin.view, "n_cycles": n, **values}


def walk_table(data_dir: str | Path = DEFAULT_DATA_DIR, labels: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per walk of `data_dir` (all labels, or those in `labels`); see the docstring."""
    rows = [_row(row, kin) for row, kin in _walks(Path(data_dir), labels)]
    return pd.DataFrame(rows, columns=["video_id", "label", "subject_id", "view", "n_cycles", *ref.PARAMETERS])


def _stats(values: list[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if not len(v):
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
            "n": int(len(v))}


def fingerprint(data_dir: str | Path) -> dict[str, str]:
    """SHA-256 of the data files the band is built from."""
    return {name: sha256_file(Path(data_dir) / name) for name in ("keypoints.npz", "metadata.csv")}


def build_normal_band(data_dir: str | Path = DEFAULT_DATA_DIR, command: str = "python -m gaitlab band") -> dict[str, Any]:
    """The normal band record from the Normal walks of `data_dir` (see the module docstring)."""
    data_dir = Path(data_dir)
    values: dict[str, list[float]] = {}
    curves: dict[str, list[np.ndarray]] = {a: [] for a in ANGLES}
    walks, subjects, views = 0, set(), {}
    for row, kin in _walks(data_dir, [NORMAL]):
        walks += 1
        subjects.add(row["subject_id"])
        views[str(kin.view)] = views.get(str(kin.view), 0) + 1
        for name, value in kin.parameters.items():
            if name not in ref.RATE_BOUND and value is not None:
                values.setdefault(ref.base_name(name), []).append(value)
        for a, sides in kin.curves.items():
            curves[a] += [np.asarray(c["mean"]) for c in sides.values()]
    if not walks:
        raise InputError(f"{data_dir} has no {NORMAL} walks to build a normal band from.")
    band_curves = {}
    for a, rows in curves.items():
        if rows:
            m = np.stack(rows)
            sd = m.std(0, ddof=1) if len(m) > 1 else np.zeros(CURVE_POINTS)
            band_curves[a] = {"mean": np.round(m.mean(0), 3).tolist(), "sd": np.round(sd, 3).tolist(), "n": len(m)}
    names = dict.fromkeys(ref.base_name(n) for n in ref.PARAMETERS if n not in ref.RATE_BOUND)
    stats = {n: _stats(values.get(n, [])) for n in names}
    absent = {n: f"no {NORMAL} walk shows it (the {NORMAL} walks are {' and '.join(sorted(views))} views)"
              for n, s in stats.items() if not s["n"]}
    return {
        "provenance": {
            "data": data_dir.name, "label": NORMAL, "walks": walks, "subjects": len(subjects), "views": views,
            "sha256": fingerprint(data_dir), "command": command, "date": _dt.date.today().isoformat(),
            "rule": f"a value outside mean ± {ref.BAND_SD:g} SD is flagged (bands of n < {ref.MIN_BAND_N} flag nothing)",
            "pooling": "per-side parameters and curves pool left and right; curves: one per walk and side",
        },
        "parameters": {n: s for n, s in stats.items() if s["n"]},
        "curves": band_curves,
        "not_in_band": {**{n: "needs a frame rate (the data has none) or is only comparable at one frame rate"
                           for n in ref.RATE_BOUND}, **absent},
    }


def write_band(record: dict[str, Any], path: str | Path = ref.BAND_JSON) -> Path:
    path = Path(path)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def class_medians(table: pd.DataFrame) -> pd.DataFrame:
    """Per class (rows, in `CLASSES` order) the medians of `MEDIAN_COLUMNS` over the walks that
    have a value (side-view parameters come from side views, base width and sway from frontal
    ones), with `walks` (all), `side_view` and `with_cycles` (side views with a gait cycle)."""
    t = table.copy()
    for name in ("knee_rom_deg", "hip_rom_deg", "arm_swing_deg"):
        t[name] = t[[f"{name}_left", f"{name}_right"]].mean(axis=1)
    t["speed_heights_per_100_frames"] = t["stride_length_heights"] / t["stride_time_frames"] * 100
    out = t.groupby("label")[list(MEDIAN_COLUMNS)].median()
    counts = pd.DataFrame({"walks": t.groupby("label").size(),
                           "side_view": (t["view"] == "sagittal").groupby(t["label"]).sum(),
                           "with_cycles": ((t["view"] == "sagittal") & (t["n_cycles"] > 0)).groupby(t["label"]).sum()})
    out = counts.join(out)
    return out.reindex([c for c in CLASSES if c in out.index])


def markdown_table(table: pd.DataFrame, digits: int = 2) -> str:
    """`table` as a Markdown table (index as the first column; NaN shown as "–")."""
    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if not np.isfinite(v) else f"{v:.{digits}f}"
        return str(v)

    head = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([str(i), *(cell(v) for v in row)]) + " |" for i, row in zip(table.index, table.to_numpy(object))]
    return "\n".join(lines)
