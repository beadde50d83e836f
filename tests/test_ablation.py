import numpy as np
import pytest
import torch

from gaitlab.ablation import TABLE_COLUMNS, note_ablation, word_attribution
from gaitlab.constants import CLASSES, DESCRIPTIONS
from gaitlab.inference import analyze, clip_probabilities, temperature
from gaitlab.text import tokenize
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


def test_word_attribution_one_row_per_word(case, model):
    words = word_attribution(case, model=model)
    assert list(words.columns) == ["word", "position", "attribution"]
    assert list(words["word"]) == tokenize(NOTE) and list(words["position"]) == list(range(len(words)))
    assert np.isfinite(words["attribution"]).all() and words["attribution"].abs().sum() > 0
    assert words.attrs["target"] == case.label


def test_word_attribution_is_a_removal_effect(case, model):
    # Attribution of a word = p(target | full note) - p(target | note without that word).
    target = "PD_Mild"
    words = word_attribution(case, target=target, model=model)
    shortened = " ".join(tokenize(NOTE)[1:])
    probs = note_ablation(case, [" ".join(tokenize(NOTE)), shortened], model=model).table
    full, without_first = probs.loc[probs["kind"] == "extra", f"prob_{target}"]
    assert words["attribution"].iloc[0] == pytest.approx(full - without_first, abs=1e-6)


def test_word_attribution_caps_long_notes(case, model):
    case_long = type(case)(**{**case.__dict__, "description": "stiff knee " * 20})
    words = word_attribution(case_long, model=model, max_words=5)
    assert len(words) == 5


@pytest.mark.parametrize("note", ["", "  ... !!"])
def test_word_attribution_empty_note(case, model, note):
    empty = type(case)(**{**case.__dict__, "description": note})
    words = word_attribution(empty, model=model)
    assert words.empty and list(words.columns) == ["word", "position", "attribution"]
