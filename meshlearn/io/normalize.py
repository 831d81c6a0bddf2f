"""The one normalisation of meshlearn: centre and scale, the transform recorded with the shape.

``new = (old - offset) * scale``, with ``shape.meta`` keys ``"normalize"`` (the kind),
``"offset"`` (3 floats), ``"scale"`` (float), and for a point cloud asked for ``"area"`` a
``"normalize_note"`` saying it was scaled to unit radius instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, InvalidMeshError, where

__all__ = ["DEFAULT_NORMALIZE", "NORMALIZE_KINDS", "check_normalize_kind", "normalize"]

#: The kinds :func:`normalize` (and ``meshlearn.load(..., normalize=...)``) accept, besides None.
NORMALIZE_KINDS = ("area", "radius")
#: How datasets are normalised when loaded, everywhere a dataset's files become shapes: batch
#: preprocessing (``meshlearn preprocess`` and :func:`meshlearn.preprocess`), training,
#: evaluation and the viewer's predictions. Centred on the area-weighted centroid and scaled so
#: that the farthest vertex lies at distance 1. The same file then gives the same bytes, hence
#: the same cache keys, in every stage. (:func:`meshlearn.load` itself keeps the file's scale
#: unless asked.)
DEFAULT_NORMALIZE = "radius"


def check_normalize_kind(kind: str | None) -> None:
    """ConfigError unless ``kind`` is None or one of :data:`NORMALIZE_KINDS`."""
    if kind is not None and kind not in NORMALIZE_KINDS:
        raise ConfigError(f"normalize must be one of {NORMALIZE_KINDS} or None (got {kind!r})")


def normalize(
    verts: np.ndarray, faces: np.ndarray | None, kind: str, source: str | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Centre and scale a shape; returns the new vertices and the meta entries that record how.

    Parameters
    ----------
    verts : (V, 3) float64
        Finite coordinates.
    faces : (F, 3) int64 or None
        None (or no faces) for a point cloud.
    kind : {"area", "radius"}
        ``"area"``: centre on the area-weighted centroid (the centroid of the surface) and scale to
        unit total area; a point cloud, having no area, is centred on its mean and scaled to unit
        radius. ``"radius"``: centre the same way and scale so the farthest vertex is at distance 1.
    source : str, optional
        The file, for messages.

    Returns
    -------
    verts : (V, 3) float64
        ``(verts - offset) * scale``.
    meta : dict
        ``{"normalize": kind, "offset": [x, y, z], "scale": s}`` (+ ``"normalize_note"``).

    Notes
    -----
    The work is done on ``verts / m`` (m the largest absolute coordinate), so that coordinates near
    the float64 limit neither overflow nor lose the result.

    Examples
    --------
    >>> v, meta = normalize(np.array([[0.0, 0, 0], [2, 0, 0], [0, 2, 0]]), np.array([[0, 1, 2]]), "area")
    >>> round(meta["scale"] ** 2 * 2.0, 12)  # area 2 scaled by s**2 to 1
    1.0
    """
    check_normalize_kind(kind)
    if kind is None:
        raise ConfigError("normalize() needs a kind, one of ('area', 'radius')")
    m = float(np.abs(verts).max()) if len(verts) else 0.0
    if not m > 0:
        raise InvalidMeshError(
            f"{where(source)}cannot normalise: every vertex is at the origin; load it with normalize=None"
        )
    u = verts / m
    if faces is not None and len(faces):
        t = u[faces]
        areas = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
        total = float(areas.sum())
        if not total > 0:
            raise InvalidMeshError(f"{where(source)}cannot normalise a mesh of zero area; load it with clean=True")
        centre = (areas[:, None] * t.mean(axis=1)).sum(0) / total
    else:
        total = 0.0
        centre = u.mean(axis=0)
    centred = u - centre
    if kind == "area" and total > 0:
        scale = 1.0 / np.sqrt(total)
    else:  # "radius", and "area" for a point cloud (which has no area)
        r = float(np.linalg.norm(centred, axis=1).max())
        if not r > 0:
            raise InvalidMeshError(
                f"{where(source)}cannot normalise: every point is at the same position; load it with normalize=None"
            )
        scale = 1.0 / r
    meta: dict[str, Any] = {"normalize": kind, "offset": (centre * m).tolist(), "scale": float(scale / m)}
    if kind == "area" and total == 0:
        meta["normalize_note"] = "a point cloud has no area: scaled to unit radius instead"
    return centred * scale, meta
