"""Synthetic clinical notes for training the text branch without leaking the label.

A note is a few phrases drawn from cue pools (complaints, history, device use, demographics).
Each class makes some cues more likely, but every cue also appears for other classes, many
notes carry no class cue at all, a share are deliberately misleading, and `drop_rate` of all
samples get no note. The diagnosis itself is never named. So the note can shift the answer
but cannot decide it; the video has to.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gaitlab import text
from gaitlab.constants import CLASSES, EMBED_DIM

# Cue pools: phrases a referral or intake note might contain.
CUES: dict[str, list[str]] = {
    "knee": [
        "knee pain on walking", "morning stiffness in the knees", "knee swelling after activity",
        "crepitus in the knee", "pain climbing stairs", "knee gives way at times",
    ],
    "knee_severe": [
        "constant knee pain, also at rest", "visible varus deformity of the knee",
        "cannot walk more than a few minutes", "awaiting knee replacement assessment",
    ],
    "tremor": [
        "resting tremor of the hand", "slowness of movement", "small handwriting",
        "soft voice noted by family", "reduced facial expression",
    ],
    "pd_severe": [
        "episodes of freezing at doorways", "several falls this year", "needs help to turn",
        "shuffling steps reported by carer",
    ],
    "device": [
        "walks with a cane", "uses a walking frame outdoors", "uses crutches",
        "relies on a rollator",
    ],
    "disability": [
        "history of stroke", "spinal injury in the past", "weakness of one leg",
        "cerebral palsy since childhood", "drags one foot",
    ],
    "healthy": [
        "no complaints", "routine check-up", "active, plays sport weekly", "no walking problems",
    ],
    "neutral": [
        "hypertension, treated", "type 2 diabetes", "lives independently", "retired teacher",
        "referred by GP", "no medication changes", "mild back pain", "sleeps poorly",
    ],
}

# Class → (cue pool, probability that a note of this class draws from it).
CLASS_CUES: dict[str, list[tuple[str, float]]] = {
    "Normal": [("healthy", 0.5), ("knee", 0.08)],
    "KOA_Early": [("knee", 0.45), ("healthy", 0.15)],
    "KOA_Mild": [("knee", 0.55), ("knee_severe", 0.1), ("device", 0.05)],
    "KOA_Severe": [("knee", 0.5), ("knee_severe", 0.35), ("device", 0.15)],
    "PD_Early": [("tremor", 0.45), ("healthy", 0.1)],
    "PD_Mild": [("tremor", 0.55), ("pd_severe", 0.1)],
    "PD_Severe": [("tremor", 0.5), ("pd_severe", 0.4), ("device", 0.15)],
    "Disabled_Assistive": [("disability", 0.5), ("device", 0.45)],
    "Disabled_NonAssistive": [("disability", 0.5), ("device", 0.08)],
}

AGE_RANGE: dict[str, tuple[int, int]] = {
    "Normal": (20, 75), "KOA_Early": (40, 75), "KOA_Mild": (45, 80), "KOA_Severe": (50, 85),
    "PD_Early": (45, 75), "PD_Mild": (50, 80), "PD_Severe": (55, 85),
    "Disabled_Assistive": (18, 80), "Disabled_NonAssistive": (18, 80),
}

DEFAULT_DROP_RATE = 0.5  # half the training samples see no note at all
MISLEADING_RATE = 0.15  # notes whose cues come from a different, random class


def make_note(label: str, rng: np.random.Generator, drop_rate: float = DEFAULT_DROP_RATE) -> str:
    """One synthetic note for a case of class `label` ("" when the note is dropped)."""
    if rng.random() < drop_rate:
        return ""
    source = label
    if rng.random() < MISLEADING_RATE:
        source = CLASSES[int(rng.integers(len(CLASSES)))]
    phrases: list[str] = []
    lo, hi = AGE_RANGE[source]
    if rng.random() < 0.6:
        sex = "woman" if rng.random() < 0.5 else "man"
        phrases.append(f"{int(rng.integers(lo, hi + 1))}-year-old {sex}")
    for pool, p in CLASS_CUES[source]:
        if rng.random() < p:
            phrases.append(str(rng.choice(CUES[pool])))
    n_neutral = int(rng.integers(0, 3))
    phrases.extend(str(p) for p in rng.choice(CUES["neutral"], size=n_neutral, replace=False))
    if not phrases:
        return ""
    rng.shuffle(phrases)
    note = ", ".join(phrases)
    return note[0].upper() + note[1:] + "."


# --- Embedding notes for training ------------------------------------------------------------

NOTE_BANK_SIZE = 240  # different notes per class that training draws from
EMBEDDING_CACHE = Path(__file__).resolve().parents[2] / "weights" / "experiments" / "note_embeddings.npz"


def note_bank(per_class: int = NOTE_BANK_SIZE, seed: int = 0) -> list[list[str]]:
    """Per class id, `per_class` notes as `make_note` writes them (never dropped; misleading
    ones included). Training draws from this bank so that every note is embedded once."""
    rng = np.random.default_rng([seed, 7])
    return [[make_note(label, rng, drop_rate=0.0) for _ in range(per_class)] for label in CLASSES]


def shared_embeddings() -> NoteEmbeddings:
    """The process's one `NoteEmbeddings` on `EMBEDDING_CACHE`."""
    global _SHARED
    if _SHARED is None:
        _SHARED = NoteEmbeddings()
    return _SHARED


class NoteEmbeddings:
    """Note text → float32 [384] embedding, computed once by `text.embed_notes` and kept on disk.

    MiniLM takes tens of milliseconds a note on two cores, and training sees the same notes
    every epoch and every fold: `path` (an .npz of texts and vectors, tagged with the embedder's
    name and model hash) carries them between runs. The empty note is zeros.
    """

    def __init__(self, path: Path | None = EMBEDDING_CACHE) -> None:
        self.path, self._lock = path, threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}
        self._tag = f"{text.NAME}:{text.MODEL_SHA256}"
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                if str(z["tag"]) == self._tag:
                    self._vectors = dict(zip(z["texts"].tolist(), z["vectors"]))

    def __call__(self, notes: Sequence[str]) -> np.ndarray:
        """float32 [N, 384] for `notes` (embedding the ones not seen before, in one batch)."""
        with self._lock:
            missing = list(dict.fromkeys(n for n in notes if n and n not in self._vectors))
            if missing:
                for note, vec in zip(missing, text.embed_notes(missing)):
                    self._vectors[note] = vec
                self._save()
            zeros = np.zeros(EMBED_DIM, np.float32)
            return np.stack([self._vectors[n] if n else zeros for n in notes]).astype(np.float32)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, tag=np.array(self._tag), texts=np.array(list(self._vectors)),
                 vectors=np.stack(list(self._vectors.values())))
        tmp.replace(self.path)


_SHARED: NoteEmbeddings | None = None
