"""The clinical-note embedder: a deterministic hashed bag of word and character n-grams.

Contract: `embed_note(text)` → float32 [384], L2-normalised, all zeros for an empty note.
Notes that share words or word pieces ("knee pain", "painful knees") land close; unrelated
notes land far apart. Hashing uses CRC-32 (stable across processes and machines), never
Python's salted `hash()`, and needs no model download.
"""
from __future__ import annotations

import math
import re
import unicodedata
import zlib

import numpy as np

from gaitlab.constants import EMBED_DIM, MAX_NOTE_CHARS
from gaitlab.errors import InputError

NAME = "hashed-ngrams-v1"
# Word n-grams carry meaning; character n-grams make spelling variants and inflections
# ("walker"/"walking", "stiff"/"stiffness") overlap. Weights balance the two families.
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (3, 4, 5)
WORD_WEIGHT = 1.0
CHAR_WEIGHT = 0.7
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of `text` after Unicode normalisation."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return _TOKEN.findall(text)


def _features(tokens: list[str]) -> list[tuple[str, float]]:
    feats: list[tuple[str, float]] = []
    for n in WORD_NGRAMS:
        for i in range(len(tokens) - n + 1):
            feats.append(("w" + " ".join(tokens[i : i + n]), WORD_WEIGHT))
    for tok in tokens:
        padded = f"<{tok}>"
        grams = [padded[i : i + n] for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)]
        if grams:
            w = CHAR_WEIGHT / np.sqrt(len(grams))  # long words do not outweigh short ones
            feats.extend(("c" + g, w) for g in grams)
    return feats


def note_text(note: object) -> str:
    """A note as text: str as is, None or a missing value (NaN) as "", bytes decoded as UTF-8
    (undecodable bytes replaced). Anything else is an InputError: a number or a list is not a
    clinical note, and embedding its repr would silently invent one."""
    if note is None:
        return ""
    if isinstance(note, str):
        return note
    if isinstance(note, (bytes, bytearray, memoryview)):
        return bytes(note).decode("utf-8", errors="replace")
    if isinstance(note, float) and math.isnan(note):  # a missing table cell
        return ""
    raise InputError(f"The clinical note must be text, not {type(note).__name__}.")


def embed_note(text: str | None, dim: int = EMBED_DIM) -> np.ndarray:
    """Embed one note: float32 [dim], unit length (zeros for an empty or missing note).

    Notes longer than `MAX_NOTE_CHARS` are embedded from their first `MAX_NOTE_CHARS`
    characters (the caller warns). See `note_text` for what counts as a note.
    """
    vec = np.zeros(dim, dtype=np.float64)
    text = note_text(text)
    if not text:
        return vec.astype(np.float32)
    tokens = tokenize(text[:MAX_NOTE_CHARS])
    for feat, weight in _features(tokens):
        h = zlib.crc32(feat.encode("utf-8"))
        sign = 1.0 if (h >> 31) & 1 else -1.0  # signed hashing keeps collisions unbiased
        vec[h % dim] += sign * weight
    norm = np.linalg.norm(vec)
    if norm > 0:
        vec /= norm
    return vec.astype(np.float32)


def embed_notes(texts: list[str]) -> np.ndarray:
    """Embed several notes: float32 [N, EMBED_DIM]."""
    return np.stack([embed_note(t) for t in texts]) if texts else np.zeros((0, EMBED_DIM), np.float32)
