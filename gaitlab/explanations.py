"""Why the model answered as it did: per-frame heat maps from Captum, overlays, faithfulness.

Tensor contract. The model input is `analysis.clip` [1, 3, 8, 224, 224] (ImageNet-normalised)
with `analysis.embedding` [1, 384]; `model(clip, embedding)` → logits [1, 9], and
`model.cam_layer` outputs [1, C, 8, h, w] (time kept, so there is one map per frame). Every
method attributes the *logit* of the target class (the standard; softmax saturates and would
flatten the maps) and returns a raw non-negative map [8, 224, 224]; `explain` turns it into
`maps` float32 [8, 224, 224] in 0..1, `frame_importance` [8] summing to 1, and RGB overlays.

Thread safety. Streamlit serves every user from one cached model, and Captum attaches hooks to
the model it explains. Each call therefore runs Captum on its own deep copy of the model
(≈7 ms for the 170 k-parameter student on two idle CPU cores), so concurrent explanations never see each other's
hooks and the shared model is never touched: no hooks, no `.grad`, no mode change.
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import GuidedGradCam, IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion
from torch import Tensor, nn

from gaitlab.pipeline.clips import blank_clip
from gaitlab.constants import CLASSES, FRAME_SIZE, class_index
from gaitlab.inference import BATCH, Analysis, get_model
from gaitlab.inference import calibrated_probabilities as probabilities
from gaitlab.metrics import drop_ratio

OVERLAY_ALPHA = 0.45  # heat-map weight in the blend: strong enough to read, frame still visible
IG_STEPS = 24  # integrated-gradient steps: enough for a stable map, a few s on two CPU cores
# Occlusion blanks one 56x56 tile of one frame at a time (a 4x4 grid per frame, 128 forward
# passes): it says *when* (which frame) and roughly *where* (head, trunk, hips, knees, feet;
# front or back). Overlapping 56/28 tiles cost 392 passes, ~3x the time, for little more.
OCCLUSION_PATCH = 56


@dataclass
class Explanation:
    """One explanation of one clip.

    `maps` float32 [8, 224, 224] in 0..1; `frame_importance` float64 [8], sums to 1;
    `overlays` 8 RGB uint8 [224, 224, 3] (heat map over `analysis.frames`);
    `source_overlays` the same over `analysis.source_frames` (video input) or None;
    `original_overlays` the maps taken back through the inverse of each frame's crop onto the
    whole original video frames (`analysis.original_frames`), so the heat sits on the walker's
    real knee, or None.
    """

    method: str
    target: str
    target_probability: float
    maps: np.ndarray
    frame_importance: np.ndarray
    overlays: list[np.ndarray]
    source_overlays: list[np.ndarray] | None = None
    original_overlays: list[np.ndarray] | None = None

    def to_dict(self) -> dict:
        """JSON-ready summary (no images)."""
        return {"method": self.method, "target": self.target,
                "target_probability": self.target_probability,
                "frame_importance": [float(v) for v in self.frame_importance]}


@dataclass
class Faithfulness:
    """Drop of the target's probability when the map's top pixels are blanked, vs random ones."""

    top_drop: float
    random_drop: float
    ratio: float  # top_drop / max(random_drop, RANDOM_DROP_FLOOR): see `drop_ratio`
    fraction: float
    target: str


# --- Inputs and the private model copy ----------------------------------------------------
def private_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy Captum may hook freely; the shared model is never modified.

    ReLUs are made out-of-place, because Captum's backward hooks on a module refuse outputs
    that are later modified in place. Parameters keep `requires_grad` (guided backprop hooks
    every ReLU, including the note branch's, which only parameters connect to the graph);
    Captum uses `torch.autograd.grad`, so no `.grad` is stored, and only on the copy anyway.
    """
    private = copy.deepcopy(model).eval()
    for m in private.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return private


# --- Methods: each returns a raw non-negative map [8, 224, 224] -------------------------------
Method = Callable[[nn.Module, Tensor, Tensor, int], Tensor]


def gradcam_map(model: nn.Module, clip: Tensor, embedding: Tensor, target: int) -> Tensor:
    """Grad-CAM on `model.cam_layer`: [1, 1, 8, h, w], ReLU'd, each frame bilinear to 224x224."""
    cam = LayerGradCam(model, model.cam_layer).attribute(
        clip, target=target, additional_forward_args=(embedding,), relu_attributions=True)
    frames = cam[0].transpose(0, 1)  # [8, 1, h, w]: frames as a batch, so upsampling stays per frame
    return LayerAttribution.interpolate(frames, (FRAME_SIZE, FRAME_SIZE), "bilinear")[:, 0]


