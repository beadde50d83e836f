"""gaitlab.training.notes: synthetic training notes never name the diagnosis.

The text branch is trained on these notes. If a note named the class (its id, its display name
or an obvious paraphrase), the model would learn to read the answer off the note instead of the
walk. Checked over every phrase a note can draw from and over thousands of generated notes per
class, for several seeds and drop rates. `leaks` is itself tested on known-bad phrases, so a
checker that stopped matching would fail here too.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from gaitlab.constants import CLASSES, DISPLAY_NAMES
from gaitlab.training import notes
from gaitlab.training.notes import make_note

SEEDS = (0, 1, 2, 7, 42)
DROP_RATES = (0.0, 0.5, 0.9)
NOTES_PER_RUN = 1000  # per class, seed and drop rate: 15 000 calls per class


def _word(pattern: str) -> str:
    """`pattern` as a whole word: no letter or digit right before or after it (an underscore
    counts as a break, so `KOA_Early` contains the word `KOA`)."""
    return rf"(?<![a-z0-9]){pattern}(?![a-z0-9])"


# Diagnosis words: the class ids' parts and their plain-language paraphrases.
DIAGNOSIS_WORDS = [
    r"koa", r"oa", r"pd", r"osteo-?arthr\w*", r"arthrit\w*", r"arthros\w*", r"gonarthros\w*",
    r"parkinson\w*", r"disabled", r"disabilit\w*", r"handicap\w*", r"normal", r"healthy",
    r"(?:non-?)?assistive", r"diagnos\w*", r"hoehn", r"yahr", r"kellgren", r"severity",
]
# Stage words next to something diagnosis-like (within one phrase, at most two words between):
# "mild back pain" is a neutral cue, "mild knee pain" or "severe parkinsonian gait" is not.
STAGE = r"(?:early|mild|moderate|severe|advanced|late|end-stage|stage|grade)"
STAGE_TARGET = r"(?:knee|knees|gait|walk|tremor|disease|parkinson\w*|osteo-?arthr\w*|arthrit\w*|oa|koa|pd|disab\w*)"
BETWEEN = r"(?:[\w'-]+\s+){0,2}"

FORBIDDEN: list[tuple[str, re.Pattern[str]]] = (
    [(f"class id {c}", re.compile(_word(re.escape(c.lower()).replace("_", "[ _-]?")))) for c in CLASSES]
    + [(f"display name {n!r}", re.compile(re.escape(n.lower()))) for n in DISPLAY_NAMES.values()]
    + [(f"diagnosis word /{w}/", re.compile(_word(w))) for w in DIAGNOSIS_WORDS]
    + [("stage word before a diagnosis", re.compile(_word(STAGE) + r"\s+" + BETWEEN + _word(STAGE_TARGET))),
       ("stage word after a diagnosis", re.compile(_word(STAGE_TARGET) + r"\s+" + BETWEEN + _word(STAGE))),
       ("stage number", re.compile(_word(r"(?:stage|grade)\s*(?:[0-5]|i{1,3}|iv|v)")))]
)


def leaks(note: str) -> list[str]:
    """What in `note` names or paraphrases a diagnosis (empty list: nothing)."""
    text = note.lower()
    return [name for name, pattern in FORBIDDEN if pattern.search(text)]


@pytest.mark.parametrize("bad", [
    "KOA_Early", "koa early", "PD_Severe", "Disabled_NonAssistive", "disabled assistive", "Normal",
    "Knee osteoarthritis, early", "parkinson's disease, mild", "Normal gait", "normal gait pattern",
    "osteoarthritis", "Osteo-arthritis of the right knee", "arthritis", "knee OA", "OA of both knees", "PD",
    "known PD", "early PD.", "Parkinson", "parkinsonian features", "disabled since birth", "a disability",
    "severe knee pain", "mild tremor", "knee changes advanced", "advanced disease", "Hoehn and Yahr stage 3",
    "KL grade 2", "healthy volunteer", "uses an assistive device", "diagnosed last year",
])
def test_the_checker_catches_known_leaks(bad):
    assert leaks(bad), f"the leak checker missed {bad!r}"
    assert leaks(f"62-year-old woman, {bad}, lives independently."), bad


@pytest.mark.parametrize("fine", [
    "Mild back pain, knee pain on walking.", "Mild back pain, tremor of the hand.", "Crepitus in the knee, mild back pain.", "Knee gives way at times.",
    "Walks with a cane, history of stroke.", "Update on a load-bearing open road, a panda.", "Soft voice noted by family.",
])
def test_the_checker_passes_plain_notes(fine):
    assert leaks(fine) == []


def test_no_cue_phrase_names_the_diagnosis():
    """Every phrase a note can be made of, exhaustively."""
    phrases = [p for pool in notes.CUES.values() for p in pool]
    assert len(phrases) >= 30
    bad = {p: leaks(p) for p in phrases if leaks(p)}
    assert not bad, f"cue phrases that name the diagnosis: {bad}"


@pytest.mark.parametrize("label", CLASSES)
def test_generated_notes_never_name_the_diagnosis(label):
    seen: dict[str, int] = {}
    for seed in SEEDS:
        for drop_rate in DROP_RATES:
            rng = np.random.default_rng([seed, CLASSES.index(label)])
            for _ in range(NOTES_PER_RUN):
                note = make_note(label, rng, drop_rate=drop_rate)
                if note:
                    seen[note] = seen.get(note, 0) + 1
    total = sum(seen.values())
    assert total >= 5000, f"only {total} non-empty notes for {label}: the check would prove little"
    assert len(seen) >= 200, f"only {len(seen)} distinct notes for {label}"
    bad = {n: leaks(n) for n in seen if leaks(n)}
    assert not bad, f"{len(bad)} notes of class {label} name the diagnosis, e.g. {next(iter(bad.items()))}"
