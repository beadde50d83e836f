"""The warning when a walk's clips contradict each other (`gaitlab.consistency`)."""
from __future__ import annotations

import numpy as np

from gaitlab.consistency import disagreement_warning
from gaitlab.constants import CLASSES, DISPLAY_NAMES


def clips(labels: list[str], sure: float = 0.8) -> np.ndarray:
    out = np.full((len(labels), len(CLASSES)), (1 - sure) / (len(CLASSES) - 1))
    for i, label in enumerate(labels):
        out[i, CLASSES.index(label)] = sure
    return out


SPANS = [(i * 1.0, i * 1.0 + 1.2) for i in range(8)]


def test_two_stretches_of_two_classes_are_named_in_order():
    probs = clips(["KOA_Early"] * 4 + ["Disabled_NonAssistive"] * 4)
    text = disagreement_warning(probs, SPANS, in_seconds=True)
    assert text.startswith("The walk's clips disagree: ")
    first, second = DISPLAY_NAMES["KOA_Early"], DISPLAY_NAMES["Disabled_NonAssistive"]
    assert text.index(first) < text.index(second)
    assert "4 clips between 0.0 and 4.2 s" in text and "4 clips between 4.0 and 8.2 s" in text


def test_one_wavering_clip_or_unsure_clips_are_no_contradiction():
    assert disagreement_warning(clips(["Normal"] * 7 + ["PD_Mild"]), SPANS, True) is None
    assert disagreement_warning(clips(["Normal"] * 4 + ["PD_Mild"] * 4, sure=0.4), SPANS, True) is None
    assert disagreement_warning(clips(["Normal"] * 8), SPANS, True) is None
    assert disagreement_warning(clips(["Normal", "PD_Mild", "Normal"]), SPANS[:3], True) is None  # too few clips


def test_frames_when_the_rate_is_unknown():
    spans = [(i * 30, i * 30 + 35) for i in range(6)]
    text = disagreement_warning(clips(["PD_Early"] * 3 + ["KOA_Mild"] * 3), spans, in_seconds=False)
    assert "3 clips between frames 0 and 95" in text and "3 clips between frames 90 and 185" in text
