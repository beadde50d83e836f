"""Does a walk's answer hold across its clips? A warning when the clips contradict each other.

A walk's answer is the mean of its clips' probabilities (`calibration.walk_probabilities`).
When one stretch of the walk reads as one class and another stretch as another, the mean hides
it: on `walker_alone.mp4` every clip of her right-to-left pass read one class and every clip of
her left-to-right pass another. `disagreement_warning(clip_probs [n, 9], spans)` names the
classes and where they occur, so the answer says so instead of averaging it away.
"""
from __future__ import annotations

import numpy as np

from gaitlab.constants import CLASSES, DISPLAY_NAMES

# A class "holds" a stretch when it is the top class of at least this many clips, this share
# of the usable clips, each at least this sure: a single wavering clip is no contradiction.
MIN_CLIPS, MIN_SHARE, MIN_CONFIDENCE = 2, 0.25, 0.5


def disagreement_warning(clip_probs: np.ndarray, spans: list[tuple[float, float]], in_seconds: bool) -> str | None:
    """A plain warning when two or more classes each hold a stretch of the walk, or None.

    `clip_probs` [n, 9]: the usable clips' calibrated probabilities; `spans`: each clip's start
    and end, in seconds when `in_seconds`, else in source frames."""
    probs = np.asarray(clip_probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) < 2 * MIN_CLIPS:
        return None
    top, sure = probs.argmax(axis=1), probs.max(axis=1)
    held = []
    for k in np.unique(top):
        clips = np.flatnonzero((top == k) & (sure >= MIN_CONFIDENCE))
        if len(clips) >= MIN_CLIPS and len(clips) >= MIN_SHARE * len(probs):
            held.append((int(k), clips))
    if len(held) < 2:
        return None

    def where(clips: np.ndarray) -> str:
        start, end = min(spans[i][0] for i in clips), max(spans[i][1] for i in clips)
        if in_seconds:
            return f"{len(clips)} clips between {start:.1f} and {end:.1f} s"
        return f"{len(clips)} clips between frames {start:.0f} and {end:.0f}"

    held.sort(key=lambda h: min(spans[i][0] for i in h[1]))  # in the order they occur
    parts = [f"{DISPLAY_NAMES[CLASSES[k]]} ({where(clips)})" for k, clips in held]
    return ("The walk's clips disagree: " + "; ".join(parts) + ". The answer averages them; look at the "
            "timeline, and read the answer with care (a turn, a change of direction or of walker can do this).")


__all__ = ["disagreement_warning"]
