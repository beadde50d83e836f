"""How much does the clinical note move the answer? Note ablations and word attributions.

Both tools score ONE clip — `analysis.clip`, the main clip of the case (the clip that most
supports the overall answer) — rather than every clip: one forward pass per variant instead of
up to 12, so the page answers at once. Its probabilities can therefore differ a little from
`analysis.probabilities`, which average over all clips.

Probabilities are calibrated exactly as in inference: softmax(logits / temperature), with the
temperature from the model card (`calibration.temperature`).

Tensor contract of `word_attribution` (integrated gradients through the note encoder):
  note → `text.token_inputs` → input_ids, attention_mask int64 [1, L] ([CLS] … [SEP], L ≤ 256)
  → MiniLM's token embedding layer → x float32 [1, L, 384]; baseline x0: the same ids with the
    attributed words' pieces replaced by [PAD] ([CLS], [SEP] and punctuation kept)
  → path points x0 + α(x − x0), α at `N_STEPS` Gauss-Legendre nodes, `STEPS_PER_BATCH` a pass
  → `text.embed_token_embeddings`: MiniLM transformer → mean pooling over the mask → L2 → [k, 384]
  → the student: model(clip [1, 3, 8, 224, 224] expanded to k, embedding [k, 384]) → logits [k, 9]
  → softmax(logits / temperature)[:, target] → [k]
  attributions [1, L, 384] → summed over the 384 → per word piece [L] → summed per word.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from captum.attr import IntegratedGradients
from torch import nn

from gaitlab.constants import CLASSES, DESCRIPTIONS, DISPLAY_NAMES, EMBED_DIM, class_index
from gaitlab.pipeline.clips import blank_clip
from gaitlab.calibration import temperature
from gaitlab.inference import Analysis, calibrated_probabilities, get_model, note_embedding
from gaitlab.text import TokenInputs, embed_token_embeddings, special_token_ids, token_embedding_layer, token_inputs

PROB_COLUMNS: list[str] = [f"prob_{c}" for c in CLASSES]
TABLE_COLUMNS: list[str] = ["variant", "kind", "note", "predicted", "confidence"] + PROB_COLUMNS
WORD_COLUMNS: list[str] = ["word", "position", "attribution"]
# Integrated-gradients path points: 32 Gauss-Legendre nodes keep the completeness gap (see
# `word_attribution`) well under a percentage point for ordinary notes. Points per forward
# pass: 16 clips ≈ 80 MB of input, so memory stays flat.
N_STEPS = 32
STEPS_PER_BATCH = 16


@dataclass
class NoteAblation:
    """The same clip scored under different notes.

    `table`: one row per variant, columns `TABLE_COLUMNS` — `variant` (a readable name), `kind`
    ("full", "none", "note_only", "counterfactual" or "extra"), `note` (the text used),
    `predicted`, `confidence`, and `prob_<Class>` for all nine classes (each row sums to 1).
    `note_shift`: total-variation distance between the "full note" and "no note" rows — half the
    sum of absolute probability differences, i.e. the largest share of probability the note
    moves between any set of classes (0 = the note changes nothing, 1 = a complete swap).
    """

    table: pd.DataFrame
    note_shift: float
    warnings: list[str] = field(default_factory=list)

    def to_long(self) -> pd.DataFrame:
        """Tidy frame for charts, one row per (variant, class):
        variant, kind, class, display_name, probability."""
        long = self.table.melt(
            id_vars=["variant", "kind"], value_vars=PROB_COLUMNS, var_name="class", value_name="probability"
        )
        long["class"] = long["class"].str.removeprefix("prob_")
        long["display_name"] = long["class"].map(DISPLAY_NAMES)
        return long[["variant", "kind", "class", "display_name", "probability"]]


def note_ablation(
    analysis: Analysis, extra_notes: Sequence[str] = (), model: nn.Module | None = None
) -> NoteAblation:
    """Score the main clip of `analysis` under note variants, all in one forward pass.

    Variants, in table order: "full note" (the case's own note), "no note" (zero embedding),
    "note only" (all-zero frames with the case's note), one counterfactual per class (the note
    replaced by that class's clinical description from `constants.DESCRIPTIONS`), then each of
    `extra_notes` ("your note 1", …). `model` defaults to the shared shipped model; pass the one
    that produced `analysis`. Notes longer than `MAX_NOTE_CHARS` are cut, with a warning.
    """
    model = model if model is not None else get_model()
    full_embedding, warnings = note_embedding(analysis.description)
    zero = torch.zeros(1, EMBED_DIM)

    # (variant, kind, note text, clip [1,3,8,224,224], embedding [1,384])
    variants: list[tuple[str, str, str, torch.Tensor, torch.Tensor]] = [
        ("full note", "full", analysis.description, analysis.clip, full_embedding),
        ("no note", "none", "", analysis.clip, zero),
        ("note only", "note_only", analysis.description, blank_clip(), full_embedding),
    ]
    for c in CLASSES:
        described, _ = note_embedding(DESCRIPTIONS[c])
        variants.append((f"note: {DISPLAY_NAMES[c]}", "counterfactual", DESCRIPTIONS[c], analysis.clip, described))
    for i, note in enumerate(extra_notes, start=1):
        emb, extra_warnings = note_embedding(note)
        warnings += extra_warnings
        variants.append((f"your note {i}", "extra", note, analysis.clip, emb))

    clips = torch.cat([v[3] for v in variants])
    embeddings = torch.cat([v[4] for v in variants])
    probs = calibrated_probabilities(model, clips, embeddings).numpy()

    rows = []
    for (name, kind, note, _, _), p in zip(variants, probs):
        best = int(p.argmax())
        rows.append([name, kind, note, CLASSES[best], float(p[best])] + [float(x) for x in p])
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)

    # An empty note embeds to zeros, so "full" and "none" are the same input: report exactly 0
    # rather than whatever last-bit noise batched arithmetic might leave.
    if not full_embedding.any():
        shift = 0.0
    else:
        shift = 0.5 * float(np.abs(probs[0] - probs[1]).sum())
    return NoteAblation(table=table, note_shift=shift, warnings=list(dict.fromkeys(warnings)))


def word_attribution(
    analysis: Analysis,
    target: str | int | None = None,
    model: nn.Module | None = None,
    max_words: int | None = None,
    n_steps: int = N_STEPS,
) -> pd.DataFrame:
    """Which words of the note push the target class up or down: integrated gradients through
    the note encoder (see the tensor contract in the module docstring).

    Captum `IntegratedGradients` on the output of MiniLM's token embedding layer — the same
    numbers as `LayerIntegratedGradients` on that layer, without hooking the shared encoder —
    from a baseline note whose words are [PAD] pieces (same attention mask) to the note, end
    to end through pooling, normalisation and the student, on the case's main clip. A word's
    attribution is the sum over its word pieces; by completeness the words add up to
    p(target | note) − p(target | baseline), up to `attrs["convergence_delta"]`. Positive means
    the word pushes the target up. Words are split as the encoder splits them (on spaces and
    punctuation); punctuation and symbols stay in the baseline and get no row.

    `target`: class id or index; default the case's predicted class (`analysis.label`).
    `max_words`: attribute only the first this many words (the rest stay in the baseline).
    Only what the encoder reads counts: the first `MAX_NOTE_CHARS` characters, at most 256
    word pieces.
    Returns a DataFrame (word, position, attribution): one row per word in note order, `word`
    as written in the note, `position` counting from 0; empty when the note has no words.
    `attrs`: `target`, and for a non-empty note `full_probability` (the target's probability
    with the note), `baseline_probability` and `convergence_delta` (sum of the attributions
    minus the difference of the two).

    Cost: `n_steps` forward and backward passes through the encoder and the student, batched
    by `STEPS_PER_BATCH` (about a second for a 30-word note on two CPU cores). Nothing is
    hooked or modified, so the shared models are safe to use from several sessions at once.
    """
    model = model if model is not None else get_model()
    target_idx = class_index(target, analysis.label)
    inputs = token_inputs(analysis.description)
    words = note_words(inputs)[:max_words]
    if not words:
        empty = pd.DataFrame({"word": pd.Series(dtype=str), "position": pd.Series(dtype=int),
                              "attribution": pd.Series(dtype=float)})
        empty.attrs["target"] = CLASSES[target_idx]
        return empty

    ids, mask = inputs.input_ids, inputs.attention_mask
    baseline_ids = ids.clone()
    baseline_ids[0, [i for _, pieces in words for i in pieces]] = special_token_ids()["pad"]
    layer = token_embedding_layer()
    with torch.no_grad():
        x, x0 = layer(ids), layer(baseline_ids)
    clip = analysis.clip.detach()
    temp = temperature(model)

    def forward(token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # [k, L, 384], [k, L] → the target's calibrated probability [k]
        embedding = embed_token_embeddings(token_embeddings, attention_mask)
        logits = model(clip.expand(len(embedding), -1, -1, -1, -1), embedding)
        return torch.softmax(logits / temp, dim=1)[:, target_idx]

    with torch.enable_grad():  # callers (e.g. a UI) may be inside no_grad
        attr = IntegratedGradients(forward).attribute(
            x, baselines=x0, additional_forward_args=(mask,), n_steps=n_steps,
            internal_batch_size=STEPS_PER_BATCH)
    with torch.no_grad():
        full, base = forward(torch.cat([x, x0]), mask.expand(2, -1)).double().tolist()
    per_piece = attr[0].double().sum(dim=-1)  # [L]
    scores = [float(per_piece[pieces].sum()) for _, pieces in words]
    frame = pd.DataFrame({"word": [w for w, _ in words], "position": np.arange(len(words)),
                          "attribution": np.asarray(scores, dtype=float)})
    frame.attrs.update(target=CLASSES[target_idx], full_probability=full, baseline_probability=base,
                       convergence_delta=float(per_piece.sum()) - (full - base))
    return frame


def note_words(inputs: TokenInputs) -> list[tuple[str, list[int]]]:
    """The note's words as the encoder reads them, in order: (the word as written, the indices
    of its word pieces). A word is a run of pieces the tokenizer counts as one word that has a
    letter or digit; [CLS], [SEP], punctuation and symbols are not words."""
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(inputs.word_ids):
        if w is not None:
            groups.setdefault(w, []).append(i)
    words = []
    for pieces in groups.values():
        word = inputs.text[inputs.spans[pieces[0]][0]:inputs.spans[pieces[-1]][1]]
        if any(ch.isalnum() for ch in word):
            words.append((word, pieces))
    return words