def guided_gradcam_map(model: nn.Module, clip: Tensor, embedding: Tensor, target: int) -> Tensor:
    """Guided Grad-CAM: guided backprop × upsampled Grad-CAM, |·| summed over channels."""
    # "trilinear" upsampling over (T, H, W) keeps T (8 → 8) and is bilinear within each frame.
    attr = GuidedGradCam(model, model.cam_layer).attribute(
        clip, target=target, additional_forward_args=(embedding,), interpolate_mode="trilinear")
    return attr[0].abs().sum(0)


def integrated_gradients_map(model: nn.Module, clip: Tensor, embedding: Tensor, target: int) -> Tensor:
    """Integrated gradients from the blank clip, |·| summed over channels."""
    attr = IntegratedGradients(model).attribute(
        clip, baselines=blank_clip(), target=target, additional_forward_args=(embedding,),
        n_steps=IG_STEPS, internal_batch_size=BATCH)
    return attr[0].abs().sum(0)


def occlusion_map(model: nn.Module, clip: Tensor, embedding: Tensor, target: int) -> Tensor:
    """Logit drop when a tile of one frame is blanked, tile grid smoothed bilinearly to 224x224.

    Only drops count: a tile whose removal *raises* the logit is evidence against the class.
    """
    tile = (3, 1, OCCLUSION_PATCH, OCCLUSION_PATCH)  # all channels, one frame, one tile
    attr = Occlusion(model).attribute(
        clip, sliding_window_shapes=tile, strides=tile, baselines=blank_clip(), target=target,
        additional_forward_args=(embedding,), perturbations_per_eval=BATCH)
    drops = attr[0].mean(0).clamp(min=0)  # [8, 224, 224]; every channel got the same drop
    # One value per tile, then bilinear: a smooth map reads like Grad-CAM's, not a checkerboard.
    grid = F.avg_pool2d(drops[:, None], OCCLUSION_PATCH)
    return LayerAttribution.interpolate(grid, (FRAME_SIZE, FRAME_SIZE), "bilinear")[:, 0]


METHODS: dict[str, Method] = {
    "gradcam": gradcam_map,
    "guided_gradcam": guided_gradcam_map,
    "integrated_gradients": integrated_gradients_map,
    "occlusion": occlusion_map,
}
# Grad-CAM is smooth and low-resolution, so its maximum is meaningful; pixel-level methods
# have a few extreme pixels that would wash out the rest, so they are scaled robustly.
NORMALISE_PERCENTILE = {"gradcam": 100.0}


