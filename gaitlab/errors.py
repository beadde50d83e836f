"""Errors GaitLab raises for input it cannot use.

`InputError` carries a plain-language message meant for the user: the CLI prints it as one
`error:` line and exits 2, the app shows it in a red box. Anything else is a bug.
"""
from __future__ import annotations


class InputError(ValueError):
    """The input cannot be analysed (missing, empty, not a video, too short, wrong layout)."""


class WeightsError(RuntimeError):
    """Weights on disk are missing, not safetensors, or do not match their model card."""
