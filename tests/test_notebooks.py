"""The worked notebooks in notebooks/ run top to bottom against the current `gaitlab`.

Each notebook is executed by nbclient from a copy (the file in the repository is never
written), with the notebooks folder as working directory so relative paths behave as they do
for a user; an error in any cell fails the test and names the cell. The executed copy is kept
in pytest's temporary folder for inspection. Notebook 04 on the real data trains for minutes,
so that run is in the slow tier (`-m slow`); by default 04 runs with its data folder pointed at
nothing, so the synthetic-cohort branch a fresh clone takes is always covered. The kernel spec
is installed per session; where that fails the notebook runs skip, except under CI (`CI=true`),
where they fail.

The committed notebooks must carry no outputs (they would embed images and, for 04,
numbers derived from the real data) and open with the research-and-education notice.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gaitlab.constants import NOTICE

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TRAINING_NOTEBOOK = NOTEBOOK_DIR / "04_train_and_evaluate.ipynb"
CELL_TIMEOUT_S = 600


@pytest.fixture(scope="session")
def python3_kernel(tmp_path_factory, unavailable):
    """A `python3` kernel spec that starts *this* interpreter (the one with gaitlab installed).

    A spec found on the machine may start another Python (its argv says just "python"), so a
    private one is installed with ipykernel into a temporary prefix and put first on
    JUPYTER_PATH for the session; nothing is written to the user's Jupyter folders.
    """
    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    cmd = [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "python3"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (f"cannot install the python3 Jupyter kernel spec for {sys.executable}: "
                  f"{(done.stderr or done.stdout).strip()[-300:]}")
        unavailable(reason)  # CI installs ipykernel from requirements.txt
    data_dir = prefix / "share" / "jupyter"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(data_dir), os.environ.get("JUPYTER_PATH")])))
        yield "python3"


def execute(path: Path, kernel: str, workdir: Path, inject: str | None = None) -> nbformat.NotebookNode:
    """Run a copy of the notebook at `path` (cwd: the notebooks folder); the executed copy is
    written to `workdir`. `inject`: code run right after the cell tagged `parameters`."""
    copy = workdir / path.name
    shutil.copyfile(path, copy)
    nb = nbformat.read(copy, as_version=4)
    if inject is not None:
        tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
        assert tagged, f"{path.name} has no cell tagged 'parameters'"
        nb.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(inject))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=kernel,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, copy)
    return nb


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"
    assert TRAINING_NOTEBOOK in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and NOTICE in first.source, "must open with a markdown cell holding the notice"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: clear the outputs and execution counts of cells {dirty} before committing"


# 04 trains on the real data when it is present (about 3 minutes on 2 cores): slow tier. Its
# synthetic-cohort branch still runs by default (test_training_notebook_runs_without_the_data).
@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p == TRAINING_NOTEBOOK else p
                                  for p in NOTEBOOKS], ids=lambda p: p.stem)
def test_notebook_runs(path: Path, python3_kernel: str, tmp_path: Path):
    execute(path, python3_kernel, tmp_path)


def test_training_notebook_runs_without_the_data(python3_kernel: str, tmp_path: Path):
    """A fresh clone has no ../shared/data: 04 must then train on a synthetic cohort."""
    missing = tmp_path / "no-gait-keypoints-here"
    nb = execute(TRAINING_NOTEBOOK, python3_kernel, tmp_path,
                 inject=f"from pathlib import Path\nDATA_DIR = Path({str(missing)!r})")
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "synthetic cohort" in printed
