"""Calibration of the model's answers: how sure an answer is, never which class it is.

- `temperature(model)` / `calibrate(probs, t)`: temperature scaling of probabilities
  [..., 9] (softmax(log p / t)); one clip's answer uses it (the timeline, note ablations).
- `top_label(model)` / `calibrate_top_label(probs, slope, intercept)`: top-label Platt scaling
  (Gupta & Ramdas, ICLR 2022), the shipped weights' calibration of a walk's answer.
- `walk_probabilities(clip_probs [n, 9], t, top)`: a walk's answer [9] from its clips.
The fitted numbers live in the model card (`model.card["calibration"]`), written by
`training.protocol`.
"""
from __future__ import annotations

import numpy as np
from torch import nn


def temperature(model: nn.Module) -> float:
    """Calibration temperature from the model card (1.0 when the card has none)."""
    card = getattr(model, "card", {}) or {}
    return float(card.get("calibration", {}).get("temperature", 1.0))


def calibrate(probs: np.ndarray, t: float) -> np.ndarray:
    """Temperature scaling of probabilities [..., 9]: softmax(log p / t), i.e. p^(1/t)
    renormalised. For one clip it is softmax(logits / t); for a walk it is applied to the mean
    of its clips' probabilities, so calibration changes how sure an answer is, never which
    class it is."""
    z = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None)) / t
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def top_label(model: nn.Module) -> tuple[float, float] | None:
    """Top-label calibration (slope, intercept) from the model card, or None when it has none."""
    card = getattr(model, "card", {}) or {}
    fit = card.get("calibration", {}).get("top_label")
    return None if not fit else (float(fit["slope"]), float(fit["intercept"]))


def calibrate_top_label(probs: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Top-label Platt scaling of probabilities [..., 9]: the top class's probability p becomes
    sigmoid(slope · logit(p) + intercept) and the other classes share the rest in their old
    proportions. The top class stays on top (its new probability is kept above the runner-up's
    rescaled one), so the answer never changes; (1, 0) leaves the probabilities as they are."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None)
    p = p / p.sum(axis=-1, keepdims=True)
    k = p.argmax(axis=-1)[..., None]
    top = np.take_along_axis(p, k, axis=-1)
    q = np.clip(top, 1e-6, 1 - 1e-6)
    new = 1.0 / (1.0 + np.exp(-(slope * np.log(q / (1 - q)) + intercept)))
    second = np.sort(p, axis=-1)[..., -2:-1]
    new = np.maximum(new, second / (1.0 - top + second) + 1e-6)  # the rescaled runner-up stays below
    out = p * (1.0 - new) / np.maximum(1.0 - top, 1e-12)
    np.put_along_axis(out, k, new, axis=-1)
    return out / out.sum(axis=-1, keepdims=True)


def walk_probabilities(clip_probs: np.ndarray, t: float, top: tuple[float, float] | None = None) -> np.ndarray:
    """A walk's calibrated probabilities [9] from its clips' uncalibrated ones [n, 9]: the clips'
    mean, scaled by the top-label calibration `top` (slope, intercept) where there is one (the
    shipped weights'), else by temperature `t` (`calibrate`)."""
    mean = np.asarray(clip_probs).mean(axis=0)
    return calibrate(mean, t) if top is None else calibrate_top_label(mean, *top)


__all__ = ["calibrate", "calibrate_top_label", "temperature", "top_label", "walk_probabilities"]
