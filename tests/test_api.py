"""The public API as a user calls it: `gaitlab.analyze` and `gaitlab.explain` (the functions in
`gaitlab/__init__.py`) on the bundled demo cases, with the SHIPPED student weights, for every
explanation method."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import gaitlab
from gaitlab.explanations import METHODS
from gaitlab.weights import DEFAULT_WEIGHTS, WEIGHTS_ENV

DEMO = Path(gaitlab.__file__).resolve().parent / "demo_cases"
CASES = {
    "keypoints": (DEMO / "stooped_shuffle.csv", "71-year-old man, resting tremor of the hand, slowness of movement."),
    "video": (DEMO / "steady_walk.mp4", ""),
}


@pytest.fixture(scope="module", autouse=True)
def shipped_weights():
    """The default model must be the shipped student, whatever the environment says."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(WEIGHTS_ENV, raising=False)
        assert DEFAULT_WEIGHTS.is_file(), f"shipped weights missing: {DEFAULT_WEIGHTS}"
        yield


@pytest.fixture(scope="module")
def analyses() -> dict[str, gaitlab.Analysis]:
    return {kind: gaitlab.analyze(path, description=note) for kind, (path, note) in CASES.items()}


def test_classes_are_the_nine_patterns():
    assert len(gaitlab.CLASSES) == 9 and len(set(gaitlab.CLASSES)) == 9
    assert "Normal" in gaitlab.CLASSES and "PD_Severe" in gaitlab.CLASSES


@pytest.mark.parametrize("kind", list(CASES))
def test_analyze_a_demo_case(analyses, kind):
    path, note = CASES[kind]
    a = analyses[kind]
    assert a.source == kind and a.path == str(path) and a.description == note
    assert a.label in gaitlab.CLASSES
    assert list(a.probabilities) == list(gaitlab.CLASSES)
    probs = np.array(list(a.probabilities.values()))
    assert np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert a.label == gaitlab.CLASSES[int(probs.argmax())] and a.confidence == pytest.approx(probs.max())
    assert isinstance(a.clip, torch.Tensor) and tuple(a.clip.shape) == (1, 3, 8, 224, 224)
    assert a.clip.dtype == torch.float32 and torch.isfinite(a.clip).all()
    assert tuple(a.embedding.shape) == (1, 384)
    assert a.frames.shape == (8, 224, 224, 3) and a.frames.dtype == np.uint8
    assert 0 <= a.main_clip < len(a.clips)
    for clip in a.clips:
        assert sum(clip.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", list(CASES))
def test_analysis_to_dict_round_trips_through_json(analyses, kind):
    summary = analyses[kind].to_dict()
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text) == summary
    assert summary["label"] == analyses[kind].label and summary["probabilities"] == analyses[kind].probabilities


def test_load_model_is_the_shipped_student():
    model = gaitlab.load_model()
    assert hasattr(model, "cam_layer") and not model.training
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 8, 224, 224), torch.zeros(1, 384))
    assert tuple(logits.shape) == (1, len(gaitlab.CLASSES)) and torch.isfinite(logits).all()


@pytest.mark.parametrize("method", list(METHODS))
def test_explain_with_the_shipped_student(analyses, method):
    a = analyses["keypoints"]
    e = gaitlab.explain(a, method=method)
    assert e.method == method and e.target == a.label
    assert 0.0 <= e.target_probability <= 1.0
    maps = e.maps
    assert isinstance(maps, np.ndarray) and maps.shape == (8, 224, 224) and maps.dtype == np.float32
    assert np.isfinite(maps).all()
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert maps.max() > maps.min(), "a flat map explains nothing"
    importance = np.asarray(e.frame_importance)
    assert importance.shape == (8,) and (importance >= 0).all() and importance.sum() == pytest.approx(1.0)
    assert len(e.overlays) == 8
    for img in e.overlays:
        assert isinstance(img, np.ndarray) and img.shape == (224, 224, 3) and img.dtype == np.uint8


def test_explain_another_target(analyses):
    a = analyses["keypoints"]
    other = next(c for c in gaitlab.CLASSES if c != a.label)
    e = gaitlab.explain(a, method="gradcam", target=other)
    assert e.target == other and e.maps.shape == (8, 224, 224)
    assert not np.array_equal(e.maps, gaitlab.explain(a, method="gradcam").maps)
