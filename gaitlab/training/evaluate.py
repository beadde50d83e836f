"""Evaluation with the shipped model: `python -m gaitlab evaluate --data DIR [--json]`.

Scores every walk of a folder in the shared gait-keypoints format (metadata.csv +
keypoints.npz), video-only and with a synthetic note. On the training data itself only the
subjects the weights never saw (their card's hold-out fold) are scored, so the figures stay
honest. `--protocol` runs DESIGN.md's full cross-validation instead (`gaitlab.training.protocol`).

`held_out_faithfulness` checks Grad-CAM's faithfulness on subjects the model never saw: for
each held-out walk, blank the 10% of pixels Grad-CAM ranks highest in every frame, and
compare the drop of the predicted class's probability with blanking 10% random pixels.
`python -m gaitlab.training.evaluate` measures it for the shipped weights on their own hold-out fold
and records the figure in the model card (which the Explain page shows).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from gaitlab.training.dataset import DEFAULT_DATA_DIR, GaitData, load_gait_data, subject_folds
from gaitlab.errors import InputError
from gaitlab.inference import keypoint_sequence_clips, score_case
from gaitlab.training.protocol import add_protocol_arguments
from gaitlab.weights import card_path, default_weights, load_model


def held_out_faithfulness(model: nn.Module, data: GaitData, rows: np.ndarray, fraction: float = 0.10) -> dict[str, Any]:
    """Mean Grad-CAM faithfulness over the walks `rows` (video-only, predicted class)."""
    from gaitlab.explanations import explain, faithfulness  # Captum loads only when needed

    top, rand = [], []
    for row in rows:
        analysis = score_case(keypoint_sequence_clips(data.sequence(int(row))), "", model, name=str(row))
        check = faithfulness(analysis, explain(analysis, "gradcam", model=model), fraction=fraction, model=model)
        top.append(check.top_drop)
        rand.append(check.random_drop)
    top_mean, rand_mean = float(np.mean(top)), float(np.mean(rand))
    return {
        "method": "gradcam", "fraction": fraction, "cases": len(rows),
        "top_drop": top_mean, "random_drop": rand_mean, "ratio": top_mean / max(rand_mean, 1e-6),
        "cases_with_top_above_2x_random": int(np.sum(np.array(top) >= 2 * np.array(rand))),
    }


def record_card_faithfulness(weights=None, data_dir=DEFAULT_DATA_DIR) -> dict[str, Any]:
    """Measure faithfulness on subjects the model never saw and store it in the weights' card.

    Weights with a hold-out fold are measured on it. All-data weights have none: they are
    measured through the fold-0 model of the same recipe from the protocol's cache (trained
    without fold 0's subjects), with the shipped calibration temperature.
    """
    path = default_weights() if weights is None else weights
    model = load_model(path)
    card = model.card
    fold = card.get("protocol", {}).get("val_fold", -1)
    data = load_gait_data(data_dir)
    seed = card.get("training", {}).get("config", {}).get("seed", 0)
    if fold is not None and fold >= 0:
        probe, split = model, f"subject-grouped fold {fold} of 5 (subjects never seen in training)"
    elif card.get("cross_validation"):
        from gaitlab.training.protocol import DEFAULT_CACHE, fold_record_path, fold_weights_path
        from gaitlab.training.train import TrainConfig

        fold, recipe = 0, card["cross_validation"]["recipe"]
        config = TrainConfig(**card["training"]["config"])
        fold_model = fold_weights_path(fold_record_path(DEFAULT_CACHE, recipe, fold, config))
        if not fold_model.is_file():
            raise InputError(f"no fold-0 model of recipe {recipe!r} in {fold_model.parent}: run the protocol with "
                             f"these weights' settings first ({card['cross_validation'].get('command')}).")
        probe = load_model(fold_model)
        probe.card["calibration"] = card.get("calibration", {})
        split = (f"subject-grouped fold 0 of 5, scored by the protocol's fold-0 model of recipe {recipe!r} (trained "
                 "without these subjects; the shipped weights saw every subject)")
    else:
        raise ValueError("these weights were trained on all subjects and have no protocol run: nothing held out to measure on")
    _, val_idx = subject_folds(data.meta, 5, seed)[fold]
    result = held_out_faithfulness(probe, data, val_idx)
    result["split"] = split
    card["faithfulness"] = result
    card_path(path).write_text(json.dumps(card, indent=2) + "\n")
    return result


def rows_to_score(card: dict[str, Any], data: GaitData) -> tuple[np.ndarray, str]:
    """All rows, or only the card's held-out subjects when `data` is the weights' training data."""
    fold = card.get("protocol", {}).get("val_fold", -1)
    same_data = data.root is not None and Path(data.root).resolve() == Path(DEFAULT_DATA_DIR).resolve()
    if same_data and fold is not None and fold >= 0:
        seed = card.get("training", {}).get("config", {}).get("seed", 0)
        return subject_folds(data.meta, 5, seed)[fold][1], f"held-out subjects of fold {fold} (the training data)"
    if same_data:
        return np.arange(len(data.meta)), "all walks: WARNING, the weights were trained on these"
    return np.arange(len(data.meta)), "all walks of the folder"


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR), help="folder with metadata.csv and keypoints.npz")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    add_protocol_arguments(parser)


def run_evaluate(args: argparse.Namespace) -> int:
    from gaitlab.training.train import evaluate_student

    if getattr(args, "protocol", False):
        from gaitlab.training.protocol import run_protocol_command
        return run_protocol_command(args)

    model = load_model(args.weights)
    data = load_gait_data(args.data)
    rows, scope = rows_to_score(model.card, data)
    result = {"data": str(args.data), "scope": scope, **evaluate_student(model, data, rows)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['n_videos']} walks of {result['n_subjects']} subjects ({scope})")
    for name in ("video_only", "fused"):
        m = result[name]
        print(f"{name:>10}: accuracy {m['accuracy']:.3f}  balanced {m['balanced_accuracy']:.3f}  "
              f"macro-F1 {m['macro_f1']:.3f}  ECE {m['ece']:.3f}")
    return 0


if __name__ == "__main__":
    import sys

    try:
        print(json.dumps(record_card_faithfulness(), indent=2))
    except (InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
