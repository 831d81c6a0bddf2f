"""Random rotations (used by the synthetic data, training augmentation and tests)."""

from __future__ import annotations

import numpy as np

__all__ = ["random_rotation"]


def random_rotation(seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """A uniformly random rotation matrix (3, 3) with determinant +1.

    ``seed`` is an int (a fresh generator) or a ``numpy.random.Generator`` (drawn from, so
    successive calls with one generator give different rotations).
    """
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q
