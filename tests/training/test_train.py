"""gaitlab.training.train, gaitlab.metrics and the card: metrics, the loss, a few training steps on generated walkers, saving (fast)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

from gaitlab.cli import main as cli_main
from gaitlab.constants import CLASSES
from gaitlab.training.dataset import GaitData
from gaitlab.metrics import classification_metrics, expected_calibration_error
from gaitlab.training.config import TrainConfig
from gaitlab.training.model_card import build_card
from gaitlab.training.train import evaluate_student, student_loss, train_distillation_teacher, train_student
from gaitlab.weights import load_weights, save_weights

# Two clearly different gaits: an upright brisk walker and a stooped, slow, stiff, limping one.
GAITS = {
    "Normal": dict(speed=0.8, cadence=110, step_length=0.45, arm_swing=35, knee_flexion=60),
    "KOA_Severe": dict(speed=0.3, cadence=80, step_length=0.22, arm_swing=5, asymmetry=0.7,
                       knee_flexion=20, trunk_flexion=30),
}


def walker_sequence(label: str, seed: int, n_frames: int = 90) -> np.ndarray:
    """[n_frames, 33, 4] keypoints of one generated walker of class `label`."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints

    rng = np.random.default_rng(seed)
    params = WalkerParams(**GAITS[label], height=rng.uniform(0.5, 0.7), direction=int(rng.choice([-1, 1])),
                          phase=rng.uniform(0, 1))
    return walk_keypoints(params, n_frames, fps=30.0)


def walker_data(n_per_class: int) -> GaitData:
    """One video per generated subject, `n_per_class` subjects of each class in `GAITS`."""
    rows, seqs = [], {}
    for c, label in enumerate(GAITS):
        for s in range(n_per_class):
            vid = f"{label}-{s}"
            seqs[vid] = walker_sequence(label, seed=100 * c + s)
            rows.append({"video_id": vid, "label": label, "subject_id": vid})
    return GaitData.from_sequences(pd.DataFrame(rows), seqs)


@pytest.fixture(scope="module")
def trained():
    data = walker_data(3)
    config = TrainConfig(epochs=3, clips_per_video=2, bank_clips=4, batch_size=4, lr=3e-3, seed=0, eval_every=10)
    val = np.array([0, len(data.meta) - 1])
    return data, config, val, train_student(data, np.arange(len(data.meta)), val, config)


def test_ece_on_a_hand_computed_example():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    y = np.array([0, 1, 1, 0])
    # Equal-count bins (10, at most one per walk): each of the 4 walks is its own bin.
    # |1-0.9| + |0-0.8| + |1-0.7| + |0-0.55|, each weighted 1/4.
    assert expected_calibration_error(y, probs) == pytest.approx((0.1 + 0.8 + 0.3 + 0.55) / 4)
    # Two predictions in one bin are averaged before the difference is taken.
    probs2 = np.array([[0.81, 0.19], [0.82, 0.18]])
    assert expected_calibration_error(np.array([0, 1]), probs2, n_bins=1) == pytest.approx(abs(0.5 - 0.815))
    # Bins hold equal counts (sorted by confidence), not equal widths: here one walk each.
    assert expected_calibration_error(np.array([0, 1]), probs2) == pytest.approx((abs(1 - 0.81) + abs(0 - 0.82)) / 2)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(3)
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 7, 7, 8])
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=len(y))
    probs[[0, 3, 5, 9]] += np.eye(len(CLASSES))[y[[0, 3, 5, 9]]]  # some right answers
    probs /= probs.sum(1, keepdims=True)
    pred = probs.argmax(1)
    m = classification_metrics(y, probs)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    present = sorted(set(y))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, labels=present, average="macro"))
    recall = recall_score(y, pred, labels=present, average=None)
    for c, r in zip(present, recall):
        assert m["per_class_recall"][CLASSES[c]] == pytest.approx(r)
    assert m["per_class_recall"]["PD_Severe"] is None  # absent from this hold-out
    assert np.array_equal(m["confusion_matrix"], confusion_matrix(y, pred, labels=range(len(CLASSES))))
    assert m["n"] == len(y) and 0 <= m["ece"] <= 1
    json.dumps(m)  # goes into the model card as is


def test_student_loss_distillation_hook():
    torch.manual_seed(0)
    logits, labels = torch.randn(4, 9), torch.tensor([0, 1, 2, 3])
    config = TrainConfig(label_smoothing=0.1, distill_weight=0.5, temperature=2.0)
    hard = student_loss(logits, labels, config)
    assert hard == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)))
    # Soft targets equal to the student's own tempered output add nothing but the hard half.
    own = torch.softmax(logits / 2.0, dim=1)
    assert student_loss(logits, labels, config, own) == pytest.approx(0.5 * float(hard), abs=1e-5)
    assert student_loss(logits, labels, config, torch.full((4, 9), 1 / 9)) > 0.5 * hard


def test_a_few_training_steps_make_the_loss_fall(trained):
    _, _, _, result = trained
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 3
    assert losses[-1] < losses[0] - 0.3, losses  # from ~ln 9 towards the two classes present
    assert result.wall_time_s > 0
    for kind in ("video_only", "fused"):
        assert result.metrics[kind]["n"] == 2
    assert not result.model.training


