"""Videos of the parametric walker (`gaitlab.synth.walker`): clothed figures on a static background.

`render_walk_video` writes walks (keypoint sequences [T, 33, 4], e.g. `walk_keypoints`) as a
colour video of any size and frame rate, frame by frame (long videos are streamed to the
encoder, never held), on a textured scene with mild sensor noise or on a plain two-tone one
without (fast, for benchmarks), with optional true person masks bool [T, H, W]; `draw_device`
draws a walking aid (`Device`) in pixels, for the simulated videos.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gaitlab.pipeline.render import RenderStyle, body_height, body_shapes, draw_body
from gaitlab.synth.walker import Device


def draw_device(img: np.ndarray, points_px: np.ndarray, segments, thickness_px: float, colour) -> None:
    """Draw a device's tubes (`points_px` [K, 2] in `img` pixels) into `img`."""
    if not np.isfinite(points_px).all():
        return
    th = max(1, int(round(thickness_px)))
    pts = np.round(points_px).astype(int)
    for i, j in segments:
        cv2.line(img, tuple(pts[i].tolist()), tuple(pts[j].tolist()), colour, th, cv2.LINE_8)


_FOURCC_BY_EXT = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG",
                  ".mkv": "XVID", ".webm": "VP80"}
# Clothing palettes (RGB): skin, shirt, trousers, shoes; saturated or dark, unlike the
# muted light background, so a background model separates them cleanly.
_PALETTES = (
    ((224, 172, 140), (200, 40, 40), (30, 40, 110), (20, 20, 20)),
    ((150, 100, 70), (40, 120, 200), (60, 50, 40), (120, 30, 30)),
    ((240, 200, 170), (230, 200, 30), (20, 20, 20), (240, 240, 240)),
    ((110, 70, 50), (30, 160, 80), (90, 30, 120), (30, 30, 90)),
)


BACKGROUNDS = ("textured", "plain")
_PLAIN_WALL, _PLAIN_FLOOR = (170, 176, 182), (120, 124, 128)  # RGB: calm greys, as a clinic corridor


def _plain_background(width: int, height: int) -> np.ndarray:
    """A plain scene (RGB uint8): one grey wall above a darker floor, no texture or shapes."""
    img = np.empty((height, width, 3), np.uint8)
    floor = int(height * 0.8)
    img[:floor], img[floor:] = _PLAIN_WALL, _PLAIN_FLOOR
    return img


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A static, textured scene (RGB uint8): wall gradient, floor, a few fixed shapes.

    Cool greys and greens only, so skin and clothing colours stand well apart from it.
    """
    ys = np.linspace(0.0, 1.0, height)[:, None, None]
    xs = np.linspace(0.0, 1.0, width)[None, :, None]
    wall = np.array([155, 168, 182]) + 25 * xs * np.array([0.2, 0.6, 1.0]) - 15 * ys
    img = np.broadcast_to(wall, (height, width, 3)).copy()
    floor = int(height * 0.78)
    img[floor:] = np.array([118, 122, 128]) + 25 * (ys[floor:] - ys[floor])
    for _ in range(5):  # door frames, posters, plants: muted, never moving
        x0, y0 = int(rng.uniform(0, width * 0.9)), int(rng.uniform(0, floor * 0.7))
        w, h = int(rng.uniform(0.05, 0.15) * width), int(rng.uniform(0.1, 0.3) * height)
        colour = rng.uniform(140, 200) + rng.uniform(-12, 12, 3) - np.array([15, 0, 0])
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), colour.tolist(), -1)
    img += rng.normal(0.0, 5.0, img.shape)  # fixed texture
    return np.clip(img, 0, 255).astype(np.uint8)


def render_walk_video(path: str | Path, walkers: list[np.ndarray], width: int = 640,
                      height: int = 360, fps: float = 30.0, seed: int = 0,
                      return_masks: bool = False, codec: str | None = None,
                      devices: list[Device | None] | None = None, background: str = "textured",
                      noise: int = 3) -> np.ndarray | None:
    """Write a colour video of clothed figures walking on a static background.

    `walkers`: keypoint sequences [T, 33, 4] normalised to this frame (e.g. `walk_keypoints`
    with aspect = width/height); T is taken from the first, shorter ones stop drawing early.
    `devices`: a walking aid (`walk_with_device`) or None per walker, drawn in front of it.
    `codec` is a FourCC; by default it is picked from the extension (mp4v for .mp4/.mov,
    MJPG for .avi, ...). `background`: "textured" (a wall gradient, floor and fixed shapes
    drawn from `seed`) or "plain" (two flat greys). `noise`: amplitude of the uniform per-frame
    sensor noise in grey levels (0: none, the cheapest to render and encode). Frames go to the
    encoder as they are drawn. Returns the true person mask bool [T, height, width] (union of
    all figures, exactly their drawn pixels) when `return_masks`, else None. Deterministic in
    `seed` (clothing palettes too).
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, not {background!r}")
    path = Path(path)
    rng = np.random.default_rng(seed)
    fourcc = codec or _FOURCC_BY_EXT.get(path.suffix.lower(), "mp4v")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps),
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write a {path.suffix} video with codec {fourcc}.")
    scene = _background(width, height, rng) if background == "textured" else _plain_background(width, height)
    figures = []
    for k, seq in enumerate(walkers):
        pts = np.asarray(seq, dtype=np.float64)[..., :2] * [width, height]
        skin, shirt, trousers, shoes = _PALETTES[(seed + k) % len(_PALETTES)]
        colours = {"head": skin, "neck": skin, "hand": skin, "torso": shirt, "arm": shirt,
                   "thigh": trousers, "shank": trousers, "foot": shoes}
        device = devices[k] if devices else None
        figures.append((body_shapes(pts, body_height(pts), RenderStyle()), colours, len(seq), device))

    n_frames = len(walkers[0]) if walkers else 0
    masks = np.zeros((n_frames, height, width), dtype=bool) if return_masks else None
    try:
        for t in range(n_frames):
            canvas = scene.copy()
            mask = np.zeros((height, width), dtype=np.uint8) if masks is not None else None
            for shapes, colours, length, device in figures:
                if t < length:
                    draw_body(canvas, shapes, t, colours)
                    if mask is not None:
                        draw_body(mask, shapes, t)  # same primitives, so exactly the same pixels
                if device is not None and t < len(device.points):
                    xy, th = device.points[t] * [width, height], device.thickness[t] * height
                    draw_device(canvas, xy, device.segments, th, device.colour)
                    if mask is not None:
                        draw_device(mask, xy, device.segments, th, 255)
            if noise:
                jitter = rng.integers(-noise, noise + 1, canvas.shape, dtype=np.int16)
                canvas = np.clip(canvas.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
            writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
            if masks is not None:
                masks[t] = mask > 0
    finally:
        writer.release()
    return masks
