"""Slow tier (`python -m pytest -m slow`): training and the shipped weights on the REAL data.

Both tests need `../shared/data/gait-keypoints`. Outside CI they skip when it is absent (a
fresh clone has no ../shared); under CI (`CI=true`) they fail instead, since CI has the data
and a silent skip would hide that nothing was checked.

- Training: `python -m gaitlab train` (through `gaitlab.cli.main`, in this process) on a small real subset
  (3 classes x 4 subjects, 24 walks) for a tiny budget (6 epochs, ~30 s on 2 cores): the loss
  falls, below what learning the class frequencies alone can reach, and the weights it writes
  load and answer.
- The shipped weights: one walk of each of up to 6 subjects per class (48 walks, all nine
  classes), scored video-only as `analyze` scores a keypoint file. The shipped student was
  trained on all 216 walks, so these walks are in-sample: this checks that the shipped file is
  a working model (a broken, random or mislabelled one scores near chance, 1/9 ≈ 0.11), not how
  well it generalises (that is the cross-validated 0.43 in weights/MODEL_CARD.md).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from gaitlab.constants import CLASSES, NUM_CLASSES
from gaitlab.training.dataset import DEFAULT_DATA_DIR, load_gait_data
from gaitlab.training.train import evaluate_student
from gaitlab.weights import DEFAULT_WEIGHTS, load_model, load_weights

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Measured (2 cores, 2026-12-07): the shipped student scores 0.875 accuracy / 0.889 balanced
# accuracy on these 48 walks (it was trained on all walks, these among them; out of fold the
# protocol measures 0.80), all nine classes recalled at least half the time; an untrained
# student 0.125. Chance is 1/9. The bar is the binomial 5% floor of 48 walks at the protocol's
# 0.80, so retrained weights that fall to the previous recipe's level (0.52) fail.
SHIPPED_MIN_ACCURACY = 0.70
SHIPPED_MIN_BALANCED_ACCURACY = 0.70
SHIPPED_MIN_CLASSES_RECOGNISED = 7
SUBJECTS_PER_CLASS = 6

TRAIN_CLASSES = ("Normal", "PD_Mild", "Disabled_Assistive")
TRAIN_SUBJECTS_PER_CLASS = 4
TRAIN_ARGS = ["train", "--epochs", "6", "--clips-per-video", "2", "--bank-clips", "4", "--batch-size", "8", "--lr", "3e-3", "--val-fold", "-1"]


@pytest.fixture(scope="module")
def gait_data(shared_data):
    return load_gait_data(shared_data)


def first_subjects(meta, classes, n_subjects: int, one_walk: bool) -> np.ndarray:
    """Rows of the first `n_subjects` subjects (metadata order) of each class in `classes`."""
    rows = []
    for label in classes:
        of_class = meta[meta["label"] == label]
        subjects = list(dict.fromkeys(of_class["subject_id"]))[:n_subjects]
        chosen = of_class[of_class["subject_id"].isin(subjects)]
        if one_walk:
            chosen = chosen.drop_duplicates("subject_id")
        rows.extend(chosen.index)
    return np.array(sorted(rows))


def prior_only_loss(n_classes_present: int, smoothing: float) -> float:
    """The lowest label-smoothed cross-entropy a model reaches by learning the (balanced) class
    frequencies alone, ignoring the clip: the entropy of the mean smoothed target."""
    on = (1 - smoothing) / n_classes_present + smoothing / NUM_CLASSES
    off = smoothing / NUM_CLASSES
    return -(n_classes_present * on * math.log(on) + (NUM_CLASSES - n_classes_present) * off * math.log(off))


def test_training_on_a_real_subset_learns_and_writes_loadable_weights(gait_data, tmp_path, capsys):
    rows = first_subjects(gait_data.meta, TRAIN_CLASSES, TRAIN_SUBJECTS_PER_CLASS, one_walk=False)
    sub = gait_data.meta.loc[rows]
    assert sorted(sub["label"].unique()) == sorted(TRAIN_CLASSES) and len(sub) >= 20
    # The subset as a data folder in the real layout (raw sequences, gaps and all).
    root = tmp_path / "data"
    root.mkdir()
    sub[["video_id", "label", "subject_id"]].to_csv(root / "metadata.csv", index=False)
    with np.load(DEFAULT_DATA_DIR / "keypoints.npz") as raw:
        np.savez(root / "keypoints.npz", **{v: raw[v] for v in sub["video_id"]})

    from gaitlab.cli import main  # imported here: the CLI pulls in most of the package

    out = tmp_path / "w" / "student.safetensors"
    assert main([*TRAIN_ARGS, "--data", str(root), "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "epoch 6/6" in printed and f"saved {out}" in printed

    model, card = load_weights(out)
    losses = [h["loss"] for h in card["training"]["history"]]
    assert len(losses) == 6
    # Measured: 1.91 → 1.23. Learning only which 3 classes occur gets to 1.39, no lower.
    floor = prior_only_loss(len(TRAIN_CLASSES), card["training"]["config"]["label_smoothing"])
    assert losses[-1] < losses[0] - 0.3, losses
    assert losses[-1] < floor - 0.05, f"final loss {losses[-1]:.3f} not below the class-prior floor {floor:.3f}"
    assert card["training_data"]["usable_videos"] == len(sub)

    # The written weights load and answer: a distribution over the nine classes per walk, and
    # on its own training walks the model beats chance among the three classes it saw.
    subset = load_gait_data(root)
    m = evaluate_student(model, subset, np.arange(len(subset.meta)), with_note=False)["video_only"]
    assert m["n"] == len(sub)
    assert m["accuracy"] > 1 / len(TRAIN_CLASSES) + 0.1, m["accuracy"]


def test_shipped_weights_beat_chance_on_real_walks(gait_data):
    assert DEFAULT_WEIGHTS.is_file()
    model = load_model(DEFAULT_WEIGHTS)
    rows = first_subjects(gait_data.meta, CLASSES, SUBJECTS_PER_CLASS, one_walk=True)
    assert set(gait_data.meta.loc[rows, "label"]) == set(CLASSES) and len(rows) >= 40
    m = evaluate_student(model, gait_data, rows, with_note=False)["video_only"]
    assert m["n"] == len(rows)
    assert m["accuracy"] >= SHIPPED_MIN_ACCURACY, (
        f"shipped weights: accuracy {m['accuracy']:.3f} on {len(rows)} real walks, chance {1 / NUM_CLASSES:.3f}")
    assert m["balanced_accuracy"] >= SHIPPED_MIN_BALANCED_ACCURACY, m["balanced_accuracy"]
    # Not a few classes for everything: most classes recognised half the time (nine measured).
    recognised = [c for c, r in m["per_class_recall"].items() if r is not None and r >= 0.5]
    assert len(recognised) >= SHIPPED_MIN_CLASSES_RECOGNISED, m["per_class_recall"]