# --- From raw maps to what people see ------------------------------------------------------
def normalise(raw: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Raw map [8, H, W] ≥ 0 → float32 in 0..1, scaled over the whole clip.

    The percentile is taken over the positive values only: a pose frame's limbs cover a few % of the
    frame, so a percentile over all pixels would often be 0.
    """
    positive = raw[raw > 0]
    if positive.size == 0:
        return np.zeros(raw.shape, dtype=np.float32)
    # No floor on the scale: an untrained model's maps can be ~1e-15 yet still well-formed.
    scale = float(np.percentile(positive, percentile))
    return np.clip(raw / scale, 0.0, 1.0).astype(np.float32)


def frame_shares(raw: np.ndarray) -> np.ndarray:
    """Share of the raw map's mass in each frame, [8] summing to 1 (uniform for an empty map)."""
    mass = raw.reshape(len(raw), -1).sum(axis=1).astype(np.float64)
    if mass.sum() <= 0:
        return np.full(len(raw), 1.0 / len(raw))
    return mass / mass.sum()


def maps_on_originals(maps: np.ndarray, placements: np.ndarray, height: int, width: int) -> np.ndarray:
    """Model-frame maps [8, 224, 224] → float32 [8, height, width] on the whole original frames:
    each pixel of an original frame takes the map's value where its crop (`placements` [8, 2, 3],
    normalised image coordinates → model-frame pixels) put that pixel; 0 outside the crop."""
    to_norm = np.diag([1.0 / width, 1.0 / height, 1.0])
    return np.stack([cv2.warpAffine(m.astype(np.float32), (p @ to_norm).astype(np.float64), (width, height),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0.0)
                     for m, p in zip(maps, placements)])


def overlay(frames: np.ndarray, maps: np.ndarray, alpha: float = OVERLAY_ALPHA) -> list[np.ndarray]:
    """JET heat maps blended over frames: uint8 [8, H, W(, 3)] + maps [8, h, w] → 8 RGB [H, W, 3]."""
    out = []
    for frame, m in zip(np.asarray(frames), maps):
        rgb = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        if m.shape != rgb.shape[:2]:  # source frames may come at another size
            m = cv2.resize(m, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        heat = cv2.cvtColor(cv2.applyColorMap((m * 255).round().astype(np.uint8), cv2.COLORMAP_JET),
                            cv2.COLOR_BGR2RGB)
        out.append(cv2.addWeighted(rgb.astype(np.uint8), 1 - alpha, heat, alpha, 0.0))
    return out


# --- In the clinic's terms: gait phase and body region of a frame --------------------------
# Named body segments as landmark pairs (MediaPipe's own left/right labels).
SEGMENTS: dict[str, tuple[int, int]] = {
    **{f"{side} {part}": (a + k, b + k) for k, side in enumerate(("left", "right"))
       for part, (a, b) in {"thigh (hip to knee)": (23, 25), "knee and shank": (25, 27), "ankle and foot": (27, 31),
                            "upper arm": (11, 13), "forearm and hand": (13, 15)}.items()},
    "trunk": (11, 23), "pelvis": (23, 24), "shoulders": (11, 12), "head": (0, 7),
}


def frame_regions(maps: np.ndarray, skeleton: np.ndarray | None) -> list[str | None]:
    """Per frame, the body segment carrying most of the map: `maps` [8, 224, 224] in 0..1,
    `skeleton` [8, 33, 2] landmarks in model-frame pixels (None: no landmarks → all None).
    A segment's score is the mean map value along it (17 points from end to end)."""
    if skeleton is None:
        return [None] * len(maps)
    t = np.linspace(0.0, 1.0, 17)[:, None]
    out: list[str | None] = []
    for m, pts in zip(maps, np.asarray(skeleton, dtype=np.float64)):
        best, best_score = None, 0.0
        for name, (a, b) in SEGMENTS.items():
            if not np.isfinite(pts[[a, b]]).all():
                continue
            line = np.round(pts[a] + t * (pts[b] - pts[a])).astype(int)
            inside = (line >= 0).all(1) & (line < [m.shape[1], m.shape[0]]).all(1)
            score = float(m[line[inside, 1], line[inside, 0]].mean()) if inside.any() else 0.0
            if score > best_score:
                best, best_score = name, score
        out.append(best)
    return out


def phase_name(phase: tuple[float, str, str] | None) -> str | None:
    """(percent of cycle, "stance" | "swing", side) → e.g. "left mid-swing, 80% of the cycle"."""
    if not phase:
        return None
    pct, kind, side = phase
    # Perry's phases of the gait cycle, by the measured stance / swing of this leg.
    limits = ((10, "loading response"), (30, "mid-stance"), (50, "terminal stance"), (101, "pre-swing")) \
        if kind == "stance" else ((73, "initial swing"), (87, "mid-swing"), (101, "terminal swing"))
    name = next(n for limit, n in limits if pct < limit)
    return f"{side} {name}, {pct:.0f}% of the cycle"


def frame_titles(analysis: Analysis, explanation: Explanation) -> list[str]:
    """One title per frame: its share of the map, gait phase and the segment the map favours."""
    phases = list(getattr(analysis, "frame_phases", []) or []) + [None] * 8
    regions = frame_regions(explanation.maps, getattr(analysis, "skeleton", None))
    out = []
    for k, (share, region) in enumerate(zip(explanation.frame_importance, regions)):
        parts = [f"Frame {k + 1}: {share:.0%}", phase_name(phases[k]), region]
        out.append(" · ".join(p for p in parts if p))
    return out


def summary_sentence(analysis: Analysis, explanation: Explanation) -> str:
    """E.g. "Most weight on frame 5 (left mid-swing, 80% of the cycle), around the left knee and shank: …"."""
    k = int(np.argmax(explanation.frame_importance))
    phases = list(getattr(analysis, "frame_phases", []) or []) + [None] * 8
    region = frame_regions(explanation.maps[k : k + 1], None if analysis.skeleton is None else analysis.skeleton[k : k + 1])[0]
    where = f", around the {region}" if region else ""
    when = f" ({phase_name(phases[k])})" if phases[k] else ""
    return (f"Most weight on frame {k + 1}{when}{where}: {explanation.frame_importance[k]:.0%} of the map's mass "
            f"for {explanation.target}.")


# --- Public API ----------------------------------------------------------------------------
def explain(analysis: Analysis, method: str = "gradcam", target: str | int | None = None,
            model: nn.Module | None = None) -> Explanation:
    """Explain `analysis`'s main clip for `target` (default: the predicted label) with `method`.

    Safe to call from many threads on one shared model: Captum runs on a private copy.
    """
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}; known: {', '.join(METHODS)}")
    model = model if model is not None else get_model()
    index = class_index(target, analysis.label)
    private = private_copy(model)
    clip, embedding = analysis.clip.detach().clone(), analysis.embedding.detach().clone()
    with torch.enable_grad():  # callers (e.g. a UI) may be inside no_grad
        raw = METHODS[method](private, clip, embedding, index).detach().cpu().numpy()
    maps = normalise(raw, NORMALISE_PERCENTILE.get(method, 99.0))
    source = getattr(analysis, "source_frames", None)
    originals, placements = getattr(analysis, "original_frames", None), getattr(analysis, "placements", None)
    on_originals = None
    if originals is not None and placements is not None:
        on_originals = overlay(originals, maps_on_originals(maps, placements, originals.shape[1], originals.shape[2]))
    return Explanation(
        method=method,
        target=CLASSES[index],
        target_probability=float(probabilities(private, clip, embedding)[0, index]),
        maps=maps,
        frame_importance=frame_shares(raw),
        overlays=overlay(analysis.frames, maps),
        source_overlays=None if source is None else overlay(source, maps),
        original_overlays=on_originals,
    )


def faithfulness(analysis: Analysis, explanation: Explanation, fraction: float = 0.10, n_random: int = 5,
                 seed: int = 0, model: nn.Module | None = None) -> Faithfulness:
    """Blank the `fraction` of pixels the map ranks highest in each frame vs as many random
    pixels per frame; compare the drops of the target's calibrated probability.

    A faithful map gives `ratio` ≫ 1. On pose frames most random pixels are already blank
    background, so `random_drop` is small: the ratio's denominator is floored (`drop_ratio`).
    """
    model = model if model is not None else get_model()
    private = private_copy(model)  # an eval-mode model without touching the shared one's mode
    index = CLASSES.index(explanation.target)
    t, h, w = explanation.maps.shape
    k = max(1, int(round(fraction * h * w)))
    rng = np.random.default_rng(seed)
    # Pixel ranks per frame: stable sort so ties (flat zero regions) break the same every run.
    top = np.argsort(-explanation.maps.reshape(t, -1), axis=1, kind="stable")[:, :k]
    rand = [np.stack([rng.choice(h * w, k, replace=False) for _ in range(t)]) for _ in range(n_random)]
    keep = np.ones((1 + n_random, t, h * w), dtype=bool)  # one mask per scored clip
    for j, chosen in enumerate([top, *rand]):
        np.put_along_axis(keep[j], chosen, False, axis=1)
    keep_t = torch.from_numpy(keep.reshape(1 + n_random, 1, t, h, w))
    clip, blank = analysis.clip.detach(), blank_clip()
    masked = torch.where(keep_t, clip, blank)  # [1 + n_random, 3, 8, H, W]
    probs = probabilities(private, torch.cat([clip, masked]), analysis.embedding.detach())[:, index]
    drops = (probs[0] - probs[1:]).numpy().astype(np.float64)
    random_drop = float(drops[1:].mean()) if n_random else 0.0
    return Faithfulness(top_drop=float(drops[0]), random_drop=random_drop,
                        ratio=drop_ratio(float(drops[0]), random_drop), fraction=fraction,
                        target=explanation.target)


def write_explanation(explanation: Explanation, analysis: Analysis, out_dir: str | Path,
                      faithfulness: Faithfulness | None = None) -> list[Path]:
    """Write `frame_i.png` (and, for video, `source_frame_i.png` and `original_frame_i.png`),
    `strip.png` and `explanation.json`.

    The strip tiles the 8 overlays in a row (more rows for the video's overlays, each frame
    resized to the model frame's size). Returns the
    paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    rows = [("frame", explanation.overlays)]
    if explanation.source_overlays is not None:
        rows.append(("source_frame", explanation.source_overlays))
    if explanation.original_overlays is not None:
        rows.append(("original_frame", explanation.original_overlays))
    for prefix, images in rows:
        for i, image in enumerate(images):
            path = out / f"{prefix}_{i}.png"
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            written.append(path)
    size = explanation.overlays[0].shape[1::-1]  # source frames of another size still tile
    strip = np.vstack([np.hstack([cv2.resize(im, size) for im in images]) for _, images in rows])
    path = out / "strip.png"
    cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    written.append(path)
    record = {**explanation.to_dict(), "analysis": analysis.to_dict(),
              "faithfulness": asdict(faithfulness) if faithfulness is not None else None}
    path = out / "explanation.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    written.append(path)
    return written
