"""What defines a student training run (`TrainConfig`) and what it produces (`TrainResult`).

Kept apart from the training loop so that the loop (`training.train`), the model card built
from a run (`training.model_card`), the protocol and the command line all share them without
importing one another.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from torch import nn

from gaitlab.errors import InputError
from gaitlab.training.dataset import N_FOLDS
from gaitlab.training.notes import DEFAULT_DROP_RATE


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the model card)."""

    epochs: int = 80  # the student still underfits at 40 (plain-clip training accuracy 0.83-0.90): 80 fits better and scores higher
    clips_per_video: int = 3  # clips drawn per training video per epoch (from the clip bank)
    bank_clips: int = 24  # augmented clips rendered once per training video (training.clip_bank)
    mixup: float = 0.0  # Beta(α, α) of mixup between clips of a batch; 0: no mixup
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.05  # of all steps, before the cosine decay
    seed: int = 0
    val_fold: int = 0  # -1: no hold-out, train on all rows
    n_folds: int = N_FOLDS
    note_drop_rate: float = DEFAULT_DROP_RATE
    class_balance: float = 1.0  # 1: classes drawn equally often; 0: natural frequencies
    architecture: str = "pose_student"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    threads: int = 2
    eval_every: int = 8  # epochs between hold-out checks (the last epoch is always checked)
    # Knowledge distillation (used only when a teacher is given to train_student).
    distill_weight: float = 0.5
    temperature: float = 2.0

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TrainConfig:
        """The config a card recorded (`asdict`); keys of older cards that no longer exist are
        ignored and settings they lack take today's defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})

    def checked(self) -> TrainConfig:
        """This config, or an `InputError` naming the first setting (as its command-line
        option) that no run can use."""
        if self.epochs < 1 or self.clips_per_video < 1 or self.bank_clips < 1:
            raise InputError("--epochs, --clips-per-video and --bank-clips must be 1 or more.")
        if self.mixup < 0:
            raise InputError(f"--mixup must be 0 (off) or more, not {self.mixup}.")
        if not self.temperature > 0:
            raise InputError(f"--teacher-temperature must be > 0, not {self.temperature}.")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise InputError(f"--distill-weight must be within 0..1, not {self.distill_weight}.")
        return self


@dataclass
class TrainResult:
    """A trained model, its per-epoch history and hold-out metrics (empty without hold-out)."""

    model: nn.Module
    history: list[dict[str, float]]  # per epoch: loss, lr, hold-out figures, seconds
    metrics: dict[str, Any]  # evaluate_student of the final model
    wall_time_s: float
    teacher: Any = None  # the distillation teacher (a training.teacher.Teacher), when there was one
