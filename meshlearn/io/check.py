"""``validate`` for anything :func:`~meshlearn.io.load.load` accepts: load as it is, then report.

:mod:`meshlearn.validate` checks a :class:`Shape` and imports nothing of ``meshlearn.io``; this is
where a path or an array is turned into a shape for it (``meshlearn.validate`` is this function).
"""

from __future__ import annotations

from typing import Any

from ..shape import Shape
from ..validate import ValidationReport, validate as validate_shape
from .load import load

__all__ = ["validate"]


def validate(source: Any) -> ValidationReport:
    """Check a shape, file, array or mesh object for every defect meshlearn knows.

    Parameters
    ----------
    source : Shape, or anything :func:`meshlearn.load` accepts
        Anything but a Shape is loaded first with ``check=False`` and without cleaning, so the
        report shows the input as it is (NaN coordinates and out-of-range faces included).

    Returns
    -------
    ValidationReport
        See :func:`meshlearn.validate.validate`.

    Raises
    ------
    InvalidMeshError
        When the input cannot be loaded as a shape (an unreadable file, an unknown object).

    Examples
    --------
    >>> import numpy as np
    >>> validate((np.eye(3), np.array([[0, 1, 2]]))).n_faces
    1
    """
    shape = source if isinstance(source, Shape) else load(source, check=False)
    return validate_shape(shape)
