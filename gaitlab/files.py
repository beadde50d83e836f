"""Small helpers about files that several layers need (base layer: imports nothing of gaitlab)."""
from __future__ import annotations

import hashlib
import os


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes as hex, read in 1 MiB blocks (weights and model files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
