"""Weights on disk: a safetensors file plus a JSON model card beside it.

`save_weights` writes both; `load_weights` refuses anything it cannot trust — a missing file,
a pickle (`.pt`, `.pth`, `.pkl`, `.bin`, or any file that is not safetensors), a card whose
SHA-256, classes or tensor list do not match the file — with one plain sentence.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from gaitlab.constants import CLASSES
from gaitlab.errors import WeightsError
from gaitlab.files import sha256_file
from gaitlab.model import build
from gaitlab.pipeline.pose_frames import VIEW

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "gaitlab_student.safetensors"
DEFAULT_TEACHER = WEIGHTS_DIR / "gaitlab_teacher.safetensors"  # the keypoint teacher (second opinion)
WEIGHTS_ENV = "GAITLAB_WEIGHTS"  # point GaitLab at other weights without code changes
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")


def default_weights() -> Path:
    """The weights used when none are named: `$GAITLAB_WEIGHTS`, else the shipped ones."""
    return Path(os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS)


def card_path(weights: Path) -> Path:
    """The model card that belongs to a weights file (same stem, `.json`)."""
    return Path(weights).with_suffix(".json")


def write_card(weights: Path, card: dict[str, Any]) -> Path:
    """Write `card` as the model card beside `weights` (`card_path`); returns its path."""
    path = card_path(weights)
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def save_weights(model: nn.Module, card: dict[str, Any], path: Path) -> dict[str, Any]:
    """Write `model`'s state as safetensors at `path` and its card beside it; returns the card.

    `card` must name `architecture` (a builder in `gaitlab.model.ARCHITECTURES`) and may hold
    `architecture_kwargs`; the tensor list, classes and SHA-256 are filled in here.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    path.chmod(0o644)  # safetensors writes 0600; shipped weights must be readable by every user
    card = dict(card)
    card.setdefault("architecture_kwargs", {})
    card["classes"] = list(CLASSES)
    card["tensors"] = {k: list(v.shape) for k, v in state.items()}
    card["sha256"] = sha256_file(path)
    write_card(path, card)
    return card


def _looks_like_safetensors(path: Path) -> bool:
    """A safetensors file starts with an 8-byte little-endian header length, then a JSON '{'."""
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 0 < n < path.stat().st_size


def read_card(weights: Path | str | None = None) -> dict[str, Any]:
    """The model card of `weights` (default: the shipped weights)."""
    path = Path(weights) if weights is not None else default_weights()
    cpath = card_path(path)
    if not cpath.is_file():
        raise WeightsError(f"The model card {cpath} is missing; weights need their card beside them.")
    try:
        return json.loads(cpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"The model card {cpath} is not valid JSON ({exc}).") from None


def load_weights(weights: Path | str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model named by the card and load its tensors; returns (model in eval mode, card)."""
    path = Path(weights) if weights is not None else default_weights()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsError(f"{path.name} looks like a pickle; GaitLab only loads .safetensors weights.")
    if not path.is_file():
        raise WeightsError(f"No weights file at {path}.")
    if not _looks_like_safetensors(path):
        raise WeightsError(f"{path.name} is not a safetensors file; GaitLab never loads pickles.")
    card = read_card(path)
    if card.get("sha256") != sha256_file(path):
        raise WeightsError(f"{path.name} does not match the SHA-256 in its model card; the file was changed or corrupted.")
    if card.get("classes") != list(CLASSES):
        raise WeightsError(f"The model card of {path.name} lists classes {card.get('classes')}, not GaitLab's nine.")
    try:
        model = build(card["architecture"], **card.get("architecture_kwargs", {}))
    except (KeyError, TypeError) as exc:
        raise WeightsError(f"The model card of {path.name} names an architecture GaitLab cannot build ({exc}).") from None
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"{path.name} could not be read as safetensors ({exc}).") from None
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    found = {k: list(v.shape) for k, v in state.items()}
    if found != expected or card.get("tensors") != found:
        raise WeightsError(f"The tensors in {path.name} do not match its model card and architecture.")
    model.load_state_dict(state)
    model.eval()
    return model, card


def load_model(weights: Path | str | None = None) -> nn.Module:
    """Public API: the model ready for `model(clip, embedding)`; `model.card` holds its card."""
    model, card = load_weights(weights)
    if card.get("view", VIEW) != VIEW:
        raise WeightsError(f"These weights were trained on {card.get('view')!r} frames, but GaitLab draws {VIEW!r} "
                           "pose frames; use weights trained by this version (`python -m gaitlab train`).")
    model.card = card  # type: ignore[attr-defined]
    return model


