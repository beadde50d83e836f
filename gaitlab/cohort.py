"""The cohort engine: many cases → one table, one row per file, streamed to CSV as they finish.

Input is a folder (every supported file, recursively; the first sub-folder names the cohort)
or a manifest CSV with a `path` column and optional `cohort`, `label`, `description`. A bad
file becomes a row with `error` filled in and the run goes on.
"""
from __future__ import annotations

import csv
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from .constants import CLASSES, MAX_COHORT_FILES, SUPPORTED_EXTENSIONS
from .errors import InputError, WeightsError

COLUMNS: list[str] = (
    ["path", "cohort", "label", "predicted", "confidence"]
    + [f"prob_{c}" for c in CLASSES]
    + ["warnings", "error"]
)


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
    """Cases listed in a manifest CSV; relative paths are taken from the manifest's folder."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path.name} could not be read as a manifest CSV ({exc}).") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "path" not in table.columns:
        raise InputError(f"{path.name} is not a cohort manifest: it has no 'path' column.")
    if "label" in table.columns:
        bad = sorted({v for v in table["label"] if v and v not in CLASSES})
        if bad:
            raise InputError(f"{path.name} has labels that are not GaitLab classes: {', '.join(bad[:5])}.")
    items = []
    for _, row in table.iterrows():
        p = Path(str(row["path"]).strip())
        if not p.is_absolute():
            p = path.parent / p
        items.append(CohortItem(str(p), row.get("cohort", ""), row.get("label", ""), row.get("description", "")))
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


def analyze_item(item: CohortItem, weights: str | None = None) -> dict[str, object]:
    """One output row for one case; input problems become the `error` column."""
    from .inference import analyze, get_model

    row: dict[str, object] = {c: "" for c in COLUMNS}
    row.update(path=item.path, cohort=item.cohort, label=item.label)
    try:
        result = analyze(item.path, item.description, model=get_model(weights))
    except (InputError, WeightsError) as exc:
        row["error"] = str(exc)
        return row
    row.update(predicted=result.label, confidence=round(result.confidence, 6), warnings=" | ".join(result.warnings))
    for c in CLASSES:
        row[f"prob_{c}"] = round(result.probabilities[c], 6)
    return row


def iter_rows(items: list[CohortItem], workers: int = 1, weights: str | None = None) -> Iterator[dict[str, object]]:
    """Rows as they finish (input order with one worker, completion order with several)."""
    if workers <= 1:
        for item in items:
            yield analyze_item(item, weights)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        futures = [pool.submit(analyze_item, item, weights) for item in items]
        for fut in as_completed(futures):
            yield fut.result()


def _init_worker() -> None:
    # Each worker gets one core's worth of threads, so N workers do not oversubscribe N cores.
    import torch

    torch.set_num_threads(1)


def run_items(
    items: list[CohortItem],
    out: str | Path | None = None,
    workers: int = 1,
    weights: str | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
) -> pd.DataFrame:
    """Analyse `items`; stream rows to `out` (CSV) as they finish; return the table in input order.

    Rows are written and flushed one by one, so a crash part-way loses no finished row.
    """
    rows = []
    handle = open(out, "w", newline="", encoding="utf-8") if out is not None else None
    try:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS) if handle else None
        if writer:
            writer.writeheader()
        for k, row in enumerate(iter_rows(items, workers, weights), start=1):
            rows.append(row)
            if writer:
                writer.writerow(row)
                handle.flush()
            if progress:
                progress(k, len(items), row)
    finally:
        if handle:
            handle.close()
    order = {item.path: i for i, item in enumerate(items)}
    rows.sort(key=lambda r: order.get(str(r["path"]), 0))
    return pd.DataFrame(rows, columns=COLUMNS)


def run_cohort(source: str | Path, out: str | Path | None = None, workers: int = 1,
               weights: str | None = None, progress: Callable[[int, int, dict], None] | None = None) -> pd.DataFrame:
    """Analyse every case of a folder or manifest (see `collect_inputs`); see `run_items`."""
    return run_items(collect_inputs(source), out, workers, weights, progress)


def confined_path(text: str, root: str | Path) -> Path:
    """`text` resolved under `root`; InputError if it escapes it (`..`, absolute paths, links)."""
    root = Path(root).resolve()
    candidate = (root / str(text).strip()).resolve()
    if candidate != root and root not in candidate.parents:
        raise InputError(f"{text} is outside the data folder GaitLab may read ({root}).")
    return candidate


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 1)))
