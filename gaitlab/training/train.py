"""Training and evaluating the student video model on rendered keypoint silhouettes.

`train_student` fits a model on subject-grouped training rows of a `GaitData`;
`evaluate_student` scores it per video (video-only and with a note); `run_train` is the
`python -m gaitlab train` command, which also writes the weights and their model card. With
`--distill` it first trains the keypoint teacher (`gaitlab.training.teacher`) on the same training rows
and distils its soft targets into the student (`train_distillation_teacher`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from gaitlab import text
from gaitlab.inference import clip_probabilities
from gaitlab.constants import CLASSES, CLIP_FRAMES, EMBED_DIM, FRAME_SIZE, IMAGENET_MEAN, IMAGENET_STD, NUM_CLASSES
from gaitlab.training.dataset import (ASPECT_JITTER, DATASET_NAME, DEFAULT_DATA_DIR, SPAN_JITTER, GaitData, TrainingClips,
                      load_gait_data, subject_folds)
from gaitlab.errors import InputError
from gaitlab.model import build, count_flops, count_parameters
from gaitlab.training.notes import DEFAULT_DROP_RATE, make_note
from gaitlab.weights import DEFAULT_WEIGHTS, save_weights

# teacher_probs(rows [B], indices [B, 8]) → soft targets [B, 9]: the teacher's class
# probabilities (already at `TrainConfig.temperature`) for the same video moments.
TeacherFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ProgressFn = Callable[[dict[str, Any]], None]

KOA_PD_NM_CITATION = ('N. Kour, S. Gupta, S. Arora, "A vision-based gait dataset for knee osteoarthritis and '
                      "Parkinson's disease analysis with severity levels\" (2022), CC BY 4.0")


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the model card)."""

    epochs: int = 10
    clips_per_video: int = 4  # fresh random clips drawn per training video per epoch
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.05  # of all steps, before the cosine decay
    seed: int = 0
    val_fold: int = 0  # -1: no hold-out, train on all rows
    n_folds: int = 5
    note_drop_rate: float = DEFAULT_DROP_RATE
    class_balance: float = 1.0  # 1: classes drawn equally often; 0: natural frequencies
    architecture: str = "gait_student"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    num_workers: int = 0  # rendering processes; on 2 shared cores they mostly compete
    threads: int = 2
    eval_every: int = 1  # epochs between hold-out checks (the last epoch is always checked)
    # Knowledge distillation (used only when a teacher is given to train_student).
    distill_weight: float = 0.5
    temperature: float = 2.0


@dataclass
class TrainResult:
    """A trained model, its per-epoch history and hold-out metrics (empty without hold-out)."""

    model: nn.Module
    history: list[dict[str, float]]  # per epoch: loss, lr, hold-out figures, seconds
    metrics: dict[str, Any]  # evaluate_student of the final model
    wall_time_s: float


# --- Metrics ---------------------------------------------------------------------------------


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """ECE: |accuracy − confidence| per equal-width confidence bin, weighted by bin size."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    # Bin i holds confidences in (i/n, (i+1)/n]; confidence is never 0 for a softmax.
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        mask = bins == b
        ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Metrics of per-video probabilities `probs` [N, 9] against class ids `y_true` [N].

    Balanced accuracy and macro-F1 average over the classes present in `y_true` (a fold
    cannot test a class it does not hold); per-class recall is None for absent classes.
    """
    # Imported here so that sklearn does not slow every `gaitlab` command's start-up.
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

    y_true, y_pred, present = np.asarray(y_true), probs.argmax(axis=1), np.unique(y_true)
    recall = recall_score(y_true, y_pred, labels=list(range(NUM_CLASSES)), average=None, zero_division=0)
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": expected per fold
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(present), average="macro", zero_division=0)),
        "per_class_recall": {c: (float(recall[i]) if i in present else None) for i, c in enumerate(CLASSES)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=list(range(NUM_CLASSES))).tolist(),
        "ece": expected_calibration_error(y_true, probs),
    }


# How a student is scored on a walk: without a note, with a synthetic note (never dropped), and
# with notes drawn as in training (half dropped, some misleading). Notes are fixed per row by `seed`.
NOTE_CONDITIONS = ("video_only", "fused", "as_trained")


