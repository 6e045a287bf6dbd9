"""The error a malformed or unsupported model raises."""

from __future__ import annotations

from metallic._core import MetallicError


class ModelError(MetallicError, ValueError):
    """A model file or directory that is missing, malformed or of an unsupported kind; the message
    names the file and what is wrong."""
