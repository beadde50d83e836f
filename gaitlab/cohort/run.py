"""The cohort engine: many cases → one table, one row per file, streamed to CSV as they finish.

Input is a folder (every supported file, recursively; the first sub-folder names the cohort)
or a manifest CSV with a `path` column and optional `cohort`, `label`, `description`. A bad
file becomes a row with `error` filled in and the run goes on.

Where the work runs (`execute_items`):
- in this process (`workers=1`, the default);
- in N local worker processes (`workers=N`), a pool started on first use and kept for later
  runs in this process (the app and notebooks run many cohorts; see `_shared_pool`);
- on an existing Dask cluster (`scheduler="tcp://host:port"`). The workers open the files
  themselves, at the absolute path this machine resolves, so the files must be reachable at
  the same path from every worker (a shared or identically mounted file system).

Every worker process loads the model once (`inference.get_model` caches it per process) and,
when it is a worker rather than this process, runs torch and OpenCV on one thread each: N
workers on N cores then do not fight over the cores.

The output CSV. Each row is written and flushed the moment its case finishes (completion
order), so a crash loses no finished row. When the run completes, the file is rewritten in
input order (atomically: a temporary file then a rename). `resume=True` keeps the rows an
earlier, interrupted run left (results and error rows alike), drops a half-written last line,
and analyses only the rest.
"""
from __future__ import annotations

import atexit
import csv
import ctypes
import io
import multiprocessing
import os
import socket
import sys
import threading
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from gaitlab.constants import CLASSES, MAX_COHORT_FILES, SUPPORTED_EXTENSIONS
from gaitlab.errors import InputError, WeightsError

COLUMNS: list[str] = (
    ["path", "cohort", "label", "predicted", "confidence"]
    + [f"prob_{c}" for c in CLASSES]
    + ["warnings", "error"]
)
NUMERIC_COLUMNS: list[str] = ["confidence"] + [f"prob_{c}" for c in CLASSES]

# How long to wait for a Dask scheduler to answer, and for it to have at least one worker.
DASK_CONNECT_TIMEOUT_S = 30
DASK_WORKER_TIMEOUT_S = 120

Progress = Callable[[int, int, dict], None]


class CohortAborted(RuntimeError):
    """The run stopped part-way for a reason outside any one file (a worker pool died, the
    Dask scheduler went away). Rows finished so far are in the output; `--resume` goes on."""


@dataclass(frozen=True)
class CohortItem:
    """One case of a cohort run."""

    path: str
    cohort: str = ""
    label: str = ""
    description: str = ""


# --- Inputs -------------------------------------------------------------------------------
def _folder_items(root: Path) -> list[CohortItem]:
    items = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS:
            rel = p.relative_to(root)
            cohort = rel.parts[0] if len(rel.parts) > 1 else root.name
            items.append(CohortItem(path=str(p), cohort=cohort))
    return items


MANIFEST_COLUMNS = ("path", "cohort", "label", "description")


