"""Explanations: shapes and ranges of every method, localisation on a model whose evidence is
known, target selection, no side effects on the shared model, thread safety, faithfulness,
and the files `write_explanation` leaves behind."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
from torch import nn

from gaitlab.pipeline.clips import blank_clip, to_model_input
from gaitlab.constants import CLASSES, FRAME_SIZE
from gaitlab.metrics import RANDOM_DROP_FLOOR
from gaitlab.inference import Analysis
from gaitlab.pipeline.pose_frames import BODY_FRACTION, PoseStyle, render_pose_frames
from gaitlab.text import embed_note
from gaitlab.synth.walker import WalkerParams, walk_keypoints
from gaitlab.weights import load_model

from gaitlab import explanations as ex
HALF = FRAME_SIZE // 2


class HalfBrightness(nn.Module):
    """[B, 3, 8, 224, 224] → [B, 2, 8, 28, 28]: channel 0 is the ink (brightness above black,
    any channel) of 8x8 cells in the left half of the frame, channel 1 in the right half (zero
    elsewhere)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.Conv3d(3, 1, (1, 8, 8), stride=(1, 8, 8), bias=False)
        nn.init.constant_(self.pool.weight, 1.0 / (3 * 8 * 8))
        self.relu = nn.ReLU(inplace=True)
        self.register_buffer("black", blank_clip()[:, :, :1, :1, :1])  # black per channel, normalised
        halves = torch.zeros(2, 1, 28, 28)
        halves[0, ..., :14], halves[1, ..., 14:] = 1.0, 1.0
        self.register_buffer("halves", halves)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.relu(self.pool(clip - self.black)) * self.halves