def evaluation_note(label: int, row: int, seed: int, condition: str) -> str:
    """The note of `row` (class id `label`) under a `NOTE_CONDITIONS` entry ("" = no note)."""
    if condition == "video_only":
        return ""
    if condition == "fused":
        return make_note(CLASSES[label], np.random.default_rng([seed, row]), drop_rate=0.0)
    return make_note(CLASSES[label], np.random.default_rng([seed, row, 1]), drop_rate=DEFAULT_DROP_RATE)


@torch.no_grad()
def clip_log_probabilities(model: nn.Module, data: GaitData, rows: np.ndarray, seed: int = 0,
                           conditions: tuple[str, ...] = NOTE_CONDITIONS) -> dict[str, list[np.ndarray]]:
    """{condition: [float [n_clips_i, 9] per row]}: log of the calibrated clip probabilities of
    the plain `keypoint_clips` of every row, scored as `analyze` scores (`clip_probabilities`)."""
    model.eval()
    out: dict[str, list[np.ndarray]] = {c: [] for c in conditions}
    for row in rows:
        masks = np.stack([frames for _, frames in data.plain_clips(int(row))])
        for condition in conditions:
            note = evaluation_note(int(data.labels[row]), int(row), seed, condition)
            emb = torch.from_numpy(text.embed_note(note) if note else np.zeros(EMBED_DIM, np.float32)).unsqueeze(0)
            out[condition].append(np.log(np.clip(clip_probabilities(model, masks, emb), 1e-12, None)))
    return out


def evaluate_student(model: nn.Module, data: GaitData, idx: np.ndarray, seed: int = 0,
                     with_note: bool = True) -> dict[str, Any]:
    """Per-video metrics on rows `idx`: `video_only` (no note) and, with `with_note`, `fused`
    (a synthetic note, never dropped, fixed per video by `seed`), plus the held-out counts.
    A video's probabilities are the mean of its clips' (as in `analyze`)."""
    was_training = model.training
    idx = np.asarray(idx)
    conditions = ("video_only", "fused") if with_note else ("video_only",)
    logp = clip_log_probabilities(model, data, idx, seed, conditions)
    model.train(was_training)
    y = data.labels[idx]
    result = {"n_videos": int(len(idx)), "n_subjects": int(data.meta.loc[idx, "subject_id"].nunique())}
    for c in conditions:
        result[c] = classification_metrics(y, np.stack([np.exp(lp).mean(axis=0) for lp in logp[c]]))
    return result


# --- Training --------------------------------------------------------------------------------


def student_loss(logits: torch.Tensor, labels: torch.Tensor, config: TrainConfig,
                 soft_targets: torch.Tensor | None = None) -> torch.Tensor:
    """Label-smoothed cross-entropy; with `soft_targets` [B, 9], blended with the KL divergence
    to the teacher at `config.temperature` (scaled by T² so its gradients keep their size)."""
    hard = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
    if soft_targets is None:
        return hard
    t = config.temperature
    soft = F.kl_div(F.log_softmax(logits / t, dim=1), soft_targets, reduction="batchmean") * t * t
    return (1 - config.distill_weight) * hard + config.distill_weight * soft


def _lr_lambda(total_steps: int, warmup_fraction: float) -> Callable[[int], float]:
    """LR factor per step: linear warm-up, then cosine decay to 0 at `total_steps`."""
    warmup = max(1, int(total_steps * warmup_fraction))

    def factor(step: int) -> float:
        done = min((step - warmup) / max(1, total_steps - warmup), 1.0)
        return (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * done))
    return factor


