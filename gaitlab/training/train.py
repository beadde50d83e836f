"""Training and evaluating the student video model on pose frames drawn from keypoints.

`train_student(data, train_idx, val_idx, config)` fits a fresh model on rows `train_idx` of a
`GaitData` (random clips, uint8 [8, 224, 224, 3] pose frames, and synthetic notes) and returns a
`TrainResult`; `evaluate_student` scores a model per video on rows `idx` (video-only and with
a note: `metrics.classification_metrics` of the mean clip probabilities [N, 9]).
`train_distillation_teacher` first trains the keypoint teacher (`gaitlab.training.teacher`) on
the same training rows and returns its soft targets (a `teacher.TeacherFn`) for distillation.
`run_training` is what `python -m gaitlab train` runs: one split, optional distillation, and
the model card of the result (`model_card.build_card`).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gaitlab.constants import CLASSES, NUM_CLASSES
from gaitlab.errors import InputError
from gaitlab.calibration import temperature
from gaitlab.inference import clip_probabilities
from gaitlab.pipeline.clips import to_model_input
from gaitlab.metrics import classification_metrics
from gaitlab.model import build, count_parameters
from gaitlab.training.config import TrainConfig, TrainResult
from gaitlab.training.clip_bank import ClipBank
from gaitlab.training.dataset import GaitData, class_balanced_weights, subject_folds
from gaitlab.training.model_card import build_card
from gaitlab.training.notes import DEFAULT_DROP_RATE, make_note, note_bank, shared_embeddings
from gaitlab.training.teacher import Teacher, TeacherConfig, TeacherFn, teacher_soft_targets, train_teacher

ProgressFn = Callable[[dict[str, Any]], None]


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
    notes = {c: [evaluation_note(int(data.labels[r]), int(r), seed, c) for r in rows] for c in conditions}
    vectors = {c: shared_embeddings()(notes[c]) for c in conditions}
    t = temperature(model)
    for k, row in enumerate(rows):
        frames = np.stack([f for _, f in data.plain_clips(int(row))])
        if hasattr(model, "classify"):  # the visual path once, the note head per condition
            feats = model.features(torch.cat([to_model_input(f) for f in frames]))
            for condition in conditions:
                emb = torch.from_numpy(vectors[condition][k]).unsqueeze(0).expand(len(feats), -1)
                out[condition].append(torch.log_softmax(model.classify(feats, emb) / t, dim=1).numpy())
            continue
        for condition in conditions:
            emb = torch.from_numpy(vectors[condition][k]).unsqueeze(0)
            out[condition].append(np.log(np.clip(clip_probabilities(model, frames, emb), 1e-12, None)))
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


def _soft_targets(teacher_probs: TeacherFn, bank: ClipBank, ids: np.ndarray) -> torch.Tensor:
    """The teacher's soft targets [len(ids), 9] of bank entries `ids`, in chunks."""
    out = [teacher_probs(torch.from_numpy(bank.rows[c]), torch.from_numpy(bank.indices[c]))
           for c in np.array_split(ids, max(1, len(ids) // 256))]
    return torch.cat(out)


def train_student(data: GaitData, train_idx: np.ndarray, val_idx: np.ndarray, config: TrainConfig,
                  progress: ProgressFn | None = None, teacher_probs: TeacherFn | None = None,
                  bank: ClipBank | None = None) -> TrainResult:
    """Train a fresh `config.architecture` on rows `train_idx`; check it on `val_idx` (may be empty).

    Each epoch draws `clips_per_video` × len(train_idx) clips, classes equally often
    (`config.class_balance`), from a `ClipBank` of `config.bank_clips` augmented clips per
    training row (`bank`, when given, must hold them: the protocol shares one across folds),
    each with a synthetic note of its class (dropped at `config.note_drop_rate`). With
    `config.mixup` > 0, pairs of clips, notes and targets are blended (mixup, Beta(α, α)).
    AdamW (no decay on biases and norms) with linear warm-up then cosine decay per step.
    `progress` receives {"event": "step" | "epoch", ...} dicts. `teacher_probs`, when given,
    supplies soft targets for knowledge distillation (see `teacher.TeacherFn`), computed once
    per bank clip.
    """
    start = time.perf_counter()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build(config.architecture, **config.architecture_kwargs)
    train_idx = np.asarray(train_idx)
    pool = getattr(model, "input_pool", 1)
    if bank is None:
        bank = ClipBank(data, train_idx, config.bank_clips, pool, config.seed)
    if bank.pool != pool:
        raise ValueError(f"the clip bank is pooled {bank.pool}x, the model wants {pool}x")
    visual = model.pooled_features if hasattr(model, "pooled_features") else None
    mine = np.concatenate([bank.ids_of(r) for r in train_idx])
    soft_all = torch.zeros(len(bank), NUM_CLASSES)
    if teacher_probs is not None:
        soft_all[mine] = _soft_targets(teacher_probs, bank, mine)
    notes = [torch.from_numpy(v) for v in map(shared_embeddings(), note_bank(seed=config.seed))]  # per class [n, 384]
    p_draw = class_balanced_weights(data.labels[train_idx], config.class_balance)
    n_samples = config.clips_per_video * len(train_idx)
    steps_per_epoch = math.ceil(n_samples / config.batch_size)
    groups = [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": config.weight_decay},
              {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(config.epochs * steps_per_epoch, config.warmup_fraction))
    history: list[dict[str, float]] = []
    metrics: dict[str, Any] = {}
    step = 0
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        rng = np.random.default_rng([config.seed, epoch])
        rows = rng.choice(train_idx, size=n_samples, p=p_draw)
        ids = bank.draw(rows, rng)
        model.train()
        losses = []
        for b in range(steps_per_epoch):
            batch = ids[b * config.batch_size:(b + 1) * config.batch_size]
            labels = torch.from_numpy(data.labels[bank.rows[batch]]).long()
            emb = torch.stack([torch.zeros(notes[0].shape[1]) if rng.random() < config.note_drop_rate
                               else notes[y][int(rng.integers(len(notes[y])))] for y in labels.tolist()])
            x = bank.batch(batch, rng)
            soft = soft_all[batch] if teacher_probs is not None else None
            lam, perm = 1.0, None
            if config.mixup > 0 and len(batch) > 1:
                lam, perm = float(rng.beta(config.mixup, config.mixup)), torch.from_numpy(rng.permutation(len(batch)))
                x, emb = lam * x + (1 - lam) * x[perm], lam * emb + (1 - lam) * emb[perm]
                soft = None if soft is None else lam * soft + (1 - lam) * soft[perm]
            logits = model.classify(visual(x), emb) if visual else model(x, emb)
            loss = lam * student_loss(logits, labels, config, soft)
            if perm is not None:
                loss = loss + (1 - lam) * student_loss(logits, labels[perm], config, soft)
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
                               teacher_config: TeacherConfig | None = None,
                               teacher: Teacher | None = None) -> tuple[TeacherFn, dict[str, Any]]:
    """Train the keypoint teacher on the student's training rows `train_idx` and return its soft
    targets (`teacher_soft_targets` at `config.temperature`, scope "window") plus the card's
    `distillation` record: teacher settings, training history and time, and, when `val_idx`
    is not empty, the teacher's own hold-out metrics (whole sequences, temperature 1).

    The targets are in-sample: the teacher has seen these rows, so it is more confident on
    them than on new walkers; the temperature (≥ 2 recommended) is what softens them.
    `teacher_config` is a `TeacherConfig`; its default takes `config.seed`. `teacher`, when
    given, is a teacher already fitted on `train_idx` (the protocol's fold teacher): it is used
    as it is and `teacher_config` is ignored.
    """
    if not config.temperature > 0:
        raise InputError(f"the teacher temperature must be > 0, not {config.temperature}.")
    if not 0.0 <= config.distill_weight <= 1.0:
        raise InputError(f"the distillation weight must be within 0..1, not {config.distill_weight}.")
    train_idx, val_idx = np.asarray(train_idx), np.asarray(val_idx)
    if teacher is None:
        start = time.perf_counter()
        teacher = train_teacher([data.sequence(int(r)) for r in train_idx], data.labels[train_idx],
                                teacher_config or TeacherConfig(seed=config.seed))
        seconds = time.perf_counter() - start
    else:  # fitted elsewhere (the protocol's fold teacher): the time its own epochs took
        seconds = sum(h.get("seconds", 0.0) for h in teacher.history)
    teacher_config = teacher.config
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
    record["_teacher"] = teacher  # taken out by the callers (not JSON): run_training ships it
    return teacher_soft_targets(teacher, sequences, temperature=config.temperature, scope=DISTILL_SCOPE), record


def _progress_line(event: dict[str, Any]) -> str | None:
    if event["event"] == "step" and event["step"] % 25 == 0:
        return f"  step {event['step']:5d}  loss {event['loss']:.3f}"
    if event["event"] == "epoch":
        val = f"  val acc {event['val_accuracy']:.3f}  bal {event['val_balanced_accuracy']:.3f}" if "val_accuracy" in event else ""
        val += f"  fused {event['val_fused_accuracy']:.3f}" if "val_fused_accuracy" in event else ""
        return f"epoch {event['epoch']}/{event['epochs']}  loss {event['loss']:.3f}{val}  {event['seconds']:.0f} s"
    return None


def run_training(data: GaitData, config: TrainConfig, distill: bool = False, command: str = "",
                 log: Callable[[str], None] = print) -> tuple[TrainResult, dict[str, Any]]:
    """Train on `config.val_fold`'s split (-1: all rows), distilled from a fold-wise keypoint
    teacher when `distill`; returns the result and its model card (not yet saved). `log` gets
    one line per progress event."""
    if config.val_fold >= 0:
        train_idx, val_idx = subject_folds(data.meta, config.n_folds, config.seed)[config.val_fold]
    else:
        train_idx, val_idx = np.arange(len(data.meta)), np.array([], dtype=int)
    log(f"{len(data.meta)} usable videos ({len(data.dropped)} dropped); train {len(train_idx)} videos, "
        f"hold-out {len(val_idx)} videos / {data.meta.loc[val_idx, 'subject_id'].nunique()} subjects")
    teacher_probs, distillation, teacher = None, None, None
    if distill:
        log(f"training the keypoint teacher on the {len(train_idx)} training videos …")
        teacher_probs, distillation = train_distillation_teacher(data, train_idx, val_idx, config)
        teacher = distillation.pop("_teacher")
        t = distillation["teacher"]
        nets = len({h.get("member", 0) for h in t["history"]})
        log(f"teacher: {nets} net(s) x {len(t['history']) // nets} epochs, final loss {t['history'][-1]['loss']:.3f}, "
            f"{t['wall_time_s']:.0f} s; "
            f"distilling at T={config.temperature:g}, weight {config.distill_weight:g}")
        if "metrics" in t:
            m = t["metrics"]
            log(f"teacher (hold-out, whole sequences): accuracy {m['accuracy']:.3f}  balanced "
                f"{m['balanced_accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  ECE {m['ece']:.3f}")
            log("  recall: " + ", ".join(f"{c} {r:.2f}" for c, r in m["per_class_recall"].items() if r is not None))

    def progress(event: dict[str, Any]) -> None:
        line = _progress_line(event)
        if line:
            log(line)

    result = train_student(data, train_idx, val_idx, config, progress=progress, teacher_probs=teacher_probs)
    result.teacher = teacher if distill else None
    return result, build_card(data, config, result, train_idx, val_idx, distillation, command=command)
