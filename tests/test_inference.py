import json

import numpy as np
import pytest
import torch

from gaitlab.constants import CLASSES
from gaitlab.errors import InputError
from gaitlab.inference import analyze
from gaitlab.weights import load_model


@pytest.fixture(scope="module")
def model(random_weights):
    return load_model(random_weights)


def _check(result):
    assert set(result.probabilities) == set(CLASSES)
    assert abs(sum(result.probabilities.values()) - 1) < 1e-5
    assert result.label == max(result.probabilities, key=result.probabilities.get)
    assert result.confidence == pytest.approx(result.probabilities[result.label])
    assert result.clip.shape == (1, 3, 8, 224, 224) and result.embedding.shape == (1, 384)
    assert result.frames.shape == (8, 224, 224, 3) and result.frames.dtype == np.uint8
    assert len(result.clips) >= 1
    for c in result.clips:
        assert abs(sum(c.probabilities.values()) - 1) < 1e-5 and c.start <= c.end
    json.dumps(result.to_dict())


def test_analyze_video(walker_video, model):
    result = analyze(walker_video, "knee pain", model=model)
    _check(result)
    assert result.source == "video" and result.source_frames.shape == (8, 224, 224, 3)
    assert all(result.frames[..., c].any() for c in range(3))  # pose frames: left, right, trunk
    assert not any("several people" in w.lower() for w in result.warnings)
    # The whole original frames (long side 360 for this 320×240 video) and each frame's crop.
    assert result.original_frames.shape == (8, 240, 320, 3) and result.original_frames.dtype == np.uint8
    assert result.placements.shape == (8, 2, 3) and np.isfinite(result.placements).all()
    assert result.skeleton.shape == (8, 33, 2)


def test_analyze_keypoint_csv(walker_csv, model):
    result = analyze(walker_csv, model=model)
    _check(result)
    assert result.source == "keypoints" and result.source_frames is None and result.original_frames is None
    assert not result.embedding.any()  # no note → zero embedding
    # Each frame's placement maps the main clip's landmarks onto the skeleton drawn on the frames
    # (the skeleton comes from the cleaned, lightly smoothed landmarks: within a pixel or so).
    seq = result.keypoints[list(result.frame_indices)]
    placed = np.einsum("nij,nkj->nki", result.placements,
                       np.concatenate([seq[..., :2], np.ones((8, 33, 1))], axis=-1))
    assert np.abs(placed - result.skeleton).max() < 1.5


class _Teacher:
    """Stands in for the keypoint teacher: always the same reading of any walk."""

    def __init__(self, label: str) -> None:
        self.probs = np.full(len(CLASSES), 0.02)
        self.probs[CLASSES.index(label)] = 1 - 0.02 * (len(CLASSES) - 1)

    def predict_proba(self, seqs):
        return np.stack([self.probs for _ in seqs])


def test_the_teacher_gives_a_second_opinion(walker_csv, model):
    from gaitlab.inference import prepare_case, score_case

    case = prepare_case(walker_csv)
    alone = score_case(case, "", model, name="w")
    assert alone.teacher is None and alone.to_dict()["teacher"] is None
    other = next(c for c in CLASSES if c != alone.label)
    for label, agrees in ((alone.label, True), (other, False)):
        result = score_case(case, "", model, name="w", teacher=_Teacher(label))
        assert result.teacher["label"] == label and result.teacher["agrees"] is agrees
        assert result.teacher["confidence"] == pytest.approx(0.84)
        assert result.probabilities == alone.probabilities  # a second opinion, not a vote
        assert json.loads(json.dumps(result.to_dict()))["teacher"]["label"] == label


def test_note_changes_the_answer_but_not_the_clip(walker_csv, model):
    a = analyze(walker_csv, "", model=model)
    b = analyze(walker_csv, "resting tremor, shuffling steps", model=model)
    assert torch.equal(a.clip, b.clip)
    assert a.probabilities != b.probabilities


def test_several_people_warn(two_walkers_video, model):
    result = analyze(two_walkers_video, model=model)
    _check(result)
    assert any("people" in w.lower() for w in result.warnings)


def test_main_clip_is_the_model_input(walker_csv, model):
    result = analyze(walker_csv, model=model)
    with torch.no_grad():
        p = torch.softmax(model(result.clip, result.embedding), 1)[0]
    main = result.clips[result.main_clip].probabilities
    assert np.allclose(p.numpy(), [main[c] for c in CLASSES], atol=1e-5)


def _file(directory, name, content=b""):
    path = directory / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("make, match", [
    (lambda d: d / "missing.mp4", "does not exist"),
    (lambda d: d, "folder"),
    (lambda d: _file(d, "empty.mp4"), "empty"),
    (lambda d: _file(d, "notes.txt", b"hi"), "not a supported"),
])
def test_bad_paths(tmp_path, model, make, match):
    with pytest.raises(InputError, match=match):
        analyze(make(tmp_path), model=model)


def test_a_walk_is_calibrated_by_the_cards_top_label_fit(walker_csv, random_weights):
    """The card's top-label fit sets the walk's answer confidence (the clips' mean, then
    `calibrate_top_label`); the clips of the timeline keep temperature scaling; no card fit, no change."""
    from gaitlab.calibration import calibrate, calibrate_top_label
    from gaitlab.inference import MIN_PERSON_FRAMES, clip_probabilities, note_embedding, prepare_case, score_case

    model = load_model(random_weights)
    case = prepare_case(walker_csv)
    raw = clip_probabilities(model, case.masks, note_embedding("")[0], calibrated=False)
    usable = case.person.sum(axis=1) >= MIN_PERSON_FRAMES
    assert usable.any()
    plain = score_case(case, "", model, name="walk")
    model.card = {**model.card, "calibration": {"temperature": 0.5, "top_label": {"slope": 0.8, "intercept": 1.5}}}
    fitted = score_case(case, "", model, name="walk")
    expected = calibrate_top_label(raw[usable].mean(axis=0), 0.8, 1.5)
    assert [fitted.probabilities[c] for c in CLASSES] == pytest.approx(expected.tolist(), abs=1e-5)
    assert fitted.label == plain.label and fitted.confidence > plain.confidence
    clip0 = calibrate(raw[0], 0.5)
    assert [fitted.clips[0].probabilities[c] for c in CLASSES] == pytest.approx(clip0.tolist(), abs=1e-5)
