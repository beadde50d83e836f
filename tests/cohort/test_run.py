"""The cohort engine: inputs, confinement, local and Dask execution, streaming and --resume."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gaitlab.cohort import executors
from gaitlab.cohort.inputs import CohortItem, collect_inputs, confined_path, read_manifest
from gaitlab.cohort.run import CohortAborted, execute_items, run_cohort, run_items
from gaitlab.cohort.table import COLUMNS, NUMERIC_COLUMNS, read_finished_rows
from gaitlab.constants import CLASSES
from gaitlab.errors import InputError

# The output columns as documented ("path, cohort, label, predicted, confidence, prob_<Class>…,
# teacher_predicted, the walk's kinematics, outside_normal_band, warnings, error", classes in
# `CLASSES` order): spelled out, so a change to `COLUMNS` shows up here rather than passing by
# comparison with itself.
DOCUMENTED_COLUMNS = [
    "path", "cohort", "label", "predicted", "confidence",
    "prob_Normal", "prob_KOA_Early", "prob_KOA_Mild", "prob_KOA_Severe",
    "prob_PD_Early", "prob_PD_Mild", "prob_PD_Severe",
    "prob_Disabled_Assistive", "prob_Disabled_NonAssistive",
    "teacher_predicted",
    "cadence_steps_per_min", "stride_length_heights", "speed_heights_per_s",
    "knee_rom_deg_left", "knee_rom_deg_right", "hip_rom_deg_left", "hip_rom_deg_right", "step_length_asymmetry",
    "outside_normal_band",
    "warnings", "error",
]


@pytest.fixture(scope="module")
def cases(tmp_path_factory, walker_video, walker_csv, two_walkers_video) -> Path:
    """A cohort folder: A/ two videos, B/ a keypoint CSV and a broken video, plus noise."""
    root = tmp_path_factory.mktemp("cohort") / "study"
    (root / "A").mkdir(parents=True)
    (root / "B" / "deep").mkdir(parents=True)
    shutil.copy(walker_video, root / "A" / "one.mp4")
    shutil.copy(two_walkers_video, root / "A" / "two.mp4")
    shutil.copy(walker_csv, root / "B" / "deep" / "k.csv")
    (root / "B" / "bad.mp4").write_text("not a video")
    (root / "B" / "notes.txt").write_text("not a case")
    shutil.copy(walker_video, root / "top.mp4")
    return root


def read_out(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(table.columns) == DOCUMENTED_COLUMNS
    return table


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Row for row: identical text columns, numbers equal to 1e-6 (rows are rounded to 6
    decimals, so one last-digit flip from a different thread count is allowed)."""
    assert len(a) == len(b)
    text = [c for c in COLUMNS if c not in NUMERIC_COLUMNS]
    assert a[text].astype(str).values.tolist() == b[text].astype(str).values.tolist()
    x = a[NUMERIC_COLUMNS].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    y = b[NUMERIC_COLUMNS].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    assert np.array_equal(np.isnan(x), np.isnan(y))
    assert np.nanmax(np.abs(x - y), initial=0.0) <= 1e-6 + 1e-9


# --- Inputs ---------------------------------------------------------------------------------
def test_folder_inputs(cases):
    items = collect_inputs(cases)
    names = [Path(i.path).relative_to(cases).as_posix() for i in items]
    assert names == ["A/one.mp4", "A/two.mp4", "B/bad.mp4", "B/deep/k.csv", "top.mp4"]
    assert [i.cohort for i in items] == ["A", "A", "B", "B", "study"]


def test_manifest_relative_paths_and_columns(cases, tmp_path):
    manifest = tmp_path / "lists" / "m.csv"
    manifest.parent.mkdir()
    relative = os.path.relpath(cases / "A" / "one.mp4", manifest.parent)  # "../../…/A/one.mp4"
    manifest.write_text("Path,Cohort,Label,Description\n"
                        f"{relative},left,KOA_Mild,knee pain\n"
                        f"{cases / 'B' / 'deep' / 'k.csv'},right,,\n")
    items = read_manifest(manifest)
    assert Path(items[0].path).resolve() == (cases / "A" / "one.mp4").resolve()
    assert items[0] == CohortItem(items[0].path, "left", "KOA_Mild", "knee pain")
    assert items[1] == CohortItem(str(cases / "B" / "deep" / "k.csv"), "right", "", "")
    assert collect_inputs(manifest) == items


