"""Where a run's cases are analysed: tasks `(index, CohortItem)` in, `CaseOutcome`s out.

`start_tasks` yields `CaseOutcome(index, row, worker, model_loads)` in completion order from:
- this process (`workers=1`, the default);
- N local worker processes (`workers=N`): a pool started on first use and kept for later
  runs in this process (the app and notebooks run many cohorts; see `_shared_pool`);
- an existing Dask cluster (`scheduler="tcp://host:port"`). Its workers open the files at
  the absolute path this machine resolves, so the files must be reachable at the same path
  from every worker (a shared or identically mounted file system).
Closing the iterator early cancels the cases not yet started; a stop for a reason outside any
one file (a worker died, the scheduler went away) raises `CohortAborted`.

`run_case` is what every worker runs. A worker process loads the model once (`inference.
get_model` caches it per process) and runs torch and OpenCV on one thread, so N workers on
N cores do not fight over them.
"""
from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import os
import socket
import sys
import threading
import uuid
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from gaitlab.cohort.inputs import CohortItem
from gaitlab.cohort.table import Row, error_row, result_row
from gaitlab.errors import InputError, WeightsError

# How long to wait for a Dask scheduler to answer, and for it to have at least one worker.
DASK_CONNECT_TIMEOUT_S = 30
DASK_WORKER_TIMEOUT_S = 120

Task = tuple[int, CohortItem]


class CohortAborted(RuntimeError):
    """The run stopped part-way for a reason outside any one file (a worker pool died, the
    Dask scheduler went away). Rows finished so far are in the output; `--resume` goes on."""


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 1)))


# --- One case, in whichever process runs it -----------------------------------------------------
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


def analyze_item(item: CohortItem, weights: str | None = None) -> Row:
    """One output row for one case; input problems become the `error` column.

    Unexpected failures become error rows too (marked "internal error"): in a run of
    thousands of files, one odd file must not stop the rest.
    """
    from gaitlab.inference import analyze

    try:
        result = analyze(item.path, item.description, model=worker_model(weights))
    except (InputError, WeightsError) as exc:
        return error_row(item, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug or a library failure on this file only
        return error_row(item, f"internal error ({type(exc).__name__}: {exc})")
    return result_row(item, result)


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
    row: Row
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


# --- Choosing where a run's tasks go ------------------------------------------------------------
def start_tasks(tasks: list[Task], workers: int = 1, weights: str | None = None,
                scheduler: str | None = None) -> Iterator[CaseOutcome]:
    """The outcomes of `tasks` as they finish: on the Dask cluster at `scheduler`, on the kept
    local pool when `workers` > 1 and there are several tasks, otherwise in this process. The
    Dask path connects and submits now, so a wrong address fails before anything is yielded."""
    if tasks and scheduler:
        return _dask(tasks, scheduler, weights)
    if workers > 1 and len(tasks) > 1:
        return _local_pool(tasks, workers, weights)
    return _in_process(tasks, weights)


def _in_process(tasks: list[Task], weights: str | None) -> Iterator[CaseOutcome]:
    for index, item in tasks:
        yield run_case(index, item, weights)


# --- The kept local pool --------------------------------------------------------------------------
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
        ctx.set_forkserver_preload(["gaitlab.cohort.executors", "gaitlab.inference", "gaitlab.pipeline.pose"])
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


# --- A Dask cluster ---------------------------------------------------------------------------
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
                row = error_row(item, f"the worker analysing this file died repeatedly ({exc})")
                outcome = CaseOutcome(index, row, "", 0)
            except Exception as exc:  # noqa: BLE001 - cancelled, scheduler lost, ...
                raise CohortAborted(f"the Dask run stopped ({type(exc).__name__}: {exc}); finished "
                                    "rows are saved, run again with --resume to go on") from None
            fut.release()  # the row is here; the cluster need not keep it
            yield outcome
    finally:
        client.close()  # releases (and so cancels) whatever was not finished