def read_manifest(path: Path) -> list[CohortItem]:
    """Cases listed in a manifest CSV; relative paths are taken from the manifest's folder.

    Column names are matched case-insensitively; each known column may appear once. A row
    with more cells than the header, or an empty path, is refused with its line number.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(_one_line(f"{path.name} could not be read as a manifest CSV ({exc}).")) from None
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
            bad_labels.add(_one_line(label)[:40])
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


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 1)))


# --- One case -----------------------------------------------------------------------------
def _one_line(text: str) -> str:
    """Messages go into one CSV cell: no line breaks, so every row is exactly one line (which
    is what lets `read_finished_rows` tell a complete row from a half-written one)."""
    return " ".join(str(text).splitlines())


def empty_row(item: CohortItem) -> dict[str, object]:
    row: dict[str, object] = {c: "" for c in COLUMNS}
    row.update(path=item.path, cohort=item.cohort, label=item.label)
    return row


def analyze_item(item: CohortItem, weights: str | None = None) -> dict[str, object]:
    """One output row for one case; input problems become the `error` column.

    Unexpected failures become error rows too (marked "internal error"): in a run of
    thousands of files, one odd file must not stop the rest.
    """
    from gaitlab.inference import analyze

    row = empty_row(item)
    try:
        result = analyze(item.path, item.description, model=worker_model(weights))
    except (InputError, WeightsError) as exc:
        row["error"] = _one_line(str(exc))
        return row
    except Exception as exc:  # noqa: BLE001 - a bug or a library failure on this file only
        row["error"] = _one_line(f"internal error ({type(exc).__name__}: {exc})")
        return row
    row.update(predicted=result.label, confidence=round(result.confidence, 6),
               warnings=_one_line(" | ".join(result.warnings)))
    for c in CLASSES:
        row[f"prob_{c}"] = round(result.probabilities[c], 6)
    return row


# --- Per-process worker state ---------------------------------------------------------------
@dataclass
class _ProcessState:
    """What this process has done as a cohort worker (one instance per process)."""

    models: dict[int, Any] = field(default_factory=dict)  # id → model: ids stay unique
    cases: int = 0
    prepared: bool = False


_PROCESS = _ProcessState()


def worker_model(weights: str | None = None):
    """The model for `weights`, from `inference.get_model`'s per-process cache.

    Every distinct model object handed out is remembered (and so kept alive, which keeps its
    id unique). Their count, which `process_stats` reports, is 1 per worker when the cache
    works; a model loaded per file would show up as one more per case.
    """
    from gaitlab.inference import get_model

    model = get_model(weights)
    _PROCESS.models.setdefault(id(model), model)
    return model


# glibc's own ceiling for its adaptive mmap threshold on 64-bit systems (see below).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter number


def _keep_large_buffers_on_the_heap() -> None:
    """Undo a side effect of Dask's worker environment on glibc's malloc.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_ set (so freed memory goes back to
    the OS). Setting it also stops glibc from raising its mmap threshold as it normally
    does, so every frame-sized buffer (above 128 KiB) becomes its own mmap with fresh zeroed
    pages, then a munmap: measured, an analysis takes 2.5x as long. Allowing buffers up to
    32 MiB on the heap again restores the speed; the trim threshold, and so memory returned
    to the OS, is left as Dask set it.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):  # not glibc: nothing to undo
        pass


def prepare_worker(weights: str | None = None) -> None:
    """Make this process a cohort worker: one torch thread, the model loaded now.

    One thread because N workers share N cores; torch's and OpenCV's defaults (one thread
    per core, in every worker) would oversubscribe them. The model is loaded here rather
    than for the first case so weights problems show up once; they still become error rows.
    """
    if _PROCESS.prepared:
        return
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _keep_large_buffers_on_the_heap()
    # A forked worker inherits this record from its parent; it starts its own.
    _PROCESS.models.clear()
    _PROCESS.cases = 0
    _PROCESS.prepared = True
    try:
        worker_model(weights)
    except WeightsError:
        pass  # analyze_item reports it on every row