@pytest.mark.parametrize("content, message", [
    ("path,label\na.mp4,Arthritis\n", "not GaitLab classes"),
    ("file,label\na.mp4,Normal\n", "no 'path' column"),
    ("", "is empty"),
])
def test_bad_manifests(tmp_path, content, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(content)
    with pytest.raises(InputError, match=message):
        collect_inputs(manifest)


def test_bad_sources(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        collect_inputs(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="neither a folder nor a manifest"):
        collect_inputs(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no videos"):
        collect_inputs(tmp_path / "empty")


def test_confined_path(tmp_path):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    assert confined_path("sub", root) == (root / "sub").resolve()
    assert confined_path(str(root / "sub"), root) == (root / "sub").resolve()
    assert confined_path(".", root) == root.resolve()
    for escape in ["..", "../secret", "sub/../../secret", str(tmp_path / "secret"), "/etc"]:
        with pytest.raises(InputError, match="outside the data folder"):
            confined_path(escape, root)
    (root / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(InputError):
        confined_path("link", root)


def test_the_teachers_label_has_its_column():
    """`teacher_predicted`: the keypoint teacher's label beside the student's, empty without a
    teacher (no teacher weights) and for a failed case."""
    from types import SimpleNamespace

    from gaitlab.cohort.table import error_row, result_row

    probs = {c: 1 / len(CLASSES) for c in CLASSES}
    result = SimpleNamespace(label="Normal", confidence=0.4, probabilities=probs, warnings=["a", "b"],
                             teacher={"label": "PD_Mild", "confidence": 0.7, "agrees": False})
    item = CohortItem("x.csv", "A", "Normal")
    row = result_row(item, result)
    assert list(row) == DOCUMENTED_COLUMNS
    assert row["predicted"] == "Normal" and row["teacher_predicted"] == "PD_Mild" and row["warnings"] == "a | b"
    assert result_row(item, SimpleNamespace(**{**vars(result), "teacher": None}))["teacher_predicted"] == ""
    assert error_row(item, "broken")["teacher_predicted"] == ""


# --- Running ------------------------------------------------------------------------------
def test_missing_file_gives_error_row(cases, random_weights):
    items = [CohortItem(str(cases / "A" / "gone.mp4"), "A"), CohortItem(str(cases / "B" / "deep" / "k.csv"), "B", "Normal")]
    table = run_items(items, weights=str(random_weights))
    assert list(table["path"]) == [i.path for i in items]
    missing, good = table.iloc[0], table.iloc[1]
    assert "does not exist" in missing["error"] and missing["predicted"] == "" and missing["confidence"] == ""
    assert good["error"] == "" and good["predicted"] in CLASSES and good["label"] == "Normal"
    assert abs(sum(good[f"prob_{c}"] for c in CLASSES) - 1) < 1e-4


def test_a_non_walk_gives_an_error_row_with_the_reason(tmp_path, cases, random_weights):
    """No walk, no gait class: a person standing still (keypoints of one walker pose held for
    4 s) is a cohort row with the reason in `error` and no prediction; the run goes on."""
    from gaitlab.pipeline.pose import keypoints_csv_text
    from gaitlab.synth.walker import WalkerParams, walk_keypoints

    pose = walk_keypoints(WalkerParams(start_x=0.5), 1, 30.0)[0]
    still = np.repeat(pose[None], 120, axis=0)
    still[..., :2] += np.random.default_rng(0).normal(0, 0.001, still[..., :2].shape)
    frames = np.arange(120)
    path = tmp_path / "standing.csv"
    path.write_text(keypoints_csv_text(still, frames, frames / 30.0), encoding="utf-8")
    items = [CohortItem(str(path), "A"), CohortItem(str(cases / "B" / "deep" / "k.csv"), "B")]
    table = run_items(items, weights=str(random_weights))
    refused, good = table.iloc[0], table.iloc[1]
    assert refused["error"].startswith("no walk to analyse: ") and "stands in place" in refused["error"]
    assert refused["predicted"] == "" and refused["confidence"] == ""
    assert good["error"] == "" and good["predicted"] in CLASSES


def test_model_loaded_once_in_process(cases, random_weights, monkeypatch):
    import gaitlab.inference as inference

    loads = []
    real = inference.load_model
    monkeypatch.setattr(inference, "_MODELS", {})
    monkeypatch.setattr(executors, "_PROCESS", executors._ProcessState())
    monkeypatch.setattr(inference, "load_model", lambda w=None: loads.append(w) or real(w))
    run = execute_items(collect_inputs(cases), weights=str(random_weights))
    assert run.analysed == 5 and len(loads) == 1
    assert list(run.model_loads.values()) == [1]


@pytest.fixture(scope="module")
def local_run(cases, random_weights, tmp_path_factory):
    """The reference: every case analysed in this process, written to CSV."""
    out = tmp_path_factory.mktemp("local") / "local.csv"
    run = execute_items(collect_inputs(cases), out, weights=str(random_weights))
    return run, out


def test_local_run_streams_then_orders(local_run, cases):
    run, out = local_run
    table = read_out(out)
    assert list(table["path"]) == [i.path for i in collect_inputs(cases)]
    assert (table["error"] != "").sum() == 1 and table.loc[2, "error"]  # B/bad.mp4
    assert run.analysed == 5 and run.errors == 1


def test_two_local_workers_equal_one(local_run, cases, random_weights, tmp_path):
    # This process has used torch's and OpenCV's thread pools (local_run): workers started
    # by a plain fork of it could hang; these must not.
    out = tmp_path / "two.csv"
    run = execute_items(collect_inputs(cases), out, workers=2, weights=str(random_weights))
    assert_same_rows(read_out(local_run[1]), read_out(out))
    # Worker processes, not this one; each loaded the model exactly once.
    assert 1 <= len(run.model_loads) <= 2 and set(run.model_loads.values()) == {1}
    assert f":{os.getpid()}" not in " ".join(run.model_loads)


def worker_pids(run) -> set[int]:
    """The worker processes that analysed cases of `run` (ids are `host:pid`)."""
    return {int(w.rsplit(":", 1)[1]) for w in run.model_loads}


def pool_pids(pool) -> set[int]:
    return set(pool._processes)  # ProcessPoolExecutor's own record of its processes


def test_local_pool_is_kept_between_runs(local_run, cases, random_weights, tmp_path):
    items, weights = collect_inputs(cases), str(random_weights)
    first = execute_items(items, tmp_path / "a.csv", workers=2, weights=weights)
    pool = executors._pool
    second = execute_items(items, tmp_path / "b.csv", workers=2, weights=weights)
    # The same pool and the same (at most 2) processes ran both; each loaded the model once.
    assert pool is not None and executors._pool is pool
    pids = pool_pids(pool)
    assert len(pids) <= 2 and worker_pids(first) | worker_pids(second) <= pids
    assert set(second.model_loads.values()) == {1}
    for out in ("a.csv", "b.csv"):
        assert_same_rows(read_out(local_run[1]), read_out(tmp_path / out))
    # Another worker count replaces the pool; the old one takes no more work.
    execute_items(items[:2], workers=3, weights=weights)
    assert executors._pool is not pool
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(os.getpid)


def test_concurrent_runs_share_the_pool(local_run, cases, random_weights, tmp_path):
    """Two sessions of the app running cohorts at the same time, on one kept pool."""
    items, weights = collect_inputs(cases), str(random_weights)
    execute_items(items[:2], workers=2, weights=weights)
    pool = executors._pool
    barrier = threading.Barrier(2)
    runs, failures = {}, []

    def session(k: int) -> None:
        try:
            barrier.wait(timeout=60)
            runs[k] = execute_items(items, tmp_path / f"{k}.csv", workers=2, weights=weights)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=session, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures and len(runs) == 2
    assert executors._pool is pool and worker_pids(runs[0]) | worker_pids(runs[1]) <= pool_pids(pool)
    for k in range(2):
        assert_same_rows(read_out(local_run[1]), read_out(tmp_path / f"{k}.csv"))


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_dead_worker_does_not_poison_later_runs(local_run, cases, random_weights, tmp_path):
    items, weights = collect_inputs(cases), str(random_weights)
    warm = execute_items(items, workers=2, weights=weights)
    pool, victim = executors._pool, min(worker_pids(warm))

    # Killed mid-run: the run stops with CohortAborted, the rows finished so far are saved.
    def kill_after_first_row(k, n, row):
        if k == 1:
            os.kill(victim, signal.SIGKILL)

    out = tmp_path / "killed.csv"
    with pytest.raises(CohortAborted, match="worker process died"):
        execute_items(items * 4, out, workers=2, weights=weights, progress=kill_after_first_row)
    assert 1 <= len(read_out(out)) < 20
    assert executors._pool is None  # discarded: the next run starts a fresh one

    after = execute_items(items, tmp_path / "after.csv", workers=2, weights=weights)
    assert victim not in worker_pids(after) and executors._pool not in (None, pool)
    assert_same_rows(read_out(local_run[1]), read_out(tmp_path / "after.csv"))

    # Killed between runs (an idle worker, out of memory say): the next run still succeeds.
    pool, victim = executors._pool, min(worker_pids(after))
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: pool._broken)  # the pool has noticed
    again = execute_items(items, tmp_path / "again.csv", workers=2, weights=weights)
    assert victim not in worker_pids(again) and executors._pool is not pool
    assert_same_rows(read_out(local_run[1]), read_out(tmp_path / "again.csv"))


@pytest.fixture(scope="module")
def dask_cluster(unavailable):
    try:  # pinned in requirements.txt: under CI its absence fails the test
        import distributed
    except ImportError:
        unavailable("the 'distributed' package is not installed (pip install -r requirements.txt)")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster


def test_dask_equals_local(local_run, cases, random_weights, dask_cluster, tmp_path):
    from distributed import Client

    out = tmp_path / "dask.csv"
    seen = []
    run = execute_items(collect_inputs(cases), out, weights=str(random_weights),
                        scheduler=dask_cluster.scheduler_address,
                        progress=lambda k, n, row: seen.append(row["path"]))
    assert len(seen) == 5 and sorted(seen) == sorted(i.path for i in collect_inputs(cases))
    assert_same_rows(read_out(local_run[1]), read_out(out))
    assert_same_rows(read_out(local_run[1]), run.table.astype(str).replace("nan", ""))
    with Client(dask_cluster.scheduler_address, set_as_default=False) as client:
        stats = client.run(executors.process_stats)
    # One model per worker process, loaded once however many cases it ran; one torch thread.
    assert len(stats) == 2
    assert sum(s["cases"] for s in stats.values()) == 5
    for s in stats.values():
        assert s["model_loads"] == (1 if s["cases"] else 0) and s["torch_threads"] == 1


def test_dask_reads_relative_paths_as_absolute(cases, random_weights, dask_cluster, monkeypatch):
    monkeypatch.chdir(cases)
    table = run_items([CohortItem("A/one.mp4", "A")], weights=str(random_weights),
                             scheduler=dask_cluster.scheduler_address)
    assert table.loc[0, "path"] == "A/one.mp4" and table.loc[0, "error"] == ""


# --- Resume -------------------------------------------------------------------------------
@pytest.fixture
def counted(monkeypatch):
    """Paths analysed by in-process runs from now on."""
    analysed = []
    real = executors.analyze_item

    def counting(item, weights=None):
        analysed.append(item.path)
        return real(item, weights)

    monkeypatch.setattr(executors, "analyze_item", counting)
    return analysed


def test_resume_after_a_crash(local_run, cases, random_weights, counted, tmp_path):
    items = collect_inputs(cases)
    out = tmp_path / "out.csv"

    def crash_after_two(k, n, row):
        if k == 2:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        execute_items(items, out, weights=str(random_weights), progress=crash_after_two)
    assert len(read_out(out)) == 2  # the finished rows were flushed before the crash
    counted.clear()
    run = execute_items(items, out, weights=str(random_weights), resume=True)
    assert counted == [i.path for i in items[2:]]
    assert (run.resumed, run.analysed, run.dropped) == (2, 3, 0)
    assert_same_rows(read_out(local_run[1]), read_out(out))
    counted.clear()
    again = execute_items(items, out, weights=str(random_weights), resume=True)
    assert counted == [] and again.analysed == 0 and len(again.table) == 5


def test_resume_redoes_a_half_written_last_line(local_run, cases, random_weights, counted, tmp_path):
    out = tmp_path / "out.csv"
    data = local_run[1].read_bytes()
    last_line = data.rstrip(b"\r\n").rsplit(b"\n", 1)[1]
    out.write_bytes(data[: len(data) - len(last_line) // 2])  # cut the last row in half
    run = execute_items(collect_inputs(cases), out, weights=str(random_weights), resume=True)
    assert counted == [collect_inputs(cases)[-1].path]
    assert (run.resumed, run.analysed, run.dropped) == (4, 1, 1)
    assert_same_rows(read_out(local_run[1]), read_out(out))


def test_error_rows_count_as_done(local_run, cases, random_weights, counted, tmp_path):
    out = tmp_path / "out.csv"
    shutil.copy(local_run[1], out)
    execute_items(collect_inputs(cases), out, weights=str(random_weights), resume=True)
    assert counted == []


def test_read_finished_rows_drops_incomplete_rows(tmp_path):
    out = tmp_path / "o.csv"
    row = {c: "" for c in COLUMNS} | {"path": "a.mp4", "predicted": "Normal", "confidence": "0.5"}
    blank = {c: "" for c in COLUMNS} | {"path": "b.mp4"}  # neither result nor error
    out.write_text(",".join(COLUMNS) + "\n" + ",".join(row[c] for c in COLUMNS) + "\n"
                   + ",".join(blank[c] for c in COLUMNS) + "\nc.mp4,x,")
    rows, dropped = read_finished_rows(out)
    assert [r["path"] for r in rows] == ["a.mp4"] and rows[0]["confidence"] == 0.5 and dropped == 2


def test_without_resume_an_existing_output_is_overwritten(cases, random_weights, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("whatever,was\nhere,before\n")
    execute_items([CohortItem(str(cases / "B" / "deep" / "k.csv"))], out, weights=str(random_weights))
    assert len(read_out(out)) == 1


def test_resume_refuses_a_foreign_csv(cases, random_weights, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("whatever,was\nhere,before\n")
    with pytest.raises(InputError, match="not a GaitLab cohort table"):
        execute_items(collect_inputs(cases), out, weights=str(random_weights), resume=True)
    assert out.read_text() == "whatever,was\nhere,before\n"


def test_output_inside_the_input_folder_is_not_a_case(cases, random_weights, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(cases / "B" / "deep", folder)
    out = folder / "results.csv"
    for _ in range(2):
        table = run_cohort(folder, out, weights=str(random_weights))
        assert list(table["path"]) == [str(folder / "k.csv")]


def test_cli_resume_and_option_errors(cases, random_weights, tmp_path):
    def cli(*args):
        cmd = [sys.executable, "-m", "gaitlab", "cohort", *map(str, args), "--weights", str(random_weights)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    out = tmp_path / "out.csv"
    shutil.copytree(cases / "B", tmp_path / "B")
    first = cli(tmp_path / "B", "--out", out)
    assert first.returncode == 0 and "wrote 2 rows" in first.stdout, first.stderr
    again = cli(tmp_path / "B", "--out", out, "--resume")
    assert again.returncode == 0 and "analysed 0" in again.stdout and "kept 2 row(s)" in again.stdout
    for bad in (["--workers", "0"], ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]):
        proc = cli(tmp_path / "B", "--out", out, *bad)
        assert proc.returncode == 2 and proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
