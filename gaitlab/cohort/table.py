"""The cohort table: its columns, its rows, and its CSV file.

A row is a dict keyed by `COLUMNS` (`path, cohort, label, predicted, confidence,
prob_<Class>… in CLASSES order, teacher_predicted (the keypoint teacher's
label), the `KINEMATIC_COLUMNS`, outside_normal_band, warnings, error`): text in every column except
`NUMERIC_COLUMNS`, which hold floats rounded to 6 decimals, or "" when the case failed. A case
gives either a result row (`result_row`) or an error row (`error_row`, `error` filled in).
Every cell is one line, so each row is exactly one line of the CSV.

The file: `RowSink` appends rows and flushes each one as its case finishes (completion
order), so a crash loses no finished row; `write_table` writes the whole table atomically,
which is how a finished run leaves it in input order. For `--resume`, `read_finished_rows`
reads back the rows an earlier run completed and `resume_from` pairs them with the items.
"""
from __future__ import annotations

import csv
import io
import os
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from gaitlab.cohort.inputs import CohortItem
from gaitlab.constants import CLASSES
from gaitlab.errors import InputError, one_line

# Kinematics of each walk (`analysis.kinematics`, see `gaitlab.kinematics`): empty when unknown.
KINEMATIC_COLUMNS: list[str] = ["cadence_steps_per_min", "stride_length_heights", "speed_heights_per_s",
                                "knee_rom_deg_left", "knee_rom_deg_right", "hip_rom_deg_left", "hip_rom_deg_right",
                                "step_length_asymmetry"]
COLUMNS: list[str] = (
    ["path", "cohort", "label", "predicted", "confidence"]
    + [f"prob_{c}" for c in CLASSES]
    + ["teacher_predicted"] + KINEMATIC_COLUMNS + ["outside_normal_band", "warnings", "error"]
)
NUMERIC_COLUMNS: list[str] = ["confidence"] + [f"prob_{c}" for c in CLASSES] + KINEMATIC_COLUMNS

Row = dict[str, object]


# --- Building rows ----------------------------------------------------------------------------
def empty_row(item: CohortItem) -> Row:
    """The row of `item` with only `path`, `cohort` and `label` filled in."""
    row: Row = {c: "" for c in COLUMNS}
    row.update(path=item.path, cohort=item.cohort, label=item.label)
    return row


def error_row(item: CohortItem, message: str) -> Row:
    """The row of a case that could not be analysed: `message`, on one line, as its `error`."""
    row = empty_row(item)
    row["error"] = one_line(message)
    return row


def result_row(item: CohortItem, result: Any) -> Row:
    """The row of an analysed case; `result` as `inference.analyze` returns it (`label`,
    `confidence`, `probabilities` by class, `warnings`)."""
    row = empty_row(item)
    teacher = getattr(result, "teacher", None)
    row.update(predicted=result.label, confidence=round(result.confidence, 6),
               teacher_predicted=teacher["label"] if teacher else "",
               warnings=one_line(" | ".join(result.warnings)))
    for c in CLASSES:
        row[f"prob_{c}"] = round(result.probabilities[c], 6)
    kin = getattr(result, "kinematics", None) or {}
    for name in KINEMATIC_COLUMNS:
        base, _, side = name.rpartition("_") if name.endswith(("_left", "_right")) else (name, "", "")
        value = (kin.get(base) or {}).get(side) if side else kin.get(name)
        row[name] = round(float(value), 6) if isinstance(value, (int, float)) and value == value else ""
    row["outside_normal_band"] = " ".join(kin.get("outside_normal_band") or [])
    return row


# --- Writing ----------------------------------------------------------------------------------
def check_out(out: Path) -> None:
    """InputError if `out` is a folder; otherwise make sure its folder exists."""
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a CSV file name.")
    out.parent.mkdir(parents=True, exist_ok=True)


def write_table(out: str | Path, rows: list[Row]) -> None:
    """Write `rows` as the whole cohort CSV, atomically (temporary file, then rename)."""
    path = Path(out)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


class RowSink:
    """Appends rows to the output CSV, flushing each one so a crash loses none."""

    def __init__(self, path: Path, append: bool) -> None:
        self.handle = open(path, "a" if append else "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=COLUMNS)
        if not append:
            self.writer.writeheader()
            self.handle.flush()

    def write(self, row: Row) -> None:
        self.writer.writerow(row)
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


# --- Reading back (--resume) ------------------------------------------------------------------
def _parse_row(cells: dict[str, str]) -> Row:
    """A row read back from CSV, with the numeric columns as floats (as freshly made rows)."""
    row: Row = dict(cells)
    for c in NUMERIC_COLUMNS:
        if row[c] != "":
            row[c] = float(row[c])
    return row


def read_finished_rows(out: str | Path) -> tuple[list[Row], int]:
    """Rows an earlier run finished, and how many incomplete lines were dropped.

    A row counts only if its line ended (rows are written one line each, then flushed), has
    every column and holds a result or an error; a crash mid-write leaves at most one such
    partial line, at the end, and that case is simply analysed again.
    """
    path = Path(out)
    text = path.read_bytes().decode("utf-8", errors="replace")
    complete = text[: text.rfind("\n") + 1]
    dropped = int(complete != text)
    try:
        lines = list(csv.reader(io.StringIO(complete, newline="")))
    except csv.Error as exc:
        raise InputError(f"{path} cannot be resumed: it is not a readable CSV ({exc}).") from None
    if not lines:
        return [], dropped
    if lines[0] != COLUMNS:
        raise InputError(f"{path} exists but is not a GaitLab cohort table, so --resume cannot "
                         "add to it; choose another --out, or leave out --resume to overwrite it.")
    rows = []
    for cells in lines[1:]:
        row = dict(zip(COLUMNS, cells))
        if len(cells) != len(COLUMNS) or not row["path"] or not (row["predicted"] or row["error"]):
            dropped += 1
            continue
        try:
            rows.append(_parse_row(row))
        except ValueError:  # a number cut short or garbled
            dropped += 1
    return rows, dropped


def match_finished(items: list[CohortItem], finished: list[Row]) -> tuple[dict[int, Row], list[Row]]:
    """Pair finished rows with input positions by path (the k-th row of a path with its k-th
    occurrence, so a manifest may list a file twice); returns (rows by index, unmatched)."""
    by_path: dict[str, deque] = defaultdict(deque)
    for row in finished:
        by_path[str(row["path"])].append(row)
    matched = {}
    for index, item in enumerate(items):
        if by_path.get(item.path):
            matched[index] = by_path[item.path].popleft()
    leftover = [row for rows in by_path.values() for row in rows]
    return matched, leftover


def resume_from(out: Path, items: list[CohortItem]) -> tuple[dict[int, Row], list[Row], int]:
    """What an earlier run left in `out` for `items`: (finished rows by input position, rows
    whose paths are not among `items`, incomplete lines dropped).

    `out` is rewritten with the kept rows only, so new rows can be appended to a clean file
    (no half-written line to append after).
    """
    finished, dropped = read_finished_rows(out)
    done, leftover = match_finished(items, finished)
    write_table(out, [done[i] for i in sorted(done)] + leftover)
    return done, leftover, dropped
