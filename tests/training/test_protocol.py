"""gaitlab.training.protocol: temperature fitting, fold summaries, and a tiny run of the whole protocol."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gaitlab.metrics import classification_metrics, summarise
from gaitlab.training.config import TrainConfig
from gaitlab.training.model_card import cross_validation_lines
from gaitlab.calibration import calibrate_top_label
from gaitlab.metrics import expected_calibration_error
from gaitlab.training.protocol import (best_temperature, card_section, fit_temperature, fit_top_label,
                                       matching_protocol, run_protocol, video_probabilities, weak_spots)
from tests.training.test_train import walker_data


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_video_probabilities_scale_the_mean_of_the_clip_softmaxes():
    """A walk's probabilities: its clips' mean softmax, then temperature-scaled (p^(1/T)
    renormalised): one clip is softmax(logits / T), and no temperature changes the answer."""
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(3, 9)) for _ in range(40)] + [rng.normal(size=(1, 9))]
    p = video_probabilities(clips, temperature=2.0)
    mean = _softmax(clips[0]).mean(axis=0)
    assert np.allclose(p[0], mean ** 0.5 / (mean ** 0.5).sum())
    assert np.allclose(p[-1], _softmax(clips[-1] / 2)[0])
    assert np.allclose(p.sum(axis=1), 1)
    for t in (0.3, 0.6, 1.7, 5.0):
        assert (video_probabilities(clips, t).argmax(1) == video_probabilities(clips).argmax(1)).all()


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(true_t):
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(4000, 9))
    labels = np.array([rng.choice(9, p=p) for p in _softmax(logits / true_t)])
    fitted = fit_temperature([z[None] for z in logits], labels)
    assert abs(np.log(fitted / true_t)) < 0.1


def test_top_label_calibration_keeps_answers_and_moves_only_the_confidence():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(9, 0.4), size=2000)
    assert np.allclose(calibrate_top_label(probs, 1.0, 0.0), probs)  # (1, 0): the identity
    for slope, intercept in ((0.5, 0.6), (2.0, -1.0), (0.1, 3.0), (1.0, -4.0)):
        q = calibrate_top_label(probs, slope, intercept)
        assert np.allclose(q.sum(axis=1), 1) and (q.argmax(axis=1) == probs.argmax(axis=1)).all()
        others = np.argsort(probs, axis=1)[:, :-1]  # the rest keep their proportions
        ratio = np.take_along_axis(q, others, 1) / np.take_along_axis(probs, others, 1)
        assert np.allclose(ratio, ratio[:, :1])
    lifted = calibrate_top_label(probs, 1.0, 1.0).max(axis=1)  # a positive intercept raises confidence
    assert (lifted >= probs.max(axis=1) - 1e-12).all() and lifted.mean() > probs.max(axis=1).mean() + 0.05


@pytest.mark.parametrize("slope, intercept", [(1.0, 1.0), (0.6, -0.3)])
def test_fit_top_label_recovers_the_map_that_generated_right_answers(slope, intercept):
    """Answers right with probability sigmoid(slope · logit(confidence) + intercept): the fit
    finds that map, and calibrating with it brings the ECE near zero."""
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=2.0, size=(20000, 9))
    p = _softmax(logits)
    top = np.clip(p.max(1), 1e-6, 1 - 1e-6)
    truth = 1 / (1 + np.exp(-(slope * np.log(top / (1 - top)) + intercept)))
    right = rng.random(len(p)) < truth
    wrong = (p.argmax(1) + rng.integers(1, 9, size=len(p))) % 9
    labels = np.where(right, p.argmax(1), wrong)
    a, b = fit_top_label([z[None] for z in logits], labels)
    assert a == pytest.approx(slope, abs=0.1) and b == pytest.approx(intercept, abs=0.1)
    calibrated = video_probabilities([z[None] for z in logits], top=(a, b))
    assert expected_calibration_error(labels, calibrated) < 0.03 < expected_calibration_error(labels, p)
    assert fit_top_label([z[None] for z in logits], p.argmax(1)) == (1.0, 0.0)  # all right: nothing to fit


def test_best_temperature_is_a_lower_bound_that_a_shifted_confidence_escapes():
    """`best_temperature`: where labels follow softmax(logits / 0.5) it finds about 0.5 and an
    ECE near zero, never worse than any one temperature; where right answers need the answer's
    logit raised by a constant, no temperature gets there and the top-label fit does."""
    rng = np.random.default_rng(5)
    logits = rng.normal(scale=2.0, size=(6000, 9))
    clips = [z[None] for z in logits]
    labels = np.array([rng.choice(9, p=p) for p in _softmax(logits / 0.5)])
    best = best_temperature(clips, labels)
    assert abs(np.log(best["temperature"] / 0.5)) < 0.2 and best["ece"] < 0.02
    for t in (0.3, fit_temperature(clips, labels), 1.0, 3.0):
        assert best["ece"] <= expected_calibration_error(labels, video_probabilities(clips, t)) + 1e-12
    p = _softmax(logits)
    top = np.clip(p.max(1), 1e-6, 1 - 1e-6)
    right = rng.random(len(p)) < 1 / (1 + np.exp(-(np.log(top / (1 - top)) + 1.5)))
    shifted = np.where(right, p.argmax(1), (p.argmax(1) + rng.integers(1, 9, size=len(p))) % 9)
    by_top_label = expected_calibration_error(shifted, video_probabilities(clips, top=fit_top_label(clips, shifted)))
    assert by_top_label < 0.03 < best_temperature(clips, shifted)["ece"]


def test_summarise_matches_per_fold_metrics():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 9, size=40)
    probs = _softmax(rng.normal(size=(40, 9)))
    folds = [np.arange(0, 20), np.arange(20, 40)]
    out = summarise(labels, probs, folds)
    accs = [classification_metrics(labels[f], probs[f])["accuracy"] for f in folds]
    assert out["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert out["summary"]["accuracy"]["std"] == pytest.approx(np.std(accs))
    assert out["pooled"]["n"] == 40 and out["pooled"] == classification_metrics(labels, probs)


def test_a_tiny_protocol_scores_every_walk_once(tmp_path):
    data = walker_data(5)  # 10 walkers, 10 subjects, 2 classes
    config = TrainConfig(epochs=1, clips_per_video=1, bank_clips=2, batch_size=4, val_fold=-1)
    result = run_protocol(data, ["features", "student"], config, cache=tmp_path, log=lambda s: None)
    student = result["recipes"]["student"]
    assert sum(f["videos"] for f in result["fold_sizes"]) == len(data.meta)
    for condition in ("video_only", "fused", "as_trained"):
        pooled = student[condition]["calibrated"]["pooled"]
        assert pooled["n"] == len(data.meta) and sum(map(sum, pooled["confusion_matrix"])) == len(data.meta)
    assert len(student["temperatures_cross_fitted"]) == 5 and student["temperature"] > 0
    assert len(student["top_labels_cross_fitted"]) == 5 and len(student["top_label"]) == 2
    for key in ("calibration", "calibration_temperature"):  # as the app calibrates, and by temperature alone
        assert set(student[key]["bootstrap_95"]) >= {"accuracy", "nll", "brier", "ece"}
    best = student["calibration_temperature"]["best_in_sample"]  # the best one temperature could do
    assert 0.1 - 1e-9 <= best["temperature"] <= 10 + 1e-9
    assert 0 <= best["ece"] <= student["video_only"]["raw"]["pooled"]["ece"] + 1e-12
    for condition in ("video_only", "fused", "as_trained"):  # calibration never changes an answer
        assert student[condition]["temperature"]["pooled"]["accuracy"] == student[condition]["calibrated"]["pooled"]["accuracy"]
    assert result["recipes"]["features"]["pooled"]["n"] == len(data.meta)
    # The card of all-data weights takes these figures only for the very recipe that was run.
    (tmp_path / "protocol.json").write_text(json.dumps(result))
    assert matching_protocol(config, distill=False, path=tmp_path / "protocol.json")[0] == "student"
    assert matching_protocol(config, distill=True, path=tmp_path / "protocol.json") is None
    other = TrainConfig(epochs=2, clips_per_video=1, bank_clips=2, batch_size=4, val_fold=-1)
    assert matching_protocol(other, distill=False, path=tmp_path / "protocol.json") is None
    section = card_section(result, "student")
    assert {r["recipe"] for r in section["rows"]} == {"student", "features"}
    markdown = "\n".join(cross_validation_lines(section))
    assert "± " in markdown and "features" in markdown
    assert all(isinstance(w, str) for w in weak_spots(student))
    # Cached: a rerun trains nothing and gives the same figures.
    again = run_protocol(data, ["student"], config, cache=tmp_path, log=lambda s: None)
    assert again["recipes"]["student"]["video_only"] == student["video_only"]


def test_the_teacher_recipe_and_the_distilled_student_share_one_cached_fold_teacher(tmp_path, monkeypatch):
    """Each fold's teacher is fitted once: the `teacher` recipe scores with it, the distilled
    student distils from it (its record's teacher metrics are the teacher recipe's), and a
    rerun loads it instead of fitting again."""
    from gaitlab.training import protocol
    from gaitlab.training.teacher import Teacher, TeacherConfig

    small = lambda seed: TeacherConfig(seed=seed, epochs=2, channels=8, members=2, windows_per_video=2)  # noqa: E731
    monkeypatch.setattr(protocol, "TeacherConfig", small)
    fits = []
    real_fit = Teacher.fit
    monkeypatch.setattr(Teacher, "fit", lambda self, s, y: fits.append(len(s)) or real_fit(self, s, y))
    data = walker_data(5)
    config = TrainConfig(epochs=1, clips_per_video=1, bank_clips=2, batch_size=4, val_fold=-1)
    result = run_protocol(data, ["teacher", "student_distilled"], config, cache=tmp_path, log=lambda s: None)
    assert len(fits) == 5 and len(list((tmp_path / "teachers").glob("*.safetensors"))) == 5
    teacher = result["recipes"]["teacher"]
    per_fold = result["recipes"]["student_distilled"]["teacher_metrics_per_fold"]
    assert [f["accuracy"] for f in per_fold] == [f["accuracy"] for f in teacher["folds"]]
    assert teacher["pooled"]["n"] == len(data.meta)
    again = run_protocol(data, ["teacher"], config, cache=tmp_path, log=lambda s: None)
    assert len(fits) == 5 and again["recipes"]["teacher"]["pooled"] == teacher["pooled"]
