"""`analyze`: one case (a video or a keypoint CSV, plus an optional note) → an `Analysis`.

Data flow: the input becomes clips of 8 silhouettes on the 224x224 model frame (video by
background subtraction, keypoints by rendering), the note becomes a 384-d embedding, the model
scores every clip, and the per-clip probabilities are averaged into the answer. The clip that
most supports the answer is kept as *the* clip for display and explanation.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from gaitlab.pipeline.clips import ClipSpan, plan_clips, to_model_input
from gaitlab.constants import (
    CLASSES,
    CLIP_FRAMES,
    CLIP_SECONDS,
    KEYPOINT_EXTENSIONS,
    MAX_NOTE_CHARS,
    SUPPORTED_EXTENSIONS,
    VIDEO_EXTENSIONS,
)
from gaitlab.errors import InputError, check_input_file
from gaitlab.text import embed_note, note_text
from gaitlab.weights import default_weights, load_model

# A clip counts as showing the person when at least this many of its 8 frames do.
MIN_PERSON_FRAMES = 6

SHORT_WALK_WARNING = "The walk is shorter than one gait cycle; the answer rests on few steps."

Progress = Callable[[float, str], None]


@dataclass
class ClipResult:
    """One clip's answer: source frame span, probabilities, and whether a person was seen."""

    start: int
    end: int
    probabilities: dict[str, float]
    person_frames: int

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "probabilities": self.probabilities,
                "person_frames": self.person_frames}


