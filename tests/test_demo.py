"""The bundled demo cases: the real walks (KOA-PD-NM keypoints, credited) beside the synthetic ones."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import gaitlab
from gaitlab import demo
from gaitlab.cohort.inputs import collect_inputs
from gaitlab.constants import NUM_LANDMARKS
from gaitlab.pipeline.keypoints import load_keypoint_csv
from gaitlab.weights import DEFAULT_WEIGHTS, WEIGHTS_ENV

DISABLED = ("Disabled_Assistive", "Disabled_NonAssistive")


def test_demo_cases_are_labelled_real_or_synthetic_and_open_on_a_real_walk():
    assert {c.source for c in demo.DEMO_CASES} == {"real", "synthetic"}
    assert demo.DEMO_CASES[0].is_real, "the app opens on the first case: a real walk"
    assert len({c.name for c in demo.DEMO_CASES}) == len({c.title for c in demo.DEMO_CASES}) == len(demo.DEMO_CASES)
    for case in demo.DEMO_CASES:
        assert case.path.is_file(), case.path
        assert case.option.startswith("Real walk — " if case.is_real else "Synthetic walker — ")
        assert bool(case.label) == case.is_real  # only a real walk has a recorded label
    assert "Two people in view (video)" in [c.title for c in demo.DEMO_CASES]


def test_real_walks_load_one_per_class_none_disabled():
    real = demo.REAL_CASES
    assert real and all(c.is_real for c in real)
    labels = [c.label for c in real]
    assert len(labels) == len(set(labels)), "at most one walk per class"
    assert set(labels) <= set(demo.REAL_CLASSES) and not set(labels) & set(DISABLED)
    for case in real:
        assert case.path.parent == demo.REAL_DIR
        assert not re.search(r"_(" + "|".join(gaitlab.CLASSES) + r")\.csv$", case.path.name), case.path.name
        assert case.description == "", "a real walk carries no invented note"
        seq = load_keypoint_csv(case.path)
        assert seq.ndim == 3 and seq.shape[1:] == (NUM_LANDMARKS, 4) and seq.shape[0] >= 60
        assert gaitlab.DISPLAY_NAMES[case.label] in case.caption and demo.REAL_CREDIT in case.caption
    # The folder holds exactly these walks and their credits.
    assert sorted(p.name for p in demo.REAL_DIR.iterdir()) == sorted([c.path.name for c in real] + ["CREDITS.md"])


def test_credits_name_every_file_and_the_citation():
    text = demo.CREDITS.read_text(encoding="utf-8")
    assert "CC BY 4.0" in text and demo.CITATION in text
    for case in demo.REAL_CASES:
        assert case.path.name in text and case.video_id in text


def test_manifest_lists_the_real_walks_with_their_labels():
    items = collect_inputs(demo.MANIFEST)
    by_name = {item.path.rsplit("/", 1)[-1]: item for item in items}
    assert len(items) == len(demo.DEMO_CASES)
    for case in demo.DEMO_CASES:
        assert by_name[case.path.name].label == case.label
        assert by_name[case.path.name].description == case.description


@pytest.fixture(scope="module")
def real_analyses():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(WEIGHTS_ENV, raising=False)
        assert DEFAULT_WEIGHTS.is_file()
        yield {c.name: gaitlab.analyze(c.path, description=c.description) for c in demo.REAL_CASES}


@pytest.mark.parametrize("case", demo.REAL_CASES, ids=lambda c: c.name)
def test_the_model_answers_on_every_real_walk(real_analyses, case):
    a = real_analyses[case.name]
    assert a.source == "keypoints" and a.description == ""
    assert a.label in gaitlab.CLASSES  # any answer: the demo shows the model, right or wrong
    probs = np.array(list(a.probabilities.values()))
    assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_the_choice_rule_picks_the_bundled_walks(shared_data):
    assert demo.pick_real_walks(shared_data) == {c.label: c.video_id for c in demo.REAL_CASES}


def test_real_walks_rebuild_byte_identical(shared_data, tmp_path):
    written = demo.make_real_demo_cases(shared_data, tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in demo.REAL_DIR.iterdir())
    for path in written:
        assert path.read_bytes() == (demo.REAL_DIR / path.name).read_bytes(), path.name


def test_manifest_rebuilds_identical(tmp_path):
    shutil.copytree(demo.REAL_DIR, tmp_path / demo.REAL_DIR.name)
    assert demo.write_manifest(tmp_path).read_bytes() == demo.MANIFEST.read_bytes()
