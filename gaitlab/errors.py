"""Errors GaitLab raises for input it cannot use.

`InputError` carries a plain-language message meant for the user: the CLI prints it as one
`error:` line and exits 2, the app shows it in a red box. Anything else is a bug.
"""
from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """The input cannot be analysed (missing, empty, not a video, too short, wrong layout)."""


class WeightsError(RuntimeError):
    """Weights on disk are missing, not safetensors, or do not match their model card."""


def check_input_file(path: str | Path, extensions: tuple[str, ...]) -> Path:
    """`path` as a `Path` if it is a non-empty regular file with one of `extensions`.

    Otherwise an `InputError` saying plainly why: missing, a folder, a pipe or device (which
    would block a reader), unreadable, an unsupported type, or empty.
    """
    p = Path(path)
    name = p.name or str(p)
    try:
        if not p.exists():
            raise InputError(f"{p} does not exist.")
        if p.is_dir():
            raise InputError(f"{p} is a folder; give a video or a keypoint CSV file.")
        if not p.is_file():
            raise InputError(f"{name} is not a regular file.")
        size = p.stat().st_size
    except OSError as exc:  # e.g. no permission to look inside its folder
        raise InputError(f"{p} could not be read ({exc.strerror or 'access error'}).") from None
    if p.suffix.lower() not in extensions:
        kinds = ", ".join(e.lstrip(".") for e in extensions)
        raise InputError(f"{name} is not a supported file type (supported: {kinds}).")
    if size == 0:
        raise InputError(f"{name} is empty.")
    return p
