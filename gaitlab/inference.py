"""`analyze`: one case (a video or a keypoint CSV, plus an optional note) → an `Analysis`.

Data flow: a video becomes the walker's landmark sequence (MediaPipe Pose, `pipeline.pose`), a
keypoint file is one; from there both take one path: clips of 8 frames drawn from the landmarks
on the 224x224 model frame, the note becomes a 384-d embedding, the model
scores every clip, and the per-clip probabilities are averaged into the answer. The clip that
most supports the answer is kept as *the* clip for display and explanation.
"""
from __future__ import annotations

import csv
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
from torch import nn

from gaitlab.pipeline.clips import ClipSpan, to_model_input
from gaitlab.constants import (
    CLASSES,
    CLIP_FRAMES,
    FRAME_SIZE,
    KEYPOINT_EXTENSIONS,
    MAX_NOTE_CHARS,
    SUPPORTED_EXTENSIONS,
    VIDEO_EXTENSIONS,
)
from gaitlab.calibration import calibrate, temperature, top_label, walk_probabilities
from gaitlab.consistency import disagreement_warning
from gaitlab.errors import InputError, NoWalkError, check_input_file
from gaitlab.text import embed_note, note_text
from gaitlab.teacher_net import KeypointTeacher, TeacherConfig
from gaitlab.weights import DEFAULT_TEACHER, default_weights, load_model, load_weights

# A clip counts as showing the person when at least this many of its 8 frames do.
MIN_PERSON_FRAMES = 6
# Original frames kept for display are shrunk to this long side (pixels) as they are read.
SOURCE_LONG_SIDE = 640
# Whole original frames kept for the maps drawn back on them (every clip's, so any clip can be
# the main one): this long side keeps 12 clips × 8 frames near 20 MB.
ORIGINAL_LONG_SIDE = 360
# Thumbnails of the people found: this long side (pixels), with this margin (share of the body
# height) around their landmarks.
THUMBNAIL_SIDE, THUMBNAIL_MARGIN = 160, 0.08

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
    video frames placed exactly under them (None for keypoint input). `keypoints` float32
    [T, 33, 4] is the walker's landmark sequence (MediaPipe layout, NaN rows where no walker);
    `skeleton` float32 [8, 33, 2] the main clip's landmarks in model-frame pixels, for drawing
    on `frames` or `source_frames`. `frame_indices` are source frame numbers.
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
    keypoints: np.ndarray | None = None
    skeleton: np.ndarray | None = None
    keypoint_frames: np.ndarray | None = None  # int [T]: source frame of each keypoint row
    keypoint_times: np.ndarray | None = None  # float [T] seconds, when the frame rate is known
    original_frames: np.ndarray | None = None  # uint8 [8, h, w, 3]: the main clip's whole video frames
    placements: np.ndarray | None = None  # float64 [8, 2, 3]: normalised image coords → model-frame pixels
    teacher: dict[str, Any] | None = None  # the keypoint teacher's second opinion (`second_opinion`)
    kinematics: dict[str, Any] | None = None  # `kinematics.Kinematics.to_dict()` of the walk
    frame_phases: list[tuple[float, str, str] | None] = field(default_factory=list)  # per model frame: (% cycle, phase, side)
    people: list[dict[str, Any]] = field(default_factory=list)  # everyone found (`pipeline.people.Person.to_dict`)
    person: int | None = None  # the id of the person analysed (video input)
    people_images: dict[int, np.ndarray] = field(default_factory=dict)  # id → uint8 RGB crop of their best frame

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
            "teacher": self.teacher,
            "kinematics": self.kinematics,
            "frame_phases": [list(p) if p else None for p in self.frame_phases],
            "people": [dict(p) for p in self.people],
            "person": self.person,
        }