def train_student(data: GaitData, train_idx: np.ndarray, val_idx: np.ndarray, config: TrainConfig,
                  progress: ProgressFn | None = None, teacher_probs: TeacherFn | None = None) -> TrainResult:
    """Train a fresh `config.architecture` on rows `train_idx`; check it on `val_idx` (may be empty).

    AdamW (no decay on biases and norms) with linear warm-up then cosine decay per step.
    `progress` receives {"event": "step" | "epoch", ...} dicts. `teacher_probs`, when given,
    supplies soft targets for knowledge distillation (see `TeacherFn`).
    """
    start = time.perf_counter()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build(config.architecture, **config.architecture_kwargs)
    clips = TrainingClips(data, train_idx, config.clips_per_video, config.note_drop_rate, config.class_balance, config.seed)
    loader = DataLoader(clips, batch_size=config.batch_size, num_workers=config.num_workers)
    steps_per_epoch = math.ceil(len(clips) / config.batch_size)
    groups = [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": config.weight_decay},
              {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(config.epochs * steps_per_epoch, config.warmup_fraction))
    history: list[dict[str, float]] = []
    metrics: dict[str, Any] = {}
    step = 0
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        clips.set_epoch(epoch)
        model.train()
        losses = []
        for batch in loader:
            logits = model(batch["clip"], batch["embedding"])
            soft = teacher_probs(batch["row"], batch["indices"]) if teacher_probs else None
            loss = student_loss(logits, batch["label"], config, soft)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            step += 1
            if progress:
                progress({"event": "step", "epoch": epoch + 1, "step": step, "loss": losses[-1]})
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "lr": sched.get_last_lr()[0]}
        last = epoch + 1 == config.epochs
        if len(val_idx) and ((epoch + 1) % config.eval_every == 0 or last):
            # Video-only checks on the way (half the cost); the final one adds the note.
            metrics = evaluate_student(model, data, val_idx, seed=config.seed, with_note=last)
            record.update(val_accuracy=metrics["video_only"]["accuracy"],
                          val_balanced_accuracy=metrics["video_only"]["balanced_accuracy"])
            if last:
                record["val_fused_accuracy"] = metrics["fused"]["accuracy"]
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        if progress:
            progress({"event": "epoch", "epochs": config.epochs, **record})
    model.eval()  # the last epoch was always evaluated: `metrics` is the final model's
    return TrainResult(model=model, history=history, metrics=metrics, wall_time_s=time.perf_counter() - start)


# --- Distillation ----------------------------------------------------------------------------

DISTILL_SCOPE = "window"  # the teacher's opinion of the same stretch of walking as the clip


def train_distillation_teacher(data: GaitData, train_idx: np.ndarray, val_idx: np.ndarray, config: TrainConfig,
                               teacher_config: Any = None) -> tuple[TeacherFn, dict[str, Any]]:
    """Train the keypoint teacher on the student's training rows `train_idx` and return its soft
    targets (`teacher_soft_targets` at `config.temperature`, scope "window") plus the card's
    `distillation` record: teacher settings, training history and time, and, when `val_idx`
    is not empty, the teacher's own hold-out metrics (whole sequences, temperature 1).

    The targets are in-sample: the teacher has seen these rows, so it is more confident on
    them than on new walkers; the temperature (≥ 2 recommended) is what softens them.
    `teacher_config` is a `teacher.TeacherConfig`; its default takes `config.seed`.
    """
    from gaitlab.training.teacher import TeacherConfig, teacher_soft_targets, train_teacher  # teacher imports this module

    if not config.temperature > 0:
        raise InputError(f"the teacher temperature must be > 0, not {config.temperature}.")
    if not 0.0 <= config.distill_weight <= 1.0:
        raise InputError(f"the distillation weight must be within 0..1, not {config.distill_weight}.")
    teacher_config = teacher_config or TeacherConfig(seed=config.seed)
    train_idx, val_idx = np.asarray(train_idx), np.asarray(val_idx)
    start = time.perf_counter()
    teacher = train_teacher([data.sequence(int(r)) for r in train_idx], data.labels[train_idx], teacher_config)
    seconds = time.perf_counter() - start
    record: dict[str, Any] = {
        "method": "knowledge distillation: loss = (1 - weight) * label-smoothed CE + weight * T^2 * "
                  "KL(teacher soft targets at T || student softmax(logits / T))",
        "weight": config.distill_weight,
        "temperature": config.temperature,
        "scope": DISTILL_SCOPE,
        "targets": "in-sample: the teacher was trained on the same training rows as the student "
                   "(no hold-out row reaches it); for each training clip, its window over the clip's frames",
        "teacher": {
            "architecture": type(teacher.net).__name__,
            "input": "full-rate keypoint sequence (gap-filled), windows of whole estimated gait cycles",
            "config": asdict(teacher_config),
            "parameters": count_parameters(teacher.net),
            "history": teacher.history,
            "wall_time_s": round(seconds, 1),
        },
    }
    if len(val_idx):
        probs = teacher.predict_proba([data.sequence(int(r)) for r in val_idx])
        record["teacher"]["metrics"] = classification_metrics(data.labels[val_idx], probs)
    sequences = {int(r): data.sequence(int(r)) for r in train_idx}
    return teacher_soft_targets(teacher, sequences, temperature=config.temperature, scope=DISTILL_SCOPE), record


