"""How much does the clinical note move the answer? Note ablations and word attributions.

Both tools score ONE clip — `analysis.clip`, the main clip of the case (the clip that most
supports the overall answer) — rather than every clip: one forward pass per variant instead of
up to 12, so the page answers at once. Its probabilities can therefore differ a little from
`analysis.probabilities`, which average over all clips.

Probabilities are calibrated exactly as in inference: softmax(logits / temperature), with the
temperature from the model card (`inference.temperature`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from captum.attr import FeatureAblation
from torch import nn

from gaitlab.constants import CLASSES, DESCRIPTIONS, DISPLAY_NAMES, EMBED_DIM, MAX_NOTE_CHARS, class_index
from gaitlab.pipeline.clips import blank_clip
from gaitlab.inference import Analysis, calibrated_probabilities, get_model, note_embedding
from gaitlab.text import embed_note, tokenize

PROB_COLUMNS: list[str] = [f"prob_{c}" for c in CLASSES]
TABLE_COLUMNS: list[str] = ["variant", "kind", "note", "predicted", "confidence"] + PROB_COLUMNS
# Words beyond this many are kept in every variant but not ablated one by one: each ablated
# word costs one forward pass (~60 ms on two busy CPU cores), so 200 words bound the wait to ~13 s.
MAX_ABLATED_WORDS = 200
# Word-removal variants scored per forward pass inside Captum: keeps the cores busy while
# bounding memory (16 clips ≈ 80 MB of input).
WORDS_PER_BATCH = 16


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
    max_words: int = MAX_ABLATED_WORDS,
) -> pd.DataFrame:
    """Which words of the note push the target class up or down, by removing them one at a time.

    Captum `FeatureAblation` over a presence mask [1, n_words] (1 = word kept, baseline 0 =
    word removed). The forward function re-embeds the note from the kept words joined by
    spaces and returns the target's calibrated probability on the main clip. A word's
    attribution is p(target | full note) − p(target | note without that word): positive means
    the word supports the target. Word n-grams of the note change as a word drops, so a word's
    score includes its effect on neighbouring bigrams.

    `target`: class id or index; default the case's predicted class (`analysis.label`).
    Only the first `max_words` words (of the first `MAX_NOTE_CHARS` characters, as the model
    reads them) are ablated; later words stay in every variant.
    Returns a DataFrame (word, position, attribution) with one row per ablated word, in note
    order (`position` counts from 0); empty when the note has no words. `attrs["target"]` and
    `attrs["full_probability"]` record the class and its probability with the whole note.

    Cost: one forward pass per ablated word (see `MAX_ABLATED_WORDS`; well under a second for
    a typical 10–30-word note). Captum only calls `forward`, attaching no
    hooks, so the shared model is safe to use from several sessions at once.
    """
    model = model if model is not None else get_model()
    words = tokenize((analysis.description or "")[:MAX_NOTE_CHARS])
    target_idx = class_index(target, analysis.label)
    if not words:
        empty = pd.DataFrame({"word": pd.Series(dtype=str), "position": pd.Series(dtype=int),
                              "attribution": pd.Series(dtype=float)})
        empty.attrs["target"] = CLASSES[target_idx]
        return empty
    ablated, always_kept = words[:max_words], words[max_words:]

    def forward(presence: torch.Tensor) -> torch.Tensor:
        # presence [k, n_words] → target probability [k]; Captum batches k perturbations.
        notes = [" ".join([w for w, keep in zip(ablated, row) if keep > 0.5] + always_kept)
                 for row in presence.tolist()]
        embeddings = torch.from_numpy(np.stack([embed_note(n) for n in notes]))
        clips = analysis.clip.expand(len(notes), -1, -1, -1, -1)
        return torch.from_numpy(calibrated_probabilities(model, clips, embeddings)[:, target_idx].numpy())

    presence = torch.ones(1, len(ablated))
    with torch.no_grad():
        attr = FeatureAblation(forward).attribute(
            presence, baselines=0.0, perturbations_per_eval=WORDS_PER_BATCH
        )
        full_probability = float(forward(presence)[0])
    frame = pd.DataFrame({"word": ablated, "position": np.arange(len(ablated)),
                          "attribution": attr[0].double().numpy()})
    frame.attrs.update(target=CLASSES[target_idx], full_probability=full_probability)
    return frame