def worker_id() -> str:
    """`host:pid`: names a worker process on any machine of a cluster."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_stats() -> dict[str, object]:
    """This process as a cohort worker: id, model loads, cases analysed, torch threads."""
    import torch

    return {"worker": worker_id(), "model_loads": len(_PROCESS.models), "cases": _PROCESS.cases,
            "torch_threads": torch.get_num_threads()}


@dataclass(frozen=True)
class CaseOutcome:
    """What one case sends back: its input position, its row, and who computed it."""

    index: int
    row: dict[str, object]
    worker: str
    model_loads: int  # models the worker process had loaded when it finished this case


def run_case(index: int, item: CohortItem, weights: str | None = None,
             as_worker: bool = False, read_path: str | None = None) -> CaseOutcome:
    """Analyse one case where this function runs (here, a pool process or a Dask worker).

    `read_path`: where to open the file (an absolute path for remote workers); the row keeps
    `item.path` as the user wrote it.
    """
    if as_worker:
        prepare_worker(weights)
    row = analyze_item(item if read_path is None else replace(item, path=read_path), weights)
    row["path"] = item.path
    _PROCESS.cases += 1
    return CaseOutcome(index, row, worker_id(), len(_PROCESS.models))


# --- Executors: (index, item) tasks → CaseOutcomes as they finish ---------------------------
Task = tuple[int, CohortItem]


def _in_process(tasks: list[Task], weights: str | None) -> Iterator[CaseOutcome]:
    for index, item in tasks:
        yield run_case(index, item, weights)


def start_method() -> str:
    """How local worker processes are started: "forkserver" ("spawn" where there is none).

    Never a plain fork of this process: once this process has used torch's or OpenCV's
    thread pools (an analysis in the app, a notebook, the bench), a forked child inherits
    those pools' locks without their threads and can hang for ever (seen: a child stuck in
    `cv2.setNumThreads`). A fork server is a fresh, single-threaded process that imports
    GaitLab (and torch) once and forks each worker from that clean state in milliseconds.
    """
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _pool_context() -> multiprocessing.context.BaseContext:
    method = start_method()
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        # Imported once in the server, so every worker starts with them loaded.
        ctx.set_forkserver_preload(["gaitlab.cohort.run", "gaitlab.inference", "gaitlab.pipeline.silhouette"])
    return ctx


# The local worker pool is kept between runs: the app and notebooks run many cohorts in one
# process, and a fresh pool pays, inside the run, for forking each worker and loading the
# model in it (and, the first time in a process, for starting the fork server, which imports
# torch). One pool at a time, for one (workers, weights, working folder); asking for another
# replaces it. Runs from several threads (Streamlit sessions) may share it: `submit`
# is thread-safe and each run waits on, and cancels, only its own futures.
_POOL_LOCK = threading.RLock()  # guards the two names below; re-entered by _discard_pool
_pool: ProcessPoolExecutor | None = None
_pool_key: tuple | None = None


def _shared_pool(workers: int, weights: str | None) -> ProcessPoolExecutor:
    """The kept pool for (`workers`, `weights`), started now if there is none or it was made
    for something else. Call with `_POOL_LOCK` held."""
    global _pool, _pool_key
    # Workers resolve relative paths (cases, weights) against the folder they started in.
    key = (workers, None if weights is None else str(weights), os.getcwd())
    if _pool is not None and _pool_key != key:
        _discard_pool(_pool)
    if _pool is None:
        # Processes start on demand, so a 2-case run on a 4-worker pool starts only 2.
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(),
                                    initializer=prepare_worker, initargs=(weights,))
        _pool_key = key
    return _pool


def _discard_pool(pool: ProcessPoolExecutor, wait: bool = False, cancel_queued: bool = False) -> None:
    """Stop `pool` and, if it is the kept one, forget it so the next run starts a fresh one.

    Cases another run still has queued on it finish unless `cancel_queued`: a run that stops
    has already cancelled its own, and must not take other sessions' runs down with it.
    """
    global _pool, _pool_key
    with _POOL_LOCK:
        if pool is _pool:
            _pool, _pool_key = None, None
    pool.shutdown(wait=wait, cancel_futures=cancel_queued)


def shutdown_pool() -> None:
    """Stop the kept local worker pool, if any, and wait for its workers to exit (the bench
    calls it to time a cold start)."""
    with _POOL_LOCK:
        pool = _pool
    if pool is not None:
        _discard_pool(pool, wait=True, cancel_queued=True)


# The workers end with this process. (concurrent.futures' own exit hook runs before atexit's
# and already joins a pool with nothing queued, which is how runs leave it; this makes the
# shutdown explicit rather than a side effect of that hook.)
atexit.register(shutdown_pool)


def _submit(tasks: list[Task], workers: int, weights: str | None
            ) -> tuple[ProcessPoolExecutor, list[Future]]:
    """This run's cases submitted to the kept pool: (the pool, one future per task)."""
    def submit_all(pool: ProcessPoolExecutor) -> list[Future]:
        return [pool.submit(run_case, index, item, weights, True) for index, item in tasks]

    # The lock is held while submitting, so no other thread replaces the pool in between.
    with _POOL_LOCK:
        pool = _shared_pool(workers, weights)
        try:
            return pool, submit_all(pool)
        except BrokenProcessPool:
            # A worker of the kept pool died since the last run (killed, out of memory): this
            # run must not fail for it. Nothing has been yielded, so resubmitting all is safe.
            _discard_pool(pool)
        pool = _shared_pool(workers, weights)
        return pool, submit_all(pool)