class HalfModel(nn.Module):
    """Logit of class 0 = brightness of the left half, class 1 = right half, the rest 0: the
    evidence for each class is known exactly. The note is ignored."""

    def __init__(self, gain: float = 100.0) -> None:
        super().__init__()
        self.cam = HalfBrightness()
        self.gain = gain

    @property
    def cam_layer(self) -> nn.Module:
        return self.cam

    def forward(self, clip: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        evidence = self.cam(clip).mean(dim=(2, 3, 4)) * self.gain  # [B, 2]
        rest = torch.zeros(len(clip), len(CLASSES) - 2) + 0.0 * embedding[:, :1]
        return torch.cat([evidence, rest], dim=1)


def walker_frames(shift: int = 0, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Pose frames uint8 [8, 224, 224, 3] of one clip of a generated walker (one crop), drawn
    `shift` pixels sideways at `scale` of the usual size."""
    seq = walk_keypoints(WalkerParams(), n_frames=40)
    return render_pose_frames(seq, np.linspace(seed, 36, 8).astype(int), PoseStyle(scale=scale, shift=(shift, 0.0)))


def make_analysis(frames: np.ndarray, label: str = "Normal", note: str = "knee pain") -> Analysis:
    """An `Analysis` built directly from 8 pose frames (what `analyze` would hand over)."""
    return Analysis(
        path="synthetic", source="keypoints", description=note, label=label, confidence=0.5,
        probabilities={c: 1 / len(CLASSES) for c in CLASSES}, clip=to_model_input(frames),
        embedding=torch.from_numpy(embed_note(note)).unsqueeze(0), frames=frames, clips=[], main_clip=0,
    )


@pytest.fixture(scope="module")
def two_walkers() -> Analysis:
    """One walker in each half of the frame: evidence for class 0 on the left, class 1 right."""
    small = 0.44 / BODY_FRACTION  # a walker 0.44 of the frame high fits in one half
    frames = np.maximum(walker_frames(-56, scale=small), walker_frames(56, scale=small))
    assert not frames[:, :, 108:116].any()  # the halves do not touch
    return make_analysis(frames, label=CLASSES[0])


@pytest.fixture(scope="module")
def student(random_weights):
    return load_model(random_weights)


@pytest.fixture
def coarse_occlusion(monkeypatch):
    """Occlusion on a 2x2 grid of 112-pixel tiles (32 passes instead of 128): a fast suite."""
    monkeypatch.setattr(ex, "OCCLUSION_PATCH", 112)


def left_share(maps: np.ndarray) -> float:
    return float(maps[..., :HALF].sum() / maps.sum())


@pytest.mark.parametrize("method", list(ex.METHODS))
def test_every_method_gives_maps_importances_and_overlays(method, two_walkers, coarse_occlusion):
    result = ex.explain(two_walkers, method, model=HalfModel())
    assert result.method == method and result.target == CLASSES[0]
    assert result.maps.shape == (8, FRAME_SIZE, FRAME_SIZE) and result.maps.dtype == np.float32
    assert result.maps.min() >= 0.0 and result.maps.max() <= 1.0 and result.maps.max() > 0.5
    assert len(result.frame_importance) == 8 and np.all(np.asarray(result.frame_importance) >= 0)
    assert sum(result.frame_importance) == pytest.approx(1.0)
    assert len(result.overlays) == 8
    assert all(o.shape == (FRAME_SIZE, FRAME_SIZE, 3) and o.dtype == np.uint8 for o in result.overlays)
    assert result.source_overlays is None  # keypoint input has no source video
    # Every method finds the class-0 evidence in the left half.
    assert left_share(result.maps) > 0.8


def test_gradcam_localises_known_evidence_and_follows_the_target(two_walkers):
    model = HalfModel()
    left = ex.explain(two_walkers, "gradcam", model=model)
    right = ex.explain(two_walkers, "gradcam", target=CLASSES[1], model=model)
    assert left_share(left.maps) > 0.9
    assert left_share(right.maps) < 0.1
    assert right.target == CLASSES[1]
    assert ex.explain(two_walkers, "gradcam", target=1, model=model).target == CLASSES[1]
    # target_probability is the softmax of the target (both halves equally bright here).
    assert left.target_probability == pytest.approx(right.target_probability, rel=1e-4)
    assert 1 / len(CLASSES) < left.target_probability < 0.5


def test_target_changes_the_student_map(student):
    analysis = make_analysis(walker_frames())
    a = ex.explain(analysis, "gradcam", target="Normal", model=student)
    b = ex.explain(analysis, "gradcam", target="PD_Severe", model=student)
    assert not np.allclose(a.maps, b.maps)


def test_bad_method_or_target_is_refused(two_walkers):
    with pytest.raises(ValueError, match="unknown explanation method"):
        ex.explain(two_walkers, "saliency", model=HalfModel())
    with pytest.raises(ValueError, match="unknown target class"):
        ex.explain(two_walkers, target="Flu", model=HalfModel())


def test_source_frames_get_their_own_overlays():
    video = make_analysis(walker_frames())
    video.source_frames = np.full((8, 224, 224, 3), 90, dtype=np.uint8)
    result = ex.explain(video, model=HalfModel())
    assert len(result.source_overlays) == 8
    assert all(o.shape == (224, 224, 3) and o.dtype == np.uint8 for o in result.source_overlays)
    assert not np.array_equal(result.source_overlays[0], result.overlays[0])


# A crop of the right half of a 160×90 original frame: normalised x 0.5..1 → model x 0..224.
RIGHT_HALF_CROP = np.array([[2.0 * FRAME_SIZE, 0.0, -FRAME_SIZE], [0.0, FRAME_SIZE, 0.0]])


def test_maps_go_back_onto_the_whole_original_frames(two_walkers):
    """The heat sits where the crop took the evidence from: class 0's (the model frame's left
    half) on the original's third quarter, none outside the crop."""
    video = make_analysis(two_walkers.frames)
    video.original_frames = np.full((8, 90, 160, 3), 90, dtype=np.uint8)
    video.placements = np.repeat(RIGHT_HALF_CROP[None], 8, axis=0)
    result = ex.explain(video, "gradcam", model=HalfModel())
    assert len(result.original_overlays) == 8
    assert all(o.shape == (90, 160, 3) and o.dtype == np.uint8 for o in result.original_overlays)
    on_originals = ex.maps_on_originals(result.maps, video.placements, 90, 160)
    assert on_originals.shape == (8, 90, 160)
    assert not on_originals[..., :79].any()  # outside the crop
    assert on_originals[..., 80:120].sum() > 0.9 * on_originals.sum()
    cold = result.original_overlays[0][:, :79]  # no heat: one colour (cold blended over grey)
    assert (cold == cold[0, 0]).all() and (result.original_overlays[0][:, 80:120] != cold[0, 0]).any(axis=-1).any()
    assert make_analysis(two_walkers.frames).original_frames is None
    assert ex.explain(two_walkers, "gradcam", model=HalfModel()).original_overlays is None


def _hooks(model: nn.Module) -> int:
    return sum(len(d) for m in model.modules() for d in (
        m._forward_hooks, m._forward_pre_hooks, m._backward_hooks, m._backward_pre_hooks))


@pytest.mark.parametrize("method", ["gradcam", "guided_gradcam"])  # the two that hook modules
def test_the_shared_model_is_left_untouched(method, student):
    analysis = make_analysis(walker_frames())
    with torch.no_grad():
        before = student(analysis.clip, analysis.embedding)
    ex.explain(analysis, method, model=student)
    assert _hooks(student) == 0
    assert all(p.grad is None for p in student.parameters())
    assert not student.training
    assert all(m.inplace for m in student.modules() if isinstance(m, nn.ReLU))
    with torch.no_grad():
        assert torch.equal(student(analysis.clip, analysis.embedding), before)


def test_concurrent_explanations_equal_sequential_ones(student):
    """8 threads on ONE shared model, Grad-CAM and guided Grad-CAM (which rewires every
    ReLU's backward pass) interleaved: each result equals the one computed alone."""
    cases = [(make_analysis(walker_frames(shift=12 * i - 42, seed=i % 4)),
              "gradcam" if i % 2 == 0 else "guided_gradcam") for i in range(8)]
    alone = [ex.explain(a, m, model=student).maps for a, m in cases]
    together: list[np.ndarray | None] = [None] * 8
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(i: int) -> None:
        try:
            start.wait()
            together[i] = ex.explain(cases[i][0], cases[i][1], model=student).maps
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)
    assert _hooks(student) == 0


