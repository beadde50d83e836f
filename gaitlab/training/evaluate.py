"""Evaluation with the shipped model: `python -m gaitlab evaluate --data DIR [--json]`.

`evaluate_shipped(weights, data_dir)` scores every walk of a folder in the shared
gait-keypoints format (metadata.csv + keypoints.npz), video-only and with a synthetic note,
and returns a JSON-ready dict (`train.evaluate_student`'s metrics, plus the data and scope).
On the training data itself only the subjects the weights never saw (their card's hold-out
fold) are scored, so the figures stay honest. `--protocol` runs the full cross-validation
instead (`gaitlab.training.protocol`).

`held_out_faithfulness` checks Grad-CAM's faithfulness on subjects the model never saw: for
each held-out walk, blank the 10% of pixels Grad-CAM ranks highest in every frame, and
compare the drop of the predicted class's probability with blanking 10% random pixels.
`record_card_faithfulness` (`python -m gaitlab evaluate --faithfulness`) measures it for the
shipped weights on their own hold-out fold and records the figure in the model card (which
the Explain page shows).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from gaitlab.errors import InputError
from gaitlab.inference import keypoint_sequence_clips, score_case
from gaitlab.metrics import drop_ratio
from gaitlab.pipeline.clips import to_model_input
from gaitlab.training.dataset import DEFAULT_DATA_DIR, N_FOLDS, GaitData, load_gait_data, subject_folds
from gaitlab.weights import default_weights, load_model, write_card


def _split_of(card: dict[str, Any]) -> tuple[int, int]:
    """(seed, number of folds) of the subject-grouped split the card's weights were trained on."""
    config = card.get("training", {}).get("config", {})
    return config.get("seed", 0), config.get("n_folds", N_FOLDS)


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
        "top_drop": top_mean, "random_drop": rand_mean, "ratio": drop_ratio(top_mean, rand_mean),
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
    seed, n_folds = _split_of(card)
    if fold is not None and fold >= 0:
        probe, split = model, f"subject-grouped fold {fold} of {n_folds} (subjects never seen in training)"
    elif card.get("cross_validation"):
        from gaitlab.training.config import TrainConfig
        from gaitlab.training.protocol import DEFAULT_CACHE, fold_record_path, fold_weights_path

        fold, recipe = 0, card["cross_validation"]["recipe"]
        config = TrainConfig.from_record(card["training"]["config"])
        fold_model = fold_weights_path(fold_record_path(DEFAULT_CACHE, recipe, fold, config))
        if not fold_model.is_file():
            raise InputError(f"no fold-0 model of recipe {recipe!r} in {fold_model.parent}: run the protocol with "
                             f"these weights' settings first ({card['cross_validation'].get('command')}).")
        probe = load_model(fold_model)
        probe.card["calibration"] = card.get("calibration", {})
        n_folds = N_FOLDS  # the protocol's folds
        split = (f"subject-grouped fold 0 of {n_folds}, scored by the protocol's fold-0 model of recipe {recipe!r} (trained "
                 "without these subjects; the shipped weights saw every subject)")
    else:
        raise ValueError("these weights were trained on all subjects and have no protocol run: nothing held out to measure on")
    _, val_idx = subject_folds(data.meta, n_folds, seed)[fold]
    result = held_out_faithfulness(probe, data, val_idx)
    result["split"] = split
    card["faithfulness"] = result
    write_card(path, card)
    return result


def rows_to_score(card: dict[str, Any], data: GaitData) -> tuple[np.ndarray, str]:
    """All rows, or only the card's held-out subjects when `data` is the weights' training data."""
    fold = card.get("protocol", {}).get("val_fold", -1)
    same_data = data.root is not None and Path(data.root).resolve() == Path(DEFAULT_DATA_DIR).resolve()
    if same_data and fold is not None and fold >= 0:
        seed, n_folds = _split_of(card)
        return subject_folds(data.meta, n_folds, seed)[fold][1], f"held-out subjects of fold {fold} (the training data)"
    if same_data:
        return np.arange(len(data.meta)), "all walks: WARNING, the weights were trained on these"
    return np.arange(len(data.meta)), "all walks of the folder"


