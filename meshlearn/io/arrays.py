"""Checking user arrays at the boundary: vertices (V, 3) and faces (F, k) into float64 / int64 polygons."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidMeshError, where

__all__ = ["coerce_faces", "coerce_verts"]


def coerce_verts(verts: Any, source: str | None) -> np.ndarray:
    """``verts`` as (V, 3) float64, or InvalidMeshError saying what was expected and what came."""
    try:
        arr = np.asarray(verts)
    except (ValueError, TypeError) as e:
        raise InvalidMeshError(f"{where(source)}vertices are not a numeric array ({e}); pass a (V, 3) float array") from e
    if arr.dtype.kind not in "iuf":
        raise InvalidMeshError(
            f"{where(source)}expected vertices as a (V, 3) float array (got dtype {arr.dtype}); convert them with "
            "np.asarray(verts, dtype=float)"
        )
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InvalidMeshError(f"{where(source)}expected vertices of shape (V, 3) (got {arr.shape}); pass x y z columns")
    return np.asarray(arr, dtype=np.float64)


def coerce_faces(faces: Any, source: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(F, k) integer-valued faces (k >= 3) -> (corners (F * k,) int64, sizes (F,) int64)."""
    try:
        arr = np.asarray(faces)
    except (ValueError, TypeError) as e:
        raise InvalidMeshError(f"{where(source)}faces are not a rectangular array ({e}); pass (F, 3) int64") from e
    if arr.dtype.kind not in "iuf" or arr.ndim != 2:
        raise InvalidMeshError(
            f"{where(source)}expected faces as an (F, 3) integer array (got dtype {arr.dtype}, shape {arr.shape})"
        )
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
                raise InvalidMeshError(f"{where(source)}face indices must be whole numbers; pass (F, 3) int64")
    if arr.size and (arr.max() > np.iinfo(np.int64).max or arr.min() < np.iinfo(np.int64).min):
        raise InvalidMeshError(f"{where(source)}face indices do not fit in int64; pass (F, 3) int64 indices below V")
    arr = arr.astype(np.int64)
    if arr.shape[1] < 3 and arr.shape[0] > 0:
        raise InvalidMeshError(f"{where(source)}expected faces of shape (F, 3) (got {arr.shape}); pass triangles or polygons")
    if arr.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return arr.ravel(), np.full(len(arr), arr.shape[1], dtype=np.int64)