def test_faithfulness_of_a_map_whose_evidence_is_known(two_walkers):
    model = HalfModel()
    result = ex.explain(two_walkers, "gradcam", model=model)
    score = ex.faithfulness(two_walkers, result, fraction=0.10, n_random=5, model=model)
    assert score.target == CLASSES[0] and score.fraction == 0.10
    assert score.top_drop > 0.05
    assert score.top_drop > score.random_drop
    assert score.ratio > 1.0
    assert score.ratio == pytest.approx(score.top_drop / max(score.random_drop, RANDOM_DROP_FLOOR))
    # Blanking where the map says the evidence is NOT (the other class's map) costs ~nothing.
    other = ex.explain(two_walkers, "gradcam", target=CLASSES[1], model=model)
    other.target = CLASSES[0]
    assert ex.faithfulness(two_walkers, other, model=model).top_drop < 0.25 * score.top_drop


def test_faithfulness_is_reproducible(two_walkers):
    model = HalfModel()
    result = ex.explain(two_walkers, "gradcam", model=model)
    a = ex.faithfulness(two_walkers, result, seed=3, model=model)
    b = ex.faithfulness(two_walkers, result, seed=3, model=model)
    assert a == b


def test_write_explanation_writes_pngs_strip_and_json(tmp_path, two_walkers):
    import cv2

    model = HalfModel()
    video = make_analysis(walker_frames())
    video.source_frames = np.full((8, 224, 224, 3), 90, dtype=np.uint8)
    video.original_frames = np.full((8, 90, 160, 3), 90, dtype=np.uint8)
    video.placements = np.repeat(RIGHT_HALF_CROP[None], 8, axis=0)
    result = ex.explain(video, model=model)
    score = ex.faithfulness(video, result, model=model)
    paths = ex.write_explanation(result, video, tmp_path / "out", faithfulness=score)
    names = {p.name for p in paths}
    assert {f"frame_{i}.png" for i in range(8)} <= names
    assert {f"source_frame_{i}.png" for i in range(8)} <= names
    assert {f"original_frame_{i}.png" for i in range(8)} <= names
    assert {"strip.png", "explanation.json"} <= names
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    frame = cv2.imread(str(tmp_path / "out" / "frame_0.png"))
    np.testing.assert_array_equal(frame[..., ::-1], result.overlays[0])  # PNGs are RGB-correct
    strip = cv2.imread(str(tmp_path / "out" / "strip.png"))
    assert strip.shape == (3 * 224, 8 * 224, 3)  # model frames, source frames, whole originals
    record = json.loads((tmp_path / "out" / "explanation.json").read_text())
    assert record["method"] == "gradcam" and record["target"] == "Normal"
    assert len(record["frame_importance"]) == 8
    assert record["analysis"]["path"] == "synthetic"
    assert record["faithfulness"]["ratio"] == pytest.approx(score.ratio)