def test_evaluate_student_shapes(trained):
    data, _, val, result = trained
    m = evaluate_student(result.model, data, val)
    assert m["n_videos"] == 2 and m["n_subjects"] == 2
    assert len(m["video_only"]["confusion_matrix"]) == len(CLASSES)


def test_save_load_round_trip(trained, tmp_path):
    data, config, val, result = trained
    card = build_card(data, config, result, np.arange(len(data.meta)), val)
    path = tmp_path / "student.safetensors"
    save_weights(result.model, card, path)
    model, loaded = load_weights(path)
    clip, emb = torch.randn(2, 3, 8, 224, 224), torch.randn(2, 384)
    with torch.no_grad():
        assert torch.allclose(model(clip, emb), result.model(clip, emb), atol=1e-5)
    for key in ("view", "clip", "embedder", "training_data", "protocol", "metrics", "status", "command",
                "wall_time_s", "date", "parameters", "flops"):
        assert key in loaded, key
    assert loaded["architecture"] == "pose_student" and loaded["view"] == "pose_limbs"
    assert "Kour" in json.dumps(loaded["training_data"])


def test_run_train_end_to_end(tmp_path, capsys):
    """The CLI glue: a data folder in the real layout → progress lines → weights + card."""
    data = walker_data(5)
    root = tmp_path / "data"
    root.mkdir()
    data.meta[["video_id", "label", "subject_id"]].to_csv(root / "metadata.csv", index=False)
    np.savez(root / "keypoints.npz", **{v: data.sequences[v].astype(np.float16) for v in data.meta["video_id"]})
    out = tmp_path / "w" / "student.safetensors"
    assert cli_main(["train", "--data", str(root), "--out", str(out), "--epochs", "1", "--clips-per-video", "1",
                     "--bank-clips", "2", "--batch-size", "5", "--val-fold", "0"]) == 0
    printed = capsys.readouterr().out
    assert "epoch 1/1" in printed and "val acc" in printed
    _, card = load_weights(out)
    assert card["protocol"]["val_fold"] == 0 and card["protocol"]["validation"]["subjects"] == 2
    assert set(card["metrics"]) >= {"video_only", "fused"}


def test_run_train_rejects_a_missing_folder(tmp_path, capsys):
    assert cli_main(["train", "--data", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_distillation_runs_and_its_loss_falls(tmp_path):
    """--distill's path on generated walkers: a small teacher trained on the training rows only,
    its window soft targets fed to train_student, the loss falling, the card recording it all."""
    from gaitlab.training.teacher import TeacherConfig

    data = walker_data(3)
    train, val = np.arange(1, len(data.meta) - 1), np.array([0, len(data.meta) - 1])
    config = TrainConfig(epochs=3, clips_per_video=2, bank_clips=4, batch_size=4, lr=3e-3, seed=0, eval_every=10,
                         distill_weight=0.5, temperature=2.0)
    tcfg = TeacherConfig(epochs=6, windows_per_video=8, batch_size=16, channels=16, lr=5e-3, seed=0, members=1)
    targets, record = train_distillation_teacher(data, train, val, config, teacher_config=tcfg)
    seen = []

    def spy(rows, indices):
        soft = targets(rows, indices)
        seen.append((rows.clone(), soft))
        return soft

    result = train_student(data, train, np.array([], dtype=int), config, teacher_probs=spy)  # no hold-out: fast
    losses = [h["loss"] for h in result.history]
    # The blend starts lower than plain CE (the KL half is small at first): a relative fall.
    assert losses[-1] < 0.85 * losses[0], losses
    # Every bank clip got targets once, only for training rows, each a distribution over the nine classes.
    assert sum(len(r) for r, _ in seen) == config.bank_clips * len(train)
    assert set(torch.cat([r for r, _ in seen]).tolist()) <= set(train.tolist())
    soft = torch.cat([s for _, s in seen])
    assert soft.shape[1] == len(CLASSES) and torch.allclose(soft.sum(1), torch.ones(len(soft)), atol=1e-5)

    assert record["weight"] == 0.5 and record["temperature"] == 2.0 and record["scope"] == "window"
    assert record["teacher"]["config"]["epochs"] == 6 and len(record["teacher"]["history"]) == 6
    assert record["teacher"]["metrics"]["n"] == 2
    teacher = record.pop("_teacher")  # the trained teacher itself (run_training ships it), not card material
    assert teacher.predict_proba([data.sequence(0)]).shape == (1, len(CLASSES))
    card = build_card(data, config, result, train, val, record)
    save_weights(result.model, card, tmp_path / "distilled.safetensors")
    _, loaded = load_weights(tmp_path / "distilled.safetensors")
    assert loaded["distillation"]["teacher"]["architecture"] == "TemporalConvNet"
    assert loaded["status"].startswith("distilled")
    assert build_card(data, config, result, train, val)["distillation"] is None


@pytest.mark.parametrize("flags", [["--distill-weight", "1.5"], ["--teacher-temperature", "0"]])
def test_run_train_rejects_bad_distillation_settings(tmp_path, capsys, flags):
    assert cli_main(["train", "--data", str(tmp_path), "--distill", *flags]) == 2
    assert capsys.readouterr().err.startswith("error:")
