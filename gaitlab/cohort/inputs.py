"""The cases of a cohort: a folder or a manifest CSV in, a list of `CohortItem`s out.

- A folder: every file with a supported extension (`SUPPORTED_EXTENSIONS`), searched
  recursively, in sorted path order; the first sub-folder names the cohort (files directly
  in the folder take the folder's own name).
- A manifest CSV: a `path` column and optional `cohort`, `label`, `description` columns
  (names matched case-insensitively); relative paths are taken from the manifest's folder.

Either way: `collect_inputs(source) -> list[CohortItem]`, or an `InputError` saying plainly
why not (missing, empty, not a manifest, a bad row, more than `MAX_COHORT_FILES` cases).
`confined_path(text, root) -> Path` resolves a folder name typed in the app under a data root.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from gaitlab.constants import CLASSES, MAX_COHORT_FILES, SUPPORTED_EXTENSIONS
from gaitlab.errors import InputError, one_line

MANIFEST_COLUMNS = ("path", "cohort", "label", "description")


@dataclass(frozen=True)
class CohortItem:
    """One case of a cohort run."""

    path: str
    cohort: str = ""
    label: str = ""
    description: str = ""


def _folder_items(root: Path) -> list[CohortItem]:
    items = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS:
            rel = p.relative_to(root)
            cohort = rel.parts[0] if len(rel.parts) > 1 else root.name
            items.append(CohortItem(path=str(p), cohort=cohort))
    return items


def read_manifest(path: Path) -> list[CohortItem]:
    """Cases listed in a manifest CSV; relative paths are taken from the manifest's folder.

    Column names are matched case-insensitively; each known column may appear once. A row
    with more cells than the header, or an empty path, is refused with its line number.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(one_line(f"{path.name} could not be read as a manifest CSV ({exc}).")) from None
    if not rows:
        raise InputError(f"{path.name} is empty: a manifest needs a header with a 'path' column.")
    header = [h.strip().lower() for h in rows[0]]
    for name in MANIFEST_COLUMNS:
        if header.count(name) > 1:
            raise InputError(f"{path.name} has the column '{name}' more than once.")
    if "path" not in header:
        raise InputError(f"{path.name} is not a cohort manifest: it has no 'path' column.")
    col = {name: header.index(name) for name in MANIFEST_COLUMNS if name in header}
    items, bad_labels = [], set()
    for line, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) > len(header):
            raise InputError(f"{path.name} line {line} has {len(cells)} cells but the header names {len(header)}.")
        cell = {name: (cells[i].strip() if i < len(cells) else "") for name, i in col.items()}
        if not cell["path"]:
            raise InputError(f"{path.name} line {line} has an empty path.")
        label = cell.get("label", "")
        if label and label not in CLASSES:
            bad_labels.add(one_line(label)[:40])
        p = Path(cell["path"])
        if not p.is_absolute():
            p = path.parent / p
        items.append(CohortItem(str(p), cell.get("cohort", ""), label, cell.get("description", "")))
    if bad_labels:
        raise InputError(f"{path.name} has labels that are not GaitLab classes: {', '.join(sorted(bad_labels)[:5])}.")
    return items


def collect_inputs(source: str | Path) -> list[CohortItem]:
    """The cases of a cohort: a folder (recursive) or a manifest CSV."""
    src = Path(source)
    if not src.exists():
        raise InputError(f"{src} does not exist.")
    items = _folder_items(src) if src.is_dir() else read_manifest(src) if src.suffix.lower() == ".csv" else None
    if items is None:
        raise InputError(f"{src.name} is neither a folder nor a manifest CSV.")
    if not items:
        raise InputError(f"{src} holds no videos or keypoint CSVs.")
    if len(items) > MAX_COHORT_FILES:
        raise InputError(f"{src} lists {len(items):,} files; one run takes at most {MAX_COHORT_FILES:,}.")
    return items


def confined_path(text: str, root: str | Path) -> Path:
    """`text` resolved under `root`; InputError if it escapes it (`..`, absolute paths, links)."""
    root = Path(root).resolve()
    if "\x00" in str(text):
        raise InputError("The folder name contains a NUL character.")
    candidate = (root / str(text).strip()).resolve()
    if candidate != root and root not in candidate.parents:
        raise InputError(f"{text} is outside the data folder GaitLab may read ({root}).")
    return candidate