@dataclass
class Analysis:
    """The answer for one case.

    `clip` [1, 3, 8, 224, 224] and `embedding` [1, 384] are the exact model inputs of the main
    clip; `frames` uint8 [8, 224, 224, 3] is what the model saw, `source_frames` the original
    video frames under the same framing (None for keypoint input).
    """

    path: str
    source: str  # "video" or "keypoints"
    description: str
    label: str
    confidence: float
    probabilities: dict[str, float]
    clip: torch.Tensor
    embedding: torch.Tensor
    frames: np.ndarray
    clips: list[ClipResult]
    main_clip: int
    warnings: list[str] = field(default_factory=list)
    source_frames: np.ndarray | None = None
    frame_indices: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no tensors or images)."""
        return {
            "path": self.path,
            "source": self.source,
            "description": self.description,
            "label": self.label,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
            "warnings": list(self.warnings),
            "main_clip": self.main_clip,
            "frame_indices": list(self.frame_indices),
            "clips": [c.to_dict() for c in self.clips],
        }


@dataclass
class CaseClips:
    """A case turned into model-ready clips: uint8 frames [N, 8, 224, 224] plus their spans."""

    source: str
    spans: list[ClipSpan]
    masks: np.ndarray
    person: np.ndarray  # bool [N, 8]
    source_frames: np.ndarray | None  # uint8 [N, 8, 224, 224, 3] for video
    warnings: list[str]


# --- The model, loaded once per process -----------------------------------------------------
_MODELS: dict[str, nn.Module] = {}
_MODELS_LOCK = threading.Lock()


def get_model(weights: str | Path | None = None) -> nn.Module:
    """The model for `weights` (default: shipped), loaded once per process and shared."""
    key = str(Path(weights if weights is not None else default_weights()).resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = load_model(weights)
        return _MODELS[key]


# --- Input checks and case preparation -------------------------------------------------------
def check_input_path(path: str | Path) -> Path:
    """The path as a `Path`, or an InputError saying plainly why it cannot be analysed."""
    return check_input_file(path, SUPPORTED_EXTENSIONS)


def video_clips(path: Path, progress: Progress | None = None) -> CaseClips:
    """Silhouette clips of a video: clips of about one gait cycle spread over the walk."""
    from gaitlab.pipeline.silhouette import extract_silhouettes
    from gaitlab.pipeline.video import probe_video

    info = probe_video(path)
    span = CLIP_SECONDS * info.fps
    spans = plan_clips(info.n_frames, span)
    short = [SHORT_WALK_WARNING] if info.n_frames < span else []
    wanted = sorted({i for s in spans for i in s.indices})
    if progress:
        progress(0.1, "Reading video and finding the walking person")
    track = extract_silhouettes(info, wanted)
    pos = {idx: k for k, idx in enumerate(track.indices)}
    # A container that over-reports its length leaves late indices unread: drop those clips.
    spans = [s for s in spans if all(i in pos for i in s.indices)]
    if not spans:
        raise InputError(f"{path.name} could not be decoded far enough to form one clip of {CLIP_FRAMES} frames.")
    rows = [[pos[i] for i in s.indices] for s in spans]
    return CaseClips(
        source="video",
        spans=spans,
        masks=np.stack([track.masks[r] for r in rows]),
        person=np.stack([track.person_found[r] for r in rows]),
        source_frames=np.stack([track.frames[r] for r in rows]),
        warnings=list(info.warnings) + list(track.warnings) + short,
    )


def keypoint_sequence_clips(raw: np.ndarray) -> CaseClips:
    """Rendered silhouette clips of a keypoint sequence [T, 33, 4] (NaN rows = no detection)."""
    from gaitlab.pipeline.clips import keypoint_clips
    from gaitlab.pipeline.keypoints import fill_gaps

    seq = fill_gaps(raw)
    warnings = []
    missing = float(np.isnan(raw[:, :, 0]).all(axis=1).mean())
    if missing > 0.5:
        warnings.append(f"No person was detected in {missing:.0%} of the keypoint frames; the answer rests on the rest.")
    pairs = keypoint_clips(seq)
    return CaseClips(
        source="keypoints",
        spans=[s for s, _ in pairs],
        masks=np.stack([m for _, m in pairs]),
        person=np.ones((len(pairs), CLIP_FRAMES), dtype=bool),
        source_frames=None,
        warnings=warnings,
    )


def keypoint_file_clips(path: Path) -> CaseClips:
    """Rendered silhouette clips of a MediaPipe keypoint CSV."""
    from gaitlab.pipeline.keypoints import load_keypoint_csv

    return keypoint_sequence_clips(load_keypoint_csv(path))


def prepare_case(path: str | Path, progress: Progress | None = None) -> CaseClips:
    p = check_input_path(path)
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return video_clips(p, progress)
    assert p.suffix.lower() in KEYPOINT_EXTENSIONS
    return keypoint_file_clips(p)


def note_embedding(description: str | None) -> tuple[torch.Tensor, list[str]]:
    """The note as a [1, 384] tensor, with a warning if it had to be shortened."""
    text = note_text(description)
    warnings = []
    if len(text) > MAX_NOTE_CHARS:
        warnings.append(f"The note is {len(text):,} characters long; only the first {MAX_NOTE_CHARS:,} were used.")
    return torch.from_numpy(embed_note(text)).unsqueeze(0), warnings


def temperature(model: nn.Module) -> float:
    """Calibration temperature from the model card (1.0 when the card has none)."""
    card = getattr(model, "card", {}) or {}
    return float(card.get("calibration", {}).get("temperature", 1.0))


# Clips per forward pass: bounds memory however many clips a case or an attribution needs.
BATCH = 16


@torch.no_grad()
def calibrated_probabilities(model: nn.Module, clips: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
    """Calibrated class probabilities [N, 9] for clips [N, 3, 8, 224, 224] and notes [N or 1, 384].

    Scored in chunks of `BATCH` clips so memory stays flat; one note [1, 384] is shared by all.
    """
    embeddings = embeddings.expand(len(clips), -1) if len(embeddings) == 1 else embeddings
    logits = torch.cat([model(c, e) for c, e in zip(clips.split(BATCH), embeddings.split(BATCH))])
    return torch.softmax(logits / temperature(model), dim=1)


def clip_probabilities(model: nn.Module, masks: np.ndarray, embedding: torch.Tensor) -> np.ndarray:
    """Calibrated class probabilities [N, 9] for N clips of 8 silhouettes sharing one note."""
    inputs = torch.cat([to_model_input(m) for m in masks])
    return calibrated_probabilities(model, inputs, embedding).numpy()


# --- The public entry point -------------------------------------------------------------------
def analyze(
    path: str | Path,
    description: str = "",
    model: nn.Module | None = None,
    progress: Progress | None = None,
) -> Analysis:
    """Analyse one case. Raises `InputError` (plain message) for input that cannot be used."""
    note_text(description)  # a note that is not text fails before the slow part
    model = model if model is not None else get_model()
    case = prepare_case(path, progress)
    if progress:
        progress(0.6, "Scoring clips")
    result = score_case(case, description, model, name=str(path))
    if progress:
        progress(1.0, "Done")
    return result


def score_case(case: CaseClips, description: str, model: nn.Module, name: str) -> Analysis:
    """Score prepared clips with a note: the second half of `analyze` (the note is cheap to change)."""
    description = note_text(description)  # InputError for a note that is not text
    embedding, note_warnings = note_embedding(description)
    probs = clip_probabilities(model, case.masks, embedding)
    person_frames = case.person.sum(axis=1)
    usable = person_frames >= MIN_PERSON_FRAMES
    warnings = case.warnings + note_warnings
    if not usable.any():
        usable[:] = True
        if case.source == "video":
            warnings.append("No clip shows a person clearly; the answer is unreliable.")
    mean = probs[usable].mean(axis=0)
    label_id = int(mean.argmax())
    # The main clip is the usable clip that most supports the overall answer.
    main = int(np.argmax(np.where(usable, probs[:, label_id], -1.0)))
    masks = case.masks[main]
    return Analysis(
        path=name,
        source=case.source,
        description=description or "",
        label=CLASSES[label_id],
        confidence=float(mean[label_id]),
        probabilities={c: float(p) for c, p in zip(CLASSES, mean)},
        clip=to_model_input(masks),
        embedding=embedding,
        frames=np.repeat(masks[..., None], 3, axis=-1),
        clips=[
            ClipResult(int(s.start), int(s.end), {c: float(p) for c, p in zip(CLASSES, pr)}, int(n))
            for s, pr, n in zip(case.spans, probs, person_frames)
        ],
        main_clip=main,
        warnings=list(dict.fromkeys(warnings)),
        source_frames=None if case.source_frames is None else case.source_frames[main],
        frame_indices=tuple(int(i) for i in case.spans[main].indices),
    )
