"""Errors GaitLab raises for input it cannot use.

`InputError` carries a plain-language message meant for the user: the CLI prints it as one
`error:` line and exits 2, the app shows it in a red box. Anything else is a bug.
`one_line` turns any message (or exception) into the single line such places need.
"""
from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """The input cannot be analysed (missing, empty, not a video, too short, wrong layout)."""


class NoWalkError(InputError):
    """The person analysed does not walk (standing, stepping on the spot, running, hopping;
    nobody walking among several people): no gait class is given. The message starts with
    "no walk to analyse: " and says what was found instead; `people` lists everyone found
    (dicts as `pipeline.people.Person.to_dict`), so a caller can still show them, and `track`
    the person's tracked landmarks (a `pipeline.pose.PoseTrack`, for a video), so a caller can
    offer them without tracking the video again."""

    def __init__(self, message: str, people: list[dict] | None = None, person: int | None = None,
                 track: object = None):
        super().__init__(message)
        self.people = list(people or [])
        self.person = person
        self.track = track


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


def one_line(text: object, limit: int | None = None) -> str:
    """`str(text)` on one line: its lines joined by single spaces, other spacing kept as is.

    `text` is a message or an exception. With `limit`, a longer result is cut to `limit`
    characters followed by "…". Error messages end up on one CLI line, and cohort messages in
    one CSV cell: one line per row is what lets a resumed run tell a complete row from a
    half-written one. Spacing inside a line is kept so a file name quoted in a message stays
    exactly as it is on disk.
    """
    line = " ".join(str(text).splitlines())
    if limit is not None and len(line) > limit:
        return line[:limit] + "…"
    return line
