"""Small helpers about files that several layers need (base layer: imports nothing of gaitlab)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes as hex, read in 1 MiB blocks (weights and model files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def user_cache_dir(*parts: str) -> Path:
    """GaitLab's cache folder (`GAITLAB_CACHE`, else `$XDG_CACHE_HOME/gaitlab`, else
    `~/.cache/gaitlab`), with `parts` joined below it; not created here."""
    base = os.environ.get("GAITLAB_CACHE")
    if not base:
        base = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gaitlab")
    return Path(base).joinpath(*parts)