def evaluate_shipped(weights=None, data_dir=DEFAULT_DATA_DIR) -> dict[str, Any]:
    """Score the model of `weights` (default: the shipped one) on a gait-keypoints folder, video
    only and with a synthetic note; on its own training data only the subjects it never saw."""
    from gaitlab.training.train import evaluate_student

    model = load_model(weights)
    data = load_gait_data(data_dir)
    rows, scope = rows_to_score(model.card, data)
    return {"data": str(data_dir), "scope": scope, **evaluate_student(model, data, rows)}


def description_shift(recipe: str = "student_distilled", data_dir=DEFAULT_DATA_DIR, config=None) -> dict[str, Any]:
    """Do notes move the answer the way a reader expects? On every fold's held-out walks, with
    the protocol's fold models: the mean probability of each class c video-only, and with c's
    clinical description (`constants.DESCRIPTIONS[c]`) given as the note. A class counts as
    `raised` when its description raises its mean probability. JSON-ready."""
    import torch

    from gaitlab.constants import CLASSES, DESCRIPTIONS
    from gaitlab.training.config import TrainConfig
    from gaitlab.training.notes import shared_embeddings
    from gaitlab.training.protocol import DEFAULT_CACHE, fold_record_path, fold_weights_path
    from gaitlab.training.train import clip_log_probabilities

    config = config or TrainConfig()
    data = load_gait_data(data_dir)
    vectors = shared_embeddings()([DESCRIPTIONS[c] for c in CLASSES])
    base, given = np.zeros((len(data.meta), len(CLASSES))), np.zeros((len(data.meta), len(CLASSES)))
    for fold, (_, val_idx) in enumerate(subject_folds(data.meta, N_FOLDS, config.seed)):
        path = fold_weights_path(fold_record_path(DEFAULT_CACHE, recipe, fold, config))
        if not path.is_file():
            raise InputError(f"no fold-{fold} model of recipe {recipe!r} at {path}: run `python -m gaitlab evaluate "
                             "--protocol` with the same settings first.")
        model = load_model(path)
        base[val_idx] = np.stack([np.exp(lp).mean(0) for lp in
                                  clip_log_probabilities(model, data, val_idx, conditions=("video_only",))["video_only"]])
        with torch.no_grad():
            for row in val_idx:
                feats = model.features(torch.cat([to_model_input(f) for _, f in data.plain_clips(int(row))]))
                emb = torch.from_numpy(vectors).repeat_interleave(len(feats), 0)  # [9 * n_clips, 384]
                logits = model.classify(feats.repeat(len(CLASSES), 1), emb).view(len(CLASSES), len(feats), -1)
                probs = torch.softmax(logits, dim=-1).mean(1).numpy()  # [note class, 9]
                given[row] = probs[np.arange(len(CLASSES)), np.arange(len(CLASSES))]
    per_class = {c: {"video_only": float(base[:, k].mean()), "with_description": float(given[:, k].mean())}
                 for k, c in enumerate(CLASSES)}
    raised = [c for c, v in per_class.items() if v["with_description"] > v["video_only"]]
    return {"recipe": recipe, "walks": int(len(data.meta)), "per_class": per_class, "raised": raised,
            "raised_count": len(raised),
            "method": "out-of-fold walks, protocol fold models, temperature 1; mean over all walks of p(c) "
                      "without a note and with DESCRIPTIONS[c] as the note"}


def record_description_shift(config, data_dir: Path, out: Path, command: str) -> list[str]:
    """`gaitlab evaluate --notes`: `description_shift` saved into the protocol record `out`
    (key `note_descriptions`, with the `command`); returns the lines to print."""
    from gaitlab.training.protocol import save_protocol

    result = description_shift(config=config, data_dir=data_dir)
    result["command"] = command
    save_protocol({"note_descriptions": result}, out, command=command)
    lines = [f"{c:>22}  video only {v['video_only']:.3f}  with its description {v['with_description']:.3f}"
             for c, v in result["per_class"].items()]
    return lines + [f"raised for {result['raised_count']} of 9 classes; wrote {out}"]