def _local_pool(tasks: list[Task], workers: int, weights: str | None) -> Iterator[CaseOutcome]:
    """The tasks on the kept local pool, outcomes as they finish.

    Stopping early (an error, Ctrl-C, the caller closing this generator) cancels this run's
    cases that have not started; the pool stays for the next run, except after Ctrl-C or a
    worker's death, when it is discarded and the next run starts a fresh one.
    """
    pool: ProcessPoolExecutor | None = None
    futures: list[Future] = []
    try:
        pool, futures = _submit(tasks, workers, weights)
        for fut in as_completed(futures):
            yield fut.result()
    except BrokenProcessPool as exc:
        # A worker died (killed, out of memory): every pending case would fail the same way,
        # so stop rather than write error rows that --resume would skip.
        if pool is not None:
            _discard_pool(pool)
        raise CohortAborted(f"a worker process died ({exc}); finished rows are saved, "
                            "run again with --resume to go on") from None
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reaches the workers too (same process group): some may have
        # died, others be mid-case. Do not trust that pool for the next run.
        if pool is not None:
            _discard_pool(pool)
        raise
    finally:
        # Other runs may share the pool: cancel only this run's cases that have not started.
        # Those already running finish in the background; their rows are not wanted.
        for fut in futures:
            fut.cancel()


