import copy
import threading

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients
from torch import nn

from gaitlab.ablation import N_STEPS, STEPS_PER_BATCH, TABLE_COLUMNS, WORD_COLUMNS, note_ablation, word_attribution
from gaitlab.constants import CLASSES, DESCRIPTIONS
from gaitlab.calibration import temperature
from gaitlab.inference import analyze, calibrated_probabilities, clip_probabilities
from gaitlab.text import embed_note, embedder, special_token_ids, token_inputs
from gaitlab.weights import load_model

NOTE = "knee pain when climbing stairs, walks with a cane"
PROBS = [f"prob_{c}" for c in CLASSES]


@pytest.fixture(scope="module")
def model(random_weights):
    return load_model(random_weights)


@pytest.fixture(scope="module")
def case(walker_csv, model):
    return analyze(walker_csv, NOTE, model=model)


@pytest.fixture(scope="module")
def ablation(case, model):
    return note_ablation(case, ["resting tremor", "uses a walker"], model=model)


def test_every_variant_is_present(ablation):
    table = ablation.table
    assert list(table.columns) == TABLE_COLUMNS
    assert len(table) == 3 + len(CLASSES) + 2
    assert list(table["kind"]) == ["full", "none", "note_only"] + ["counterfactual"] * len(CLASSES) + ["extra"] * 2
    assert list(table.loc[table["kind"] == "counterfactual", "note"]) == [DESCRIPTIONS[c] for c in CLASSES]
    assert list(table.loc[table["kind"] == "extra", "note"]) == ["resting tremor", "uses a walker"]
    assert table["variant"].is_unique


def test_rows_are_probability_vectors(ablation):
    probs = ablation.table[PROBS].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5) and (probs >= 0).all()
    best = probs.argmax(axis=1)
    assert list(ablation.table["predicted"]) == [CLASSES[i] for i in best]
    assert np.allclose(ablation.table["confidence"], probs.max(axis=1))


