"""The cohort engine: many cases in, one table out (one row per file), and its statistics.

Data flow: input → items → executor → rows → table.

- input: a folder (recursive; the first sub-folder names the cohort) or a manifest CSV
  (`path`, optional `cohort`, `label`, `description`);
- items: `inputs.collect_inputs(source) -> list[CohortItem]`;
- executor: `executors.start_tasks` analyses each case in this process, in the kept pool of
  local worker processes, or on a Dask cluster, and yields a `CaseOutcome` per case as it
  finishes;
- rows: one dict per case keyed by `table.COLUMNS`, a result or an `error` (`table.result_row`,
  `table.error_row`);
- table: rows streamed to the output CSV as they finish, then rewritten in input order
  (`table.RowSink`, `table.write_table`); `--resume` reads back what an earlier run finished.

`run.execute_items` (and `run_items`, `run_cohort`) drives these steps; `statistics`
summarises the resulting table. The public names are re-exported here, so
`gaitlab.cohort.run_cohort(…)` works as well as `gaitlab.cohort.run.run_cohort(…)`.
"""
from gaitlab.cohort.executors import CohortAborted, default_workers, shutdown_pool
from gaitlab.cohort.inputs import CohortItem, collect_inputs, confined_path, read_manifest
from gaitlab.cohort.run import CohortRun, execute_items, run_cohort, run_items
from gaitlab.cohort.table import COLUMNS, NUMERIC_COLUMNS, read_finished_rows

__all__ = [
    "COLUMNS",
    "NUMERIC_COLUMNS",
    "CohortAborted",
    "CohortItem",
    "CohortRun",
    "collect_inputs",
    "confined_path",
    "default_workers",
    "execute_items",
    "read_finished_rows",
    "read_manifest",
    "run_cohort",
    "run_items",
    "shutdown_pool",
]