def _dask(tasks: list[Task], scheduler: str, weights: str | None) -> Iterator[CaseOutcome]:
    """Connect and submit now (so a wrong address fails before the output file is touched);
    the returned generator yields the outcomes as they finish."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs the 'distributed' package (pip install distributed).") from None
    try:
        # Not the default client, so nothing else in this process picks it up by accident.
        client = Client(scheduler, set_as_default=False, timeout=DASK_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"Could not reach the Dask scheduler at {scheduler} ({exc}).") from None
    try:
        try:
            client.wait_for_workers(1, timeout=DASK_WORKER_TIMEOUT_S)
        except TimeoutError:
            raise CohortAborted(f"the Dask cluster at {scheduler} has no workers") from None
        run_id = uuid.uuid4().hex[:8]
        weights = os.path.abspath(weights) if weights else None  # as for the files
        futures = {}
        for index, item in tasks:
            # Workers open the absolute path: their working folder is not ours.
            fut = client.submit(run_case, index, item, weights, True, os.path.abspath(item.path),
                                key=f"gaitlab-case-{run_id}-{index}", pure=False)
            futures[fut] = (index, item)
    except BaseException:
        client.close()
        raise
    return _dask_results(client, futures)


def _dask_results(client, futures: dict) -> Iterator[CaseOutcome]:
    from distributed import KilledWorker
    from distributed import as_completed as dask_as_completed

    try:
        # as_completed uses the *default* client's event loop unless told: ours is not default.
        for fut in dask_as_completed(list(futures), loop=client.loop):
            index, item = futures.pop(fut)
            try:
                outcome = fut.result()
            except KilledWorker as exc:
                # Dask already retried on other workers: this file reliably kills a worker
                # (usually memory), so it is this file's error, not the run's.
                row = empty_row(item)
                row["error"] = _one_line(f"the worker analysing this file died repeatedly ({exc})")
                outcome = CaseOutcome(index, row, "", 0)
            except Exception as exc:  # noqa: BLE001 - cancelled, scheduler lost, ...
                raise CohortAborted(f"the Dask run stopped ({type(exc).__name__}: {exc}); finished "
                                    "rows are saved, run again with --resume to go on") from None
            fut.release()  # the row is here; the cluster need not keep it
            yield outcome
    finally:
        client.close()  # releases (and so cancels) whatever was not finished


# --- The output file --------------------------------------------------------------------------
def _parse_row(cells: dict[str, str]) -> dict[str, object]:
    """A row read back from CSV, with the numeric columns as floats (as freshly made rows)."""
    row: dict[str, object] = dict(cells)
    for c in NUMERIC_COLUMNS:
        if row[c] != "":
            row[c] = float(row[c])
    return row


def read_finished_rows(out: str | Path) -> tuple[list[dict[str, object]], int]:
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


def write_table(out: str | Path, rows: list[dict[str, object]]) -> None:
    """Write `rows` as the whole cohort CSV, atomically (temporary file, then rename)."""
    path = Path(out)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


class _RowSink:
    """Appends rows to the output CSV, flushing each one so a crash loses none."""

    def __init__(self, path: Path, append: bool) -> None:
        self.handle = open(path, "a" if append else "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=COLUMNS)
        if not append:
            self.writer.writeheader()
            self.handle.flush()

    def write(self, row: dict[str, object]) -> None:
        self.writer.writerow(row)
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a CSV file name.")
    out.parent.mkdir(parents=True, exist_ok=True)


# --- A run --------------------------------------------------------------------------------
@dataclass
class CohortRun:
    """The result of `execute_items`.

    `table`: one row per input item, in input order. `analysed`: cases run this time;
    `resumed`: rows kept from an earlier run; `dropped`: incomplete lines of that run's file
    that were redone. `model_loads`: per worker process (`host:pid`), how many models it
    loaded (1 each when the per-process cache works). `seconds`: wall time of the run.
    """

    table: pd.DataFrame
    analysed: int
    resumed: int = 0
    dropped: int = 0
    model_loads: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return int((self.table["error"] != "").sum())


def _match_finished(items: list[CohortItem], finished: list[dict[str, object]]
                    ) -> tuple[dict[int, dict[str, object]], list[dict[str, object]]]:
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


def execute_items(
    items: list[CohortItem],
    out: str | Path | None = None,
    workers: int = 1,
    weights: str | None = None,
    progress: Progress | None = None,
    scheduler: str | None = None,
    resume: bool = False,
) -> CohortRun:
    """Analyse `items` here, in `workers` local processes, or on the Dask cluster at `scheduler`.

    With `out`, rows are appended and flushed as they finish, then the file is rewritten in
    input order at the end. An existing `out` is overwritten unless `resume`, which keeps its
    finished rows (see `read_finished_rows`) and analyses only the other items; rows of that
    file whose paths are not among `items` are kept, after the others. `progress(k, n, row)`
    is called after each new row (n: the cases analysed this time).
    """
    start = time.perf_counter()
    out_path = Path(out) if out is not None else None
    done: dict[int, dict[str, object]] = {}
    leftover: list[dict[str, object]] = []
    dropped = 0
    append = False
    if out_path is not None:
        _check_out(out_path)
        # The output may sit inside the input folder: never analyse it as a keypoint CSV.
        items = [it for it in items if Path(it.path).resolve() != out_path.resolve()]
        if resume and out_path.is_file():
            finished, dropped = read_finished_rows(out_path)
            done, leftover = _match_finished(items, finished)
            # Start from a clean file: kept rows only, no half-written line to append after.
            write_table(out_path, [done[i] for i in sorted(done)] + leftover)
            append = True

    tasks = [(i, item) for i, item in enumerate(items) if i not in done]
    if not tasks:
        outcomes = _in_process(tasks, weights)
    elif scheduler:
        outcomes = _dask(tasks, scheduler, weights)
    elif workers > 1 and len(tasks) > 1:
        outcomes = _local_pool(tasks, workers, weights)
    else:
        outcomes = _in_process(tasks, weights)

    rows = dict(done)
    loads: dict[str, int] = {}
    sink = _RowSink(out_path, append) if out_path is not None else None
    try:
        for k, outcome in enumerate(outcomes, start=1):
            rows[outcome.index] = outcome.row
            if outcome.worker:
                loads[outcome.worker] = max(loads.get(outcome.worker, 0), outcome.model_loads)
            if sink:
                sink.write(outcome.row)
            if progress:
                progress(k, len(tasks), outcome.row)
    finally:
        outcomes.close()  # stops the workers early if we leave by an exception
        if sink:
            sink.close()
    ordered = [rows[i] for i in sorted(rows)]
    if out_path is not None:
        write_table(out_path, ordered + leftover)
    return CohortRun(
        table=pd.DataFrame(ordered, columns=COLUMNS),
        analysed=len(tasks),
        resumed=len(done),
        dropped=dropped,
        model_loads=loads,
        seconds=time.perf_counter() - start,
    )


def run_items(items: list[CohortItem], **options: Any) -> pd.DataFrame:
    """Analyse `items` and return the table in input order; `options` as for `execute_items`."""
    return execute_items(items, **options).table


def run_cohort(source: str | Path, out: str | Path | None = None, workers: int = 1,
               weights: str | None = None, progress: Progress | None = None,
               scheduler: str | None = None, resume: bool = False) -> pd.DataFrame:
    """Analyse every case of a folder or manifest (see `collect_inputs`); see `execute_items`."""
    return execute_items(collect_inputs(source), out, workers, weights, progress, scheduler, resume).table
