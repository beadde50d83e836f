"""Streamlit serves many sessions from one process with one cached model, and Captum attaches
hooks to the model it explains. Eight analyses and Grad-CAM explanations of eight different
cases, started together from eight threads, must give exactly what they give one by one, and
leave the shared model untouched.
"""
from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from gaitlab.constants import CLASSES
from gaitlab.explanations import explain
from gaitlab.inference import analyze, get_model

pytestmark = pytest.mark.timeout(600)
THREADS = 8


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[tuple[Path, str]]:
    """Eight small, different cases: four videos and four keypoint CSVs, each with its note."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints, write_keypoint_csv
    from gaitlab.synth.walker_video import render_walk_video

    folder = tmp_path_factory.mktemp("concurrent")
    variants = [
        WalkerParams(),
        WalkerParams(speed=0.5, cadence=90.0, step_length=0.33, asymmetry=0.6),
        WalkerParams(trunk_flexion=20.0, arm_swing=8.0, knee_flexion=40.0),
        WalkerParams(direction=-1, start_x=0.85, height=0.45, speed=1.0, cadence=115.0, step_length=0.52),
    ]
    notes = ["", "right knee pain for two years", "tremor of the left hand, slow to start walking",
             "walks with a cane since a stroke"]
    out = []
    for k, params in enumerate(variants):
        video = folder / f"walker_{k}.{'mp4' if k % 2 == 0 else 'avi'}"
        seq = walk_keypoints(params, n_frames=45, fps=25.0, aspect=192 / 144)
        render_walk_video(video, [seq], width=192, height=144, fps=25.0, seed=k)
        out.append((video, notes[k]))
    for k, params in enumerate(variants):
        csv = folder / f"walker_{k}.csv"
        write_keypoint_csv(csv, walk_keypoints(params, n_frames=50 + 10 * k, fps=30.0))
        out.append((csv, notes[::-1][k]))
    assert len(out) == THREADS
    return out


def run_case(model, path: Path, note: str) -> dict:
    analysis = analyze(path, note, model=model)
    explanation = explain(analysis, method="gradcam", model=model)
    return {
        "label": analysis.label,
        "probabilities": np.array([analysis.probabilities[c] for c in CLASSES]),
        "clips": np.array([[c.probabilities[k] for k in CLASSES] for c in analysis.clips]),
        "maps": explanation.maps,
        "importance": explanation.frame_importance,
        "target_probability": explanation.target_probability,
    }


def hooks_and_grads(model: torch.nn.Module) -> tuple[int, int]:
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                for m in model.modules())
    grads = sum(p.grad is not None for p in model.parameters())
    return hooks, grads


def assert_same(one: dict, other: dict, what: str) -> None:
    assert one["label"] == other["label"], what
    assert np.array_equal(one["probabilities"], other["probabilities"]), (
        what, np.abs(one["probabilities"] - other["probabilities"]).max())
    assert np.array_equal(one["clips"], other["clips"]), what
    assert one["maps"].shape == other["maps"].shape == (8, 224, 224)
    assert np.abs(one["maps"] - other["maps"]).max() <= 1e-6, (
        what, float(np.abs(one["maps"] - other["maps"]).max()))
    assert np.allclose(one["importance"], other["importance"], rtol=0, atol=1e-6), what
    assert one["target_probability"] == other["target_probability"], what


def test_parallel_analyses_and_explanations_match_sequential(cases, random_weights):
    model = get_model(random_weights)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training

    sequential = [run_case(model, path, note) for path, note in cases]
    # The eight cases differ, so a mix-up between threads could not go unnoticed.
    assert len({r["probabilities"].tobytes() for r in sequential}) == THREADS

    barrier = threading.Barrier(THREADS)

    def worker(k: int) -> dict:
        barrier.wait(timeout=60)  # all eight start together
        path, note = cases[k]
        return run_case(model, path, note)

    for round_ in range(2):
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            parallel = list(pool.map(worker, range(THREADS)))
        for k, (seq_result, par_result) in enumerate(zip(sequential, parallel)):
            assert_same(seq_result, par_result, f"round {round_}, case {cases[k][0].name}")

    # The shared model is untouched: no hooks left, no gradients, same mode, same weights.
    assert hooks_and_grads(model) == (0, 0)
    assert model.training == was_training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_model_cache_loads_once_under_contention(random_weights, tmp_path):
    """Eight sessions asking for a not-yet-loaded model at the same moment get one shared
    instance (the cache holds a lock while it loads)."""
    weights = tmp_path / "fresh.safetensors"
    shutil.copy(random_weights, weights)
    card = Path(random_weights).with_suffix(".json")
    if card.exists():
        shutil.copy(card, weights.with_suffix(".json"))
    barrier = threading.Barrier(THREADS)

    def load(_):
        barrier.wait(timeout=60)
        return get_model(weights)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        models = list(pool.map(load, range(THREADS)))
    assert all(m is models[0] for m in models)