def test_no_note_row_is_a_direct_model_call(case, model, ablation):
    with torch.no_grad():
        logits = model(case.clip, torch.zeros(1, 384))
    expected = torch.softmax(logits / temperature(model), dim=1)[0].numpy()
    got = ablation.table.loc[ablation.table["kind"] == "none", PROBS].to_numpy()[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_full_note_row_matches_inference(case, model, ablation):
    # The main clip scored the way `analyze` scores clips.
    expected = clip_probabilities(model, case.frames[None], case.embedding)[0]
    got = ablation.table.loc[ablation.table["kind"] == "full", PROBS].to_numpy()[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got == pytest.approx(list(case.clips[case.main_clip].probabilities.values()), abs=1e-5)


def test_note_only_row_is_blank_frames_with_the_note(case, model, ablation):
    blank = np.zeros((1, 8, 224, 224), np.uint8)
    expected = clip_probabilities(model, blank, case.embedding)[0]
    got = ablation.table.loc[ablation.table["kind"] == "note_only", PROBS].to_numpy()[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_note_shift(case, model, ablation, walker_csv):
    full, none = (ablation.table.loc[ablation.table["kind"] == k, PROBS].to_numpy()[0] for k in ("full", "none"))
    assert 0 < ablation.note_shift <= 1
    assert ablation.note_shift == pytest.approx(0.5 * np.abs(full - none).sum())
    silent = analyze(walker_csv, "", model=model)
    assert note_ablation(silent, model=model).note_shift == 0.0


def test_to_long_is_tidy(ablation):
    long = ablation.to_long()
    assert len(long) == len(ablation.table) * len(CLASSES)
    assert set(long["class"]) == set(CLASSES)
    assert np.allclose(long.groupby("variant")["probability"].sum(), 1, atol=1e-5)


NOTE_WORDS = ["knee", "pain", "when", "climbing", "stairs", "walks", "with", "a", "cane"]


class Probe(nn.Module):
    """A stand-in student whose first logit is 10 × cosine(note, `probe`): which words carry
    the probe's meaning is then known. The clip is ignored."""

    def __init__(self, probe: str) -> None:
        super().__init__()
        self.v = torch.from_numpy(embed_note(probe))

    def forward(self, clip: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        score = 10 * embedding @ self.v
        return torch.stack([score] + [torch.zeros_like(score)] * (len(CLASSES) - 1), dim=1)


def with_note(case, note):
    return type(case)(**{**case.__dict__, "description": note})


def test_word_attribution_one_row_per_word(case, model):
    words = word_attribution(case, model=model)
    assert list(words.columns) == WORD_COLUMNS == ["word", "position", "attribution"]
    assert list(words["word"]) == NOTE_WORDS and list(words["position"]) == list(range(len(words)))
    assert np.isfinite(words["attribution"]).all() and words["attribution"].abs().sum() > 0
    assert words.attrs["target"] == case.label
    # Words as written (case, accents, word pieces joined); punctuation is not a word.
    odd = word_attribution(with_note(case, "Gonarthrose: Schmerzen beim Gehen, très lent!!"), model=model)
    assert list(odd["word"]) == ["Gonarthrose", "Schmerzen", "beim", "Gehen", "très", "lent"]


def test_word_attribution_on_random_weights_is_complete(case, model):
    # The random student barely listens to the note, yet the words still add up to the change.
    words = word_attribution(case, target="PD_Mild", model=model)
    attrs = words.attrs
    expected_full = calibrated_probabilities(model, case.clip, case.embedding)[0, CLASSES.index("PD_Mild")].item()
    assert attrs["full_probability"] == pytest.approx(expected_full, abs=1e-5)
    gap = words["attribution"].sum() - (attrs["full_probability"] - attrs["baseline_probability"])
    assert gap == pytest.approx(attrs["convergence_delta"], abs=1e-9)
    assert abs(attrs["convergence_delta"]) < 1e-3


def test_word_attribution_completeness_against_the_encoder(case):
    # p(note) and p(baseline) recomputed through sentence-transformers' own modules (not the
    # attribution's forward): the attributions sum to their difference, up to a small delta.
    note = "she has knee pain and uses a cane outdoors, slowly"
    probe = Probe("walking stick")
    words = word_attribution(with_note(case, note), target=0, model=probe)
    inputs = token_inputs(note)
    baseline_ids = inputs.input_ids.clone()
    is_word = [w is not None and inputs.text[slice(*s)].isalnum() for w, s in zip(inputs.word_ids, inputs.spans)]
    baseline_ids[0, torch.tensor(is_word)] = special_token_ids()["pad"]
    assert (baseline_ids != inputs.input_ids).sum() >= len(words)
    with torch.no_grad():
        base_embedding = embedder()({"input_ids": baseline_ids, "attention_mask": inputs.attention_mask})
        base = torch.softmax(probe(case.clip, base_embedding["sentence_embedding"]), dim=1)[0, 0].item()
        full = torch.softmax(probe(case.clip, torch.from_numpy(embed_note(note))[None]), dim=1)[0, 0].item()
    assert words.attrs["full_probability"] == pytest.approx(full, abs=1e-5)
    assert words.attrs["baseline_probability"] == pytest.approx(base, abs=1e-5)
    assert full - base > 0.2, "the probe should care about this note"
    assert words["attribution"].sum() == pytest.approx(full - base, rel=0.01)


@pytest.mark.parametrize("probe, note, top", [
    ("walking stick", "she has knee pain and uses a cane outdoors", "cane"),
    ("tremor", "slow shuffling walk with a resting tremor of the hand, knee fine", "tremor"),
])
def test_word_attribution_finds_the_word_that_carries_the_meaning(case, probe, note, top):
    words = word_attribution(with_note(case, note), target=0, model=Probe(probe))
    assert words.loc[words["attribution"].idxmax(), "word"] == top


def test_word_attribution_equals_layer_integrated_gradients(case):
    # IG on the token embedding layer's output is what Captum's LayerIntegratedGradients on
    # that layer computes; checked against it on a private copy of the encoder (hooks allowed).
    note, probe = "uses a cane outdoors", Probe("walking stick")
    words = word_attribution(with_note(case, note), target=0, model=probe)
    bert = copy.deepcopy(embedder()[0].auto_model)
    inputs = token_inputs(note)
    baseline_ids = inputs.input_ids.clone()
    baseline_ids[0, 1:-1] = special_token_ids()["pad"]

    def forward(ids, mask):
        hidden = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        embedding = torch.nn.functional.normalize(pooled, dim=1)
        return torch.softmax(probe(case.clip, embedding), dim=1)[:, 0]

    attr = LayerIntegratedGradients(forward, bert.embeddings.word_embeddings).attribute(
        inputs.input_ids, baselines=baseline_ids, additional_forward_args=(inputs.attention_mask,),
        n_steps=N_STEPS, internal_batch_size=STEPS_PER_BATCH)
    np.testing.assert_allclose(words["attribution"], attr[0, 1:-1].sum(-1).double().numpy(), atol=1e-5)


def test_word_attribution_caps_long_notes(case, model):
    words = word_attribution(with_note(case, "stiff knee " * 20), model=model, max_words=5)
    assert list(words["word"]) == ["stiff", "knee"] * 2 + ["stiff"]
    assert abs(words.attrs["convergence_delta"]) < 1e-3  # the other words stay in the baseline


@pytest.mark.parametrize("note", ["", "  ... !!", "\n\t"])
def test_word_attribution_empty_note(case, model, note):
    words = word_attribution(with_note(case, note), model=model)
    assert words.empty and list(words.columns) == ["word", "position", "attribution"]


def test_word_attribution_leaves_the_shared_encoder_alone(case):
    # Sessions embed notes while another attributes: nothing may hook or change the encoder.
    notes = [f"note {i}: knee pain, uses a cane" for i in range(8)]
    expected = [embed_note(n) for n in notes]
    from gaitlab.text import clear_cache

    clear_cache()
    errors, got = [], []
    worker = threading.Thread(target=lambda: word_attribution(with_note(case, "uses a cane"), target=0,
                                                              model=Probe("cane")))
    worker.start()
    try:
        got = [embed_note(n) for n in notes]
    except Exception as exc:  # pragma: no cover - reported below
        errors.append(exc)
    worker.join()
    assert not errors
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert not embedder()[0].auto_model.embeddings.word_embeddings._forward_hooks
