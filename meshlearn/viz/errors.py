"""Errors raised by meshlearn.viz: a missing display, and features that do not fit a shape."""

from __future__ import annotations

from ..errors import MeshlearnError

__all__ = ["DisplayError", "FeatureError"]


class DisplayError(MeshlearnError, RuntimeError):
    """An interactive window was asked for on a machine with no display."""


class FeatureError(MeshlearnError, ValueError):
    """A per-vertex or per-face array that does not fit the shape, or a feature name or channel
    that does not exist."""