# --- Command line ----------------------------------------------------------------------------


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m gaitlab train`."""
    d = TrainConfig()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="gait-keypoints folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="weights file (.safetensors); card beside it")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--clips-per-video", type=int, default=d.clips_per_video, help="random clips per video per epoch")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--val-fold", type=int, default=d.val_fold,
                        help=f"subject-grouped fold held out (0..{d.n_folds - 1}); -1 trains on all data")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--workers", type=int, default=d.num_workers, help="clip-rendering processes")
    parser.add_argument("--distill", action="store_true",
                        help="train the keypoint teacher on the same training rows and distil its soft targets")
    parser.add_argument("--teacher-temperature", type=float, default=d.temperature,
                        help="softmax temperature of the distillation (≥ 2 recommended: the teacher saw these rows)")
    parser.add_argument("--distill-weight", type=float, default=d.distill_weight,
                        help="share of the loss taken by the teacher's soft targets (0..1)")


def command_line() -> str:
    """The command as typed: `python -m gaitlab …` shows up in argv as gaitlab/__main__.py."""
    argv = sys.argv
    if argv and Path(argv[0]).name == "__main__.py":
        return "python -m " + Path(argv[0]).parent.name + " " + shlex.join(argv[1:])
    return shlex.join(argv)


def _split_counts(data: GaitData, idx: np.ndarray) -> dict[str, Any]:
    sub = data.meta.loc[idx]
    per_class = {c: [int((sub["label"] == c).sum()), int(sub.loc[sub["label"] == c, "subject_id"].nunique())]
                 for c in CLASSES}
    return {"videos": int(len(sub)), "subjects": int(sub["subject_id"].nunique()), "videos_subjects_per_class": per_class}


def _status(fold: int, distilled: bool) -> str:
    kind = ("distilled student: trained on rendered keypoint silhouettes with soft targets from the keypoint teacher"
            if distilled else "student trained on rendered keypoint silhouettes and the labels alone")
    if fold < 0:
        return (f"{kind}, on all usable walks, after the 5-fold subject-grouped protocol chose the recipe; its "
                "figures are that protocol's out-of-fold figures for the same recipe. Not a clinical tool.")
    return f"{kind}, with subject-grouped fold {fold} held out; an experiment of the protocol, not a clinical tool."


def build_card(data: GaitData, config: TrainConfig, result: TrainResult, train_idx: np.ndarray, val_idx: np.ndarray,
               distillation: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model card of a trained student (save_weights adds classes, tensors and SHA-256).

    `distillation`: the record of `train_distillation_teacher` when the student was distilled
    (None: trained on the labels alone; `config.distill_weight` / `temperature` then unused)."""
    fold = config.val_fold
    split = (f"StratifiedGroupKFold(n_splits={config.n_folds}, shuffle=True, random_state={config.seed}) over "
             f"subject_id, stratified by label; fold {fold} of {config.n_folds} held out (no subject on both sides)"
             if fold >= 0 else "no hold-out: trained on all usable videos (see the cross-validation protocol)")
    return {
        "architecture": config.architecture,
        "architecture_kwargs": config.architecture_kwargs,
        "view": "silhouette",
        "clip": {"frames": CLIP_FRAMES, "size": FRAME_SIZE, "channels": 3,
            "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
            "sampling": (
                "inference: clips of 8 frames evenly spaced over one estimated gait cycle "
                "(autocorrelation of ankle distance), up to 12 clips tiling the walk (clips.plan_clips); "
                "video probabilities = mean of clip softmaxes. training: random start, span = cycle x "
                f"U{SPAN_JITTER} (frame-rate jitter), aspect x U{ASPECT_JITTER}, heavily augmented silhouette rendering"
            ),
        },
        "embedder": {"name": text.NAME, "dim": EMBED_DIM},
        "training_data": {
            "dataset": DATASET_NAME, "usable_videos": int(len(data.meta)),
            "subjects": int(data.meta["subject_id"].nunique()),
            "dropped_videos": data.dropped.to_dict(orient="records"), "train": _split_counts(data, train_idx),
            "sources": [KOA_PD_NM_CITATION, "disabled-gait set (Disabled_Assistive, Disabled_NonAssistive)"],
            "notes": "synthetic clinical notes (gaitlab.training.notes), never naming the diagnosis; "
                     f"dropped for {config.note_drop_rate:.0%} of training samples",
        },
        "protocol": {
            "split": split, "val_fold": fold,
            "validation": _split_counts(data, val_idx) if len(val_idx) else None,
            "caveat": "PD_Severe has one subject: it is either trained on or tested on, never both.",
        },
        "metrics": result.metrics,
        "training": {"config": asdict(config), "history": result.history},
        "distillation": distillation,
        "status": _status(fold, distillation is not None),
        "command": command_line(),
        "wall_time_s": round(result.wall_time_s, 1),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": count_parameters(result.model),
        "flops": count_flops(result.model),
    }


def _print_progress(event: dict[str, Any]) -> None:
    if event["event"] == "step" and event["step"] % 25 == 0:
        print(f"  step {event['step']:5d}  loss {event['loss']:.3f}", flush=True)
    if event["event"] == "epoch":
        val = f"  val acc {event['val_accuracy']:.3f}  bal {event['val_balanced_accuracy']:.3f}" if "val_accuracy" in event else ""
        val += f"  fused {event['val_fused_accuracy']:.3f}" if "val_fused_accuracy" in event else ""
        print(f"epoch {event['epoch']}/{event['epochs']}  loss {event['loss']:.3f}{val}  {event['seconds']:.0f} s", flush=True)


def _print_metrics(name: str, m: dict[str, Any]) -> None:
    print(f"{name}: accuracy {m['accuracy']:.3f}  balanced {m['balanced_accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  ECE {m['ece']:.3f}")
    print("  recall: " + ", ".join(f"{c} {r:.2f}" for c, r in m["per_class_recall"].items() if r is not None))


def run_train(args: argparse.Namespace) -> int:
    """`python -m gaitlab train`: train on the chosen split, report, save weights + card."""
    config = TrainConfig(epochs=args.epochs, clips_per_video=args.clips_per_video, batch_size=args.batch_size,
                         lr=args.lr, val_fold=args.val_fold, seed=args.seed, num_workers=args.workers,
                         distill_weight=args.distill_weight, temperature=args.teacher_temperature)
    distill = bool(getattr(args, "distill", False))
    try:
        if not -1 <= config.val_fold < config.n_folds:
            raise InputError(f"--val-fold must be -1 or 0..{config.n_folds - 1}, not {config.val_fold}.")
        if distill and not config.temperature > 0:
            raise InputError(f"--teacher-temperature must be > 0, not {config.temperature}.")
        if distill and not 0.0 <= config.distill_weight <= 1.0:
            raise InputError(f"--distill-weight must be within 0..1, not {config.distill_weight}.")
        data = load_gait_data(args.data)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.val_fold >= 0:
        train_idx, val_idx = subject_folds(data.meta, config.n_folds, config.seed)[config.val_fold]
    else:
        train_idx, val_idx = np.arange(len(data.meta)), np.array([], dtype=int)
    print(f"{len(data.meta)} usable videos ({len(data.dropped)} dropped); train {len(train_idx)} videos, "
          f"hold-out {len(val_idx)} videos / {data.meta.loc[val_idx, 'subject_id'].nunique()} subjects", flush=True)
    teacher_probs, distillation = None, None
    if distill:
        if config.temperature < 2:
            print(f"warning: teacher temperature {config.temperature:g} < 2: the teacher's targets on its own "
                  "training rows are over-confident", flush=True)
        print(f"training the keypoint teacher on the {len(train_idx)} training videos …", flush=True)
        teacher_probs, distillation = train_distillation_teacher(data, train_idx, val_idx, config)
        t = distillation["teacher"]
        print(f"teacher: {len(t['history'])} epochs, final loss {t['history'][-1]['loss']:.3f}, {t['wall_time_s']:.0f} s; "
              f"distilling at T={config.temperature:g}, weight {config.distill_weight:g}", flush=True)
        if "metrics" in t:
            _print_metrics("teacher (hold-out, whole sequences)", t["metrics"])
    result = train_student(data, train_idx, val_idx, config, progress=_print_progress, teacher_probs=teacher_probs)
    for kind in ("video_only", "fused") if result.metrics else ():
        _print_metrics(kind, result.metrics[kind])
    card = build_card(data, config, result, train_idx, val_idx, distillation)
    if config.val_fold < 0:
        from gaitlab.training.protocol import attach_to_card  # the protocol imports this module

        attach_to_card(card, config, distill)
    save_weights(result.model, card, args.out)
    print(f"saved {args.out} ({result.wall_time_s:.0f} s)")
    return 0

