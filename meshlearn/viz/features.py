"""Per-vertex features to look at, by name: computed on the fly from a shape, or read from an
operator cache file.

Letters: V vertices, C channels, K eigenpairs, T descriptor scales.

Names understood by :func:`compute_feature`:

================================  ============================================================
``hks``                           heat kernel signature, (V, T)
``wks``                           wave kernel signature, (V, T)
``eig`` (``eigenfunctions``,      Laplacian eigenfunctions, (V, K), ascending eigenvalue
``evecs``)                        (channel 0 is the constant one)
``geodesic:<i>``                  geodesic distance from vertex i (heat method), (V, 1)
``mean`` (``mean_curvature``)     mean curvature, (V, 1), positive where the surface bulges
                                  outward (1/r on a sphere of radius r; meshes only)
``gaussian``                      Gaussian curvature: angle defect over a third of the incident
(``gaussian_curvature``)          area, (V, 1) (meshes only)
``normals``                       outward unit normals, (V, 3)
``xyz``                           vertex positions, (V, 3)
================================  ============================================================
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..shape import Shape
from .errors import FeatureError

__all__ = ["FEATURE_NAMES", "compute_feature", "operator_features", "channel", "check_length"]

log = logging.getLogger(__name__)

FEATURE_NAMES = ("hks", "wks", "eig", "geodesic:<i>", "mean", "gaussian", "normals", "xyz")

_ALIASES = {
    "eigenfunctions": "eig",
    "evecs": "eig",
    "eigen": "eig",
    "mean_curvature": "mean",
    "gaussian_curvature": "gaussian",
    "normal": "normals",
    "positions": "xyz",
}


def _spectral(shape: Shape, kind: str, k: int) -> np.ndarray:
    from ..geometry.operators import OperatorSpec, compute_operators

    k = max(2, min(int(k), shape.n_verts))
    ops = compute_operators(shape, OperatorSpec(operators=frozenset({kind}), k=k, dtype="float64"))
    return {"hks": ops.hks, "wks": ops.wks, "spectral": ops.evecs}[kind]


def _curvature(shape: Shape, kind: str) -> np.ndarray:
    if not shape.is_mesh:
        raise FeatureError(
            f"{shape.source or shape.name}: {kind} curvature needs a triangle mesh but this is a point cloud; "
            "try hks, wks, eig or normals"
        )
    from .render import to_polydata

    return np.asarray(to_polydata(shape).curvature(curv_type=kind), dtype=np.float64)[:, None]


def compute_feature(shape: Shape, name: str, *, k: int = 64) -> np.ndarray:
    """Compute a named per-vertex feature of ``shape`` (see the module docstring for the names).

    Parameters
    ----------
    shape : Shape
    name : str
        e.g. "hks", "eig", "geodesic:0", "mean", "gaussian", "normals".
    k : int
        Eigenpairs used for hks, wks and eig. default: 64

    Returns
    -------
    (V, C) float64
    """
    raw = name.strip()
    key = _ALIASES.get(raw.lower(), raw.lower())
    if key in ("hks", "wks"):
        return np.asarray(_spectral(shape, key, k), dtype=np.float64)
    if key == "eig":
        return np.asarray(_spectral(shape, "spectral", k), dtype=np.float64)
    if key.startswith("geodesic"):
        return _geodesic(shape, raw)
    if key in ("mean", "gaussian"):
        return _curvature(shape, key)
    if key == "normals":
        from ..geometry import normals

        return np.asarray(normals(shape), dtype=np.float64)
    if key == "xyz":
        return np.asarray(shape.verts, dtype=np.float64)
    raise FeatureError(
        f"unknown feature {name!r}: expected one of {', '.join(FEATURE_NAMES)} "
        "(or an array of an operator cache file)"
    )


def _geodesic(shape: Shape, raw: str) -> np.ndarray:
    _, sep, idx = raw.partition(":")
    try:
        i = int(idx)
    except ValueError:
        raise FeatureError(f"geodesic distance needs a source vertex: write 'geodesic:<i>', e.g. 'geodesic:0' (got {raw!r})") from None
    if not sep or not 0 <= i < shape.n_verts:
        raise FeatureError(
            f"{shape.source or shape.name}: source vertex {i} is out of range; the shape has "
            f"{shape.n_verts} vertices (0 to {shape.n_verts - 1})"
        )
    from ..geometry import geodesic_distance

    return np.asarray(geodesic_distance(shape, [i]), dtype=np.float64).reshape(-1, 1)


def operator_features(ops: Any) -> dict[str, np.ndarray]:
    """The per-vertex arrays stored in an :class:`~meshlearn.Operators` (e.g. read from a cache
    file), each as (V, C): ``hks``, ``wks``, ``evecs``, ``mass``, ``normals`` (from the frames),
    ``geodesics`` (distance from each vertex: row i of the all-pairs matrix is channel i)."""
    out: dict[str, np.ndarray] = {}
    V = ops.n_verts
    for name in ("hks", "wks", "evecs", "mass", "geodesics"):
        value = getattr(ops, name, None)
        if value is None:
            continue
        arr = np.asarray(value, dtype=np.float64)
        out[name] = arr.reshape(V, -1)
    if getattr(ops, "frames", None) is not None:
        out["normals"] = np.asarray(ops.frames, dtype=np.float64)[:, 2, :]
    return out


def channel(values: np.ndarray, index: int, *, name: str = "feature") -> np.ndarray:
    """Column ``index`` of a (V, C) feature, with a clear error for an index out of range."""
    arr = np.asarray(values)
    arr2 = arr.reshape(arr.shape[0], -1)
    C = arr2.shape[1]
    if not -C <= int(index) < C:
        raise FeatureError(f"feature {name!r} has {C} channel{'s' if C != 1 else ''} (0 to {C - 1}); channel {index} does not exist")
    return arr2[:, int(index)]


def check_length(shape: Shape, values: np.ndarray, *, name: str, origin: str | None = None) -> np.ndarray:
    """``values`` as (V, C) when it has one row per vertex of ``shape``; a FeatureError otherwise."""
    arr = np.asarray(values)
    if arr.ndim == 0 or arr.shape[0] != shape.n_verts:
        n = arr.shape[0] if arr.ndim else "no"
        raise FeatureError(
            f"{origin + ': ' if origin else ''}feature {name!r} has {n} rows but {shape.source or shape.name} has "
            f"{shape.n_verts} vertices; it was computed for another shape (or another cleaning of it): "
            "recompute it for this file"
        )
    return arr.reshape(shape.n_verts, -1).astype(np.float64)

