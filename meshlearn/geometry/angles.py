"""The one convention for angles: radians, wrapped to ``(-pi, pi]``.

``(-pi, pi]`` is the range of ``atan2`` and :func:`numpy.angle`, so an angle measured as the
direction of a vector is already wrapped, and :class:`~meshlearn.geometry.types.GaugeData` and
:class:`~meshlearn.geometry.types.PatchData` store their angles in it. :func:`wrap_angle` is the
single place that maps any angle into it, for numpy arrays (geometry) and torch tensors (the gauge
layers) alike; this module imports torch only to recognise a tensor that is already loaded.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

__all__ = ["TWO_PI", "wrap_angle"]

TWO_PI = 2.0 * math.pi


def wrap_angle(angle: Any) -> Any:
    """``angle`` wrapped to ``(-pi, pi]``: the angle in that range that equals it modulo ``2 pi``.

    Parameters
    ----------
    angle : array-like or torch.Tensor, any shape, radians
        A torch tensor stays a tensor of its dtype and device (differentiable almost everywhere:
        the gradient is 1 except where the input is an odd multiple of pi); anything else becomes
        a float64 numpy array.

    Returns
    -------
    the same shape: ``-pi < w <= pi``. An input of exactly ``-pi`` (or ``pi``, ``3 pi``, ...)
    gives ``pi``; a remainder that rounds up to ``2 pi`` also gives ``pi``.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(angle, torch.Tensor):
        w = torch.remainder(angle + math.pi, TWO_PI) - math.pi
        return torch.where(w == -math.pi, torch.full_like(w, math.pi), w)
    w = np.mod(np.asarray(angle, dtype=np.float64) + np.pi, TWO_PI) - np.pi
    return np.where(w == -np.pi, np.pi, w)