@dataclass
class CaseClips:
    """A case turned into model-ready clips: uint8 pose frames [N, 8, 224, 224, 3] (`masks`) plus their spans."""

    source: str
    spans: list[ClipSpan]
    masks: np.ndarray
    person: np.ndarray  # bool [N, 8]
    source_frames: np.ndarray | None  # uint8 [N, 8, 224, 224, 3] for video
    warnings: list[str]
    keypoints: np.ndarray | None = None  # float32 [T, 33, 4], the landmark rows the clips come from
    model_points: np.ndarray | None = None  # float32 [N, 8, 33, 2]: landmarks in model-frame pixels
    placements: np.ndarray | None = None  # float64 [N, 8, 2, 3]: normalised image coords → model frame
    frame_numbers: np.ndarray | None = None  # int [T]: source frame of each landmark row (None: row = frame)
    times_s: np.ndarray | None = None  # float [T]: time of each landmark row, when the frame rate is known
    original_frames: np.ndarray | None = None  # uint8 [N, 8, h, w, 3]: whole video frames (long side 360)
    kinematics: Any = None  # `kinematics.Kinematics` of the landmark sequence
    row_offset: int = 0  # row of `keypoints` where the cleaned sequence (clip indices count from it) starts
    people: list[dict[str, Any]] = field(default_factory=list)  # everyone found in a video
    person_id: int | None = None  # the id of the person the clips show
    people_images: dict[int, np.ndarray] = field(default_factory=dict)  # id → uint8 RGB crop

    def frame_number(self, row: int) -> int:
        """The source frame number of cleaned-sequence row `row` (clip indices are such rows)."""
        raw = int(row) + self.row_offset
        if self.frame_numbers is None or not len(self.frame_numbers):
            return raw
        return int(self.frame_numbers[min(raw, len(self.frame_numbers) - 1)])


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


