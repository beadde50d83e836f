"""A cohort run: many cases → one table, one row per file, streamed to CSV as they finish.

`execute_items(items, out, workers, weights, progress, scheduler, resume) -> CohortRun` takes
a list of `CohortItem`s (see `inputs.collect_inputs`) and returns the table (a DataFrame with
the columns `table.COLUMNS`, one row per item, in input order) with counts and timings.
`run_items` returns just that table; `run_cohort(source, …)` starts from a folder or manifest.
A bad file becomes a row with `error` filled in and the run goes on; a stop for a reason
outside any one file raises `CohortAborted`.

The steps: items → tasks for the cases not already done → `executors.start_tasks` (this
process, the kept local pool, or Dask) → rows as they finish, each appended to `out` and
flushed at once, so a crash loses no finished row → `out` rewritten in input order
(atomically: a temporary file then a rename). `resume=True` keeps the rows an earlier,
interrupted run left (results and error rows alike), drops a half-written last line, and
analyses only the rest.

The other names imported below are re-exported: `gaitlab.cohort.run` was once the whole
engine, and code that imports them from here keeps working.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from gaitlab.cohort.executors import (  # noqa: F401 - re-exported
    DASK_CONNECT_TIMEOUT_S,
    DASK_WORKER_TIMEOUT_S,
    MMAP_THRESHOLD_BYTES,
    CaseOutcome,
    CohortAborted,
    analyze_item,
    default_workers,
    prepare_worker,
    process_stats,
    run_case,
    shutdown_pool,
    start_method,
    start_tasks,
    worker_id,
    worker_model,
)
from gaitlab.cohort.inputs import (  # noqa: F401 - re-exported
    MANIFEST_COLUMNS,
    CohortItem,
    collect_inputs,
    confined_path,
    read_manifest,
)
from gaitlab.cohort.table import (  # noqa: F401 - re-exported
    COLUMNS,
    NUMERIC_COLUMNS,
    RowSink,
    check_out,
    empty_row,
    read_finished_rows,
    resume_from,
    write_table,
)

Progress = Callable[[int, int, dict], None]


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
        check_out(out_path)
        # The output may sit inside the input folder: never analyse it as a keypoint CSV.
        items = [it for it in items if Path(it.path).resolve() != out_path.resolve()]
        if resume and out_path.is_file():
            done, leftover, dropped = resume_from(out_path, items)
            append = True

    tasks = [(i, item) for i, item in enumerate(items) if i not in done]
    outcomes = start_tasks(tasks, workers, weights, scheduler)

    rows = dict(done)
    loads: dict[str, int] = {}
    sink = RowSink(out_path, append) if out_path is not None else None
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
