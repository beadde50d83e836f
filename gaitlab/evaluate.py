"""Evaluation on held-out subjects with the shipped model (the protocol grows here).

`held_out_faithfulness` checks Grad-CAM's faithfulness on subjects the model never saw: for
each held-out walk, blank the 10% of pixels Grad-CAM ranks highest in every frame, and
compare the drop of the predicted class's probability with blanking 10% random pixels.
`python -m gaitlab.evaluate` measures it for the shipped weights on their own hold-out fold
and records the figure in the model card (which the Explain page shows).
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
from torch import nn

from .dataset import DEFAULT_DATA_DIR, GaitData, load_gait_data, subject_folds
from .explanations import explain, faithfulness
from .inference import keypoint_sequence_clips, score_case
from .weights import card_path, default_weights, load_model


def held_out_faithfulness(model: nn.Module, data: GaitData, rows: np.ndarray, fraction: float = 0.10) -> dict[str, Any]:
    """Mean Grad-CAM faithfulness over the walks `rows` (video-only, predicted class)."""
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
    """Measure faithfulness on the weights' own hold-out fold and store it in their card."""
    path = default_weights() if weights is None else weights
    model = load_model(path)
    card = model.card
    fold = card.get("protocol", {}).get("val_fold", -1)
    if fold is None or fold < 0:
        raise ValueError("these weights were trained on all subjects: no held-out fold to measure on")
    data = load_gait_data(data_dir)
    _, val_idx = subject_folds(data.meta, 5, card.get("training", {}).get("config", {}).get("seed", 0))[fold]
    result = held_out_faithfulness(model, data, val_idx)
    result["split"] = f"subject-grouped fold {fold} of 5 (subjects never seen in training)"
    card["faithfulness"] = result
    card_path(path).write_text(json.dumps(card, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(record_card_faithfulness(), indent=2))