def get_teacher(weights: str | Path | None = None) -> KeypointTeacher | None:
    """The keypoint teacher (the second opinion), loaded once per process; None when no teacher
    weights ship (`weights.DEFAULT_TEACHER`). Altered or broken files raise `WeightsError`."""
    path = Path(weights) if weights is not None else DEFAULT_TEACHER
    key = "teacher:" + str(path.resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            if not path.is_file():
                return None
            net, card = load_weights(path)
            config = TeacherConfig(**{**card.get("teacher_config", {}),
                                      "dilations": tuple(card.get("teacher_config", {}).get("dilations", (1, 2, 4))),
                                      "span_jitter": tuple(card.get("teacher_config", {}).get("span_jitter", (0.8, 1.25)))})
            _MODELS[key] = KeypointTeacher(config, net)
        return _MODELS[key]


def second_opinion(teacher: KeypointTeacher | None, keypoints: np.ndarray | None, label: str) -> dict[str, Any] | None:
    """The teacher's reading of the same landmarks: {label, confidence, probabilities, agrees}
    (agrees: same label as the student's `label`); None without a teacher or landmarks."""
    if teacher is None or keypoints is None:
        return None
    probs = teacher.predict_proba([keypoints])[0]
    best = int(probs.argmax())
    return {"label": CLASSES[best], "confidence": float(probs[best]),
            "probabilities": {c: float(p) for c, p in zip(CLASSES, probs)}, "agrees": CLASSES[best] == label}


# --- Input checks and case preparation -------------------------------------------------------
def check_input_path(path: str | Path) -> Path:
    """The path as a `Path`, or an InputError saying plainly why it cannot be analysed."""
    return check_input_file(path, SUPPORTED_EXTENSIONS)


def row_rate(times) -> float | None:
    """Landmark rows per second from their times [T] in seconds (NaN where unknown): the
    reciprocal of the median step; None when the times give none."""
    times = np.asarray(times, dtype=np.float64)
    steps = np.diff(times[np.isfinite(times)])
    step = float(np.median(steps)) if len(steps) else 0.0
    return 1.0 / step if step > 0 else None


def video_clips(path: Path, progress: Progress | None = None, person: int | None = None) -> CaseClips:
    """A video's clips: MediaPipe finds everyone in view and the walker is chosen after the
    whole clip (`pipeline.pose.track_walker`; `person` picks someone else by id); from the
    landmark sequence on, the video takes the keypoint path (`keypoint_sequence_clips`), so a
    video and the keypoint CSV `gaitlab pose` exports from it get the same answer. The original
    frames of every clip frame are kept, placed exactly under the model frames. Raises
    `NoWalkError` when the person does not walk (no gait class for a non-walk)."""
    from gaitlab.pipeline.pose import track_walker
    from gaitlab.pipeline.video import probe_video

    info = probe_video(path)
    track = track_walker(info, progress=progress, person=person)
    people = [p.to_dict() for p in track.people]
    if not np.isfinite(track.landmarks[:, :, 0]).any():
        raise InputError(f"No person was found in {path.name}: GaitLab needs a video of someone walking.")
    if track.no_walk:
        raise NoWalkError(track.no_walk, people, track.person, track=track)
    fps = row_rate(track.times_s) or info.fps
    case = keypoint_sequence_clips(track.landmarks, fps=fps, aspect=info.width / info.height)
    case.source = "video"
    case.frame_numbers = np.asarray(track.frame_indices)
    case.times_s = np.asarray(track.times_s)
    case.warnings = list(dict.fromkeys(list(info.warnings) + list(track.warnings) + case.warnings))
    case.people, case.person_id = people, track.person
    if progress:
        progress(0.9, "Placing the original frames under the model frames")
    case.source_frames, case.original_frames, case.people_images = _placed_source_frames(info, case)
    return case


def _placed_source_frames(info, case: CaseClips) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """The original video frame of every clip frame, twice: uint8 RGB [N, 8, 224, 224, 3] warped
    by the placement its model frame was drawn with, and uint8 RGB [N, 8, h, w, 3] whole, long
    side `ORIGINAL_LONG_SIDE` (black where a frame could not be read); and a thumbnail of
    each person found (`case.people`: their best frame cropped around them, uint8 RGB, long
    side `THUMBNAIL_SIDE`), read in the same pass.

    One streaming pass reads only these frames (at most 12 × 8), each shrunk to
    `SOURCE_LONG_SIDE` at once, so memory stays bounded whatever the video's length."""
    from gaitlab.pipeline.video import read_frames

    rows = [i for s in case.spans for i in s.indices]
    out = np.zeros((len(case.spans) * CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
    small = min(1.0, ORIGINAL_LONG_SIDE / max(info.width, info.height))
    size = (max(1, round(info.width * small)), max(1, round(info.height * small)))
    whole = np.zeros((len(rows), size[1], size[0], 3), dtype=np.uint8)
    thumbs: dict[int, np.ndarray] = {}
    if case.placements is not None:  # the placements the model frames were drawn with
        matrices = case.placements.reshape(-1, 2, 3)
        shrink = min(1.0, SOURCE_LONG_SIDE / max(info.width, info.height))
        best = {int(p["best_frame"]) for p in case.people}
        frames = read_frames(info, sorted({case.frame_number(r) for r in rows} | best),
                             lambda f: cv2.resize(f, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
                             if shrink < 1 else f)
        thumbs = {int(p["id"]): person_thumbnail(frames[p["best_frame"]], p["box"])
                  for p in case.people if p["best_frame"] in frames}
        for k, r in enumerate(rows):
            frame = frames.get(case.frame_number(r))
            if frame is not None:  # pixels of the shrunk frame → normalised → model frame
                to_norm = np.diag([1.0 / frame.shape[1], 1.0 / frame.shape[0], 1.0])
                placed = cv2.warpAffine(frame, matrices[k] @ to_norm, (FRAME_SIZE, FRAME_SIZE), flags=cv2.INTER_LINEAR)
                out[k] = cv2.cvtColor(placed, cv2.COLOR_BGR2RGB)
                whole[k] = cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    n = len(case.spans)
    return (out.reshape(n, CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), whole.reshape(n, CLIP_FRAMES, size[1], size[0], 3),
            thumbs)


def person_thumbnail(frame: np.ndarray, box) -> np.ndarray:
    """A person's picture: BGR `frame` [H, W, 3] cropped to their normalised `box` [x0, y0, x1,
    y1] with a margin of `THUMBNAIL_MARGIN` of its height, as uint8 RGB, long side
    `THUMBNAIL_SIDE`."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    m = THUMBNAIL_MARGIN * (y1 - y0)
    x0, x1 = max(0, int((x0 - m * h / w) * w)), min(w, int(np.ceil((x1 + m * h / w) * w)))
    y0, y1 = max(0, int((y0 - m) * h)), min(h, int(np.ceil((y1 + m) * h)))
    crop = frame[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    scale = THUMBNAIL_SIDE / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def keypoint_sequence_clips(raw: np.ndarray, fps: float | None = None, aspect: float | None = None) -> CaseClips:
    """Rendered clips of a keypoint sequence [T, 33, 4] (NaN rows = no detection): the one path
    every input takes from its landmarks on (a video's come from `pipeline.pose`). `fps` (rows
    per second) and `aspect` (source width / height), when known, go to the kinematics; the
    clips never depend on them."""
    from gaitlab.kinematics import compute as compute_kinematics

    from gaitlab.pipeline.clips import keypoint_clip_matrices, keypoint_clips
    from gaitlab.pipeline.keypoints import clean_sequence, detected_frames, kept_span

    raw = np.asarray(raw, dtype=np.float32)
    seq = clean_sequence(raw)
    warnings = []
    missing = float(np.isnan(raw[:, :, 0]).all(axis=1).mean())
    if missing > 0.5:
        warnings.append(f"No person was detected in {missing:.0%} of the frames; the answer rests on the rest.")
    pairs = keypoint_clips(seq)
    spans = [s for s, _ in pairs]
    rows = np.array([[min(i, len(seq) - 1) for i in s.indices] for s in spans])
    matrices = keypoint_clip_matrices(seq, rows.ravel())
    points = np.full((*rows.shape, seq.shape[1], 2), np.nan, dtype=np.float32)
    if matrices is not None:  # landmarks in model-frame pixels, for drawing the skeleton
        xy1 = np.concatenate([seq[rows.ravel(), :, :2], np.ones((rows.size, seq.shape[1], 1))], axis=-1)
        points = np.einsum("nij,nkj->nki", matrices, xy1).reshape(points.shape).astype(np.float32)
    return CaseClips(
        source="keypoints",
        spans=spans,
        masks=np.stack([m for _, m in pairs]),
        person=detected_frames(seq)[rows],  # short gaps filled count; long gaps do not
        source_frames=None,
        warnings=warnings,
        keypoints=raw,
        model_points=points,
        placements=None if matrices is None else matrices.reshape(*rows.shape, 2, 3),
        row_offset=kept_span(raw)[0],
        kinematics=compute_kinematics(raw, fps=fps, aspect=aspect),
    )


def keypoint_file_clips(path: Path) -> CaseClips:
    """Rendered clips of a MediaPipe keypoint CSV (the same path a video takes after pose)."""
    from gaitlab.pipeline.keypoints import load_keypoint_csv
    from gaitlab.pipeline.pose import read_pose_times
    from gaitlab.pipeline.walking import walk_features, walk_refusal

    seq = load_keypoint_csv(path)
    try:  # a `gaitlab pose` export carries each row's time: the kinematics get a frame rate
        times = read_pose_times(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        times = None
    fps = row_rate(times) if times is not None and len(times) == len(seq) else None
    refusal = walk_refusal(walk_features(seq, fps=fps))
    if refusal:
        raise NoWalkError(refusal)
    case = keypoint_sequence_clips(seq, fps=fps)
    if fps is not None:
        case.times_s = times
    return case


def prepare_case(path: str | Path, progress: Progress | None = None, person: int | None = None) -> CaseClips:
    """A case's clips (`video_clips` or `keypoint_file_clips`); `person` (an id from
    `gaitlab people`) picks whom to analyse in a video."""
    p = check_input_path(path)
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return video_clips(p, progress, person=person)
    assert p.suffix.lower() in KEYPOINT_EXTENSIONS
    if person not in (None, 1):
        raise InputError(f"{p.name} is a keypoint file, which holds one person (person 1); "
                         f"there is no person {person} in it.")
    return keypoint_file_clips(p)


def note_embedding(description: str | None) -> tuple[torch.Tensor, list[str]]:
    """The note as a [1, 384] tensor, with a warning if it had to be shortened."""
    text = note_text(description)
    warnings = []
    if len(text) > MAX_NOTE_CHARS:
        warnings.append(f"The note is {len(text):,} characters long; only the first {MAX_NOTE_CHARS:,} were used.")
    return torch.from_numpy(embed_note(text)).unsqueeze(0), warnings


# Clips per forward pass: bounds memory however many clips a case or an attribution needs.
BATCH = 16


@torch.no_grad()
def calibrated_probabilities(model: nn.Module, clips: torch.Tensor, embeddings: torch.Tensor,
                             calibrated: bool = True) -> torch.Tensor:
    """Class probabilities [N, 9] of each clip [N, 3, 8, 224, 224] with notes [N or 1, 384]:
    softmax(logits / temperature), or softmax(logits) with `calibrated` False.

    Scored in chunks of `BATCH` clips so memory stays flat; one note [1, 384] is shared by all.
    """
    embeddings = embeddings.expand(len(clips), -1) if len(embeddings) == 1 else embeddings
    logits = torch.cat([model(c, e) for c, e in zip(clips.split(BATCH), embeddings.split(BATCH))])
    return torch.softmax(logits / (temperature(model) if calibrated else 1.0), dim=1)


def clip_probabilities(model: nn.Module, masks: np.ndarray, embedding: torch.Tensor,
                       calibrated: bool = True) -> np.ndarray:
    """Class probabilities [N, 9] for N clips of 8 pose frames sharing one note (see
    `calibrated_probabilities`)."""
    inputs = torch.cat([to_model_input(m) for m in masks])
    return calibrated_probabilities(model, inputs, embedding, calibrated).numpy()


# --- The public entry point -------------------------------------------------------------------
def analyze(
    path: str | Path,
    description: str = "",
    model: nn.Module | None = None,
    progress: Progress | None = None,
    person: int | None = None,
) -> Analysis:
    """Analyse one case; in a video, the person who walks (or `person`, an id from
    `gaitlab people`). Raises `InputError` (plain message) for input that cannot be used, and
    its kind `NoWalkError` when the person does not walk: no walk, no gait class."""
    note_text(description)  # a note that is not text fails before the slow part
    model = model if model is not None else get_model()
    case = prepare_case(path, progress, person=person)
    if progress:
        progress(0.6, "Scoring clips")
    result = score_case(case, description, model, name=str(path), teacher=get_teacher())
    if progress:
        progress(1.0, "Done")
    return result


def _clip_stretches(case: CaseClips) -> tuple[list[tuple[float, float]], bool]:
    """Each clip's start and end: in seconds where the rows' times are known, else source frames."""
    ends = [(s.start + case.row_offset, s.end + case.row_offset) for s in case.spans]
    times = case.times_s
    if times is not None and len(times) and np.isfinite(times).all():
        return [(float(times[min(a, len(times) - 1)]), float(times[min(b, len(times) - 1)])) for a, b in ends], True
    return [(case.frame_number(s.start), case.frame_number(s.end)) for s in case.spans], False


def score_case(case: CaseClips, description: str, model: nn.Module, name: str,
               teacher: KeypointTeacher | None = None) -> Analysis:
    """Score prepared clips with a note: the second half of `analyze` (the note is cheap to change).
    `teacher` (e.g. `get_teacher()`) adds its second opinion on the same landmarks."""
    description = note_text(description)  # InputError for a note that is not text
    embedding, note_warnings = note_embedding(description)
    raw = clip_probabilities(model, case.masks, embedding, calibrated=False)
    t = temperature(model)
    probs = calibrate(raw, t)  # each clip's own calibrated answer (the timeline)
    person_frames = case.person.sum(axis=1)
    usable = person_frames >= MIN_PERSON_FRAMES
    warnings = case.warnings + note_warnings
    if not usable.any():
        usable[:] = True
        warnings.append("No clip shows a person clearly; the answer is unreliable.")
    mean = walk_probabilities(raw[usable], t, top_label(model))
    stretches, in_seconds = _clip_stretches(case)
    disagree = disagreement_warning(probs[usable], [x for x, u in zip(stretches, usable) if u], in_seconds)
    warnings += [disagree] if disagree else []
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
        frames=masks,
        clips=[
            ClipResult(case.frame_number(s.start), case.frame_number(s.end), {c: float(p) for c, p in zip(CLASSES, pr)}, int(n))
            for s, pr, n in zip(case.spans, probs, person_frames)
        ],
        main_clip=main,
        warnings=list(dict.fromkeys(warnings)),
        source_frames=None if case.source_frames is None else case.source_frames[main],
        frame_indices=tuple(case.frame_number(i) for i in case.spans[main].indices),
        keypoints=case.keypoints,
        skeleton=None if case.model_points is None else case.model_points[main],
        keypoint_frames=(None if case.keypoints is None else case.frame_numbers if case.frame_numbers is not None
                         else np.arange(len(case.keypoints))),
        keypoint_times=case.times_s,
        original_frames=None if case.original_frames is None else case.original_frames[main],
        placements=None if case.placements is None else case.placements[main],
        teacher=second_opinion(teacher, case.keypoints, CLASSES[label_id]),
        kinematics=None if case.kinematics is None else case.kinematics.to_dict(),
        frame_phases=([case.kinematics.phase_at(i + case.row_offset) for i in case.spans[main].indices]
                      if case.kinematics is not None else []),
        people=[dict(p) for p in case.people],
        person=case.person_id,
        people_images=dict(case.people_images),
    )
