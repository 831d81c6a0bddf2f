"""compute_operators(): the one place that maps an :class:`OperatorSpec` to geometry calls.

A network class declares the operator kinds it needs (``DiffusionNet.requires = {"spectral",
"gradients"}``); :meth:`OperatorSpec.for_net` turns that into a spec; :func:`compute_operators`
computes exactly those kinds (plus the kinds they depend on) and nothing else, through the cache
when a folder is given. The types and the table of kinds are in :mod:`meshlearn.geometry.types`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from ..shape import Shape
from .hugepages import no_hugepages
from .types import (
    GEOMETRY_VERSION,
    OPERATOR_FIELDS,
    OPERATOR_KINDS,
    GaugeData,
    GaugePoolData,
    OperatorSpec,
    Operators,
    PatchData,
)

__all__ = [
    "GEOMETRY_VERSION",
    "OPERATOR_KINDS",
    "OperatorSpec",
    "Operators",
    "GaugeData",
    "GaugePoolData",
    "PatchData",
    "compute_operators",
]

def _compute_kind(kind: str, shape: Shape, spec: OperatorSpec, out: Operators) -> None:
    # Imports are local so that importing meshlearn stays fast and each module stays optional.
    if kind == "laplacian":
        from .laplacian import laplacian

        L, M = laplacian(shape, kind=spec.laplacian)
        out.L, out.mass = L, np.asarray(M.diagonal())
    elif kind == "spectral":
        from .spectral import eigenbasis

        M = sp.diags(out.mass).tocsr()
        if spec.eigen_coarse:
            from .coarse_spectral import coarse_eigenbasis

            out.evals, out.evecs = coarse_eigenbasis(
                shape, out.L, M, spec.k, coarse_verts=spec.eigen_coarse, laplacian=spec.laplacian
            )
        else:
            out.evals, out.evecs = eigenbasis(out.L, M, k=spec.k, source=shape.source)
    elif kind == "hks":
        from .spectral import hks, hks_times, unit_area_hks

        if spec.descriptor_grid == "unit_area":
            out.hks = unit_area_hks(out.evals, out.evecs, out.mass, spec.n_hks)
        else:
            out.hks = hks(out.evals, out.evecs, hks_times(out.evals, spec.n_hks))
    elif kind == "wks":
        from .spectral import unit_area_wks, wks, wks_energies

        if spec.descriptor_grid == "unit_area":
            out.wks = unit_area_wks(out.evals, out.evecs, out.mass, spec.n_wks)
        else:
            out.wks = wks(out.evals, out.evecs, wks_energies(out.evals, spec.n_wks))
    elif kind == "frames":
        from .frames import tangent_frames

        out.frames = tangent_frames(shape, knn=spec.knn)
    elif kind == "gradients":
        from .frames import gradient_operators

        out.grad_x, out.grad_y = gradient_operators(shape, out.frames, knn=spec.knn)
    elif kind == "gauge":
        from .transport import gauge_data

        out.gauge = gauge_data(shape, frames=out.frames, knn=spec.knn)
    elif kind == "patches":
        from .transport import geodesic_patches

        radius = spec.patch_radius * _scale(shape)
        out.patches = geodesic_patches(
            shape, radius, frames=out.frames, max_neighbors=spec.patch_max, gauge=out.gauge, knn=spec.knn
        )
    elif kind == "gauge_pool":
        from .pooling import gauge_pooling

        out.pool = gauge_pooling(shape, out.frames, out.gauge, levels=spec.pool_levels, ratio=spec.pool_ratio)
    elif kind == "geodesics":
        from .geodesics import pairwise_geodesics

        out.geodesics = pairwise_geodesics(shape).astype(np.float32)
    else:  # pragma: no cover - guarded by OperatorSpec
        raise ConfigError(f"unknown operator kind {kind!r}")


def _scale(shape: Shape) -> float:
    """sqrt(area) for meshes, bounding-box diagonal for point clouds."""
    if shape.is_mesh:
        return float(np.sqrt(shape.area()))
    return shape.diameter()


_ORDER = ("laplacian", "spectral", "hks", "wks", "frames", "gradients", "gauge", "patches", "gauge_pool", "geodesics")


def _cast(ops: Operators, dtype: str) -> Operators:
    """Store every computed float array in ``dtype``; ``verts`` stay float64 (compared exactly
    on cache hits), index arrays stay int64 and ``geodesics`` float32 (V^2 memory)."""

    def cast(value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            return value.astype(dtype, copy=False)
        return value

    for name in ("evals", "evecs", "hks", "wks", "frames", "mass"):
        setattr(ops, name, cast(getattr(ops, name)))
    for name in ("L", "grad_x", "grad_y"):
        value = getattr(ops, name)
        if value is not None:
            setattr(ops, name, value.astype(dtype))
    if ops.gauge is not None:
        ops.gauge = GaugeData(ops.gauge.edge_index, cast(ops.gauge.angle), cast(ops.gauge.transport))
    if ops.pool is not None:
        ops.pool = dataclasses.replace(
            ops.pool,
            **{name: cast(getattr(ops.pool, name)) for name in ("pool_transport", "weight", "angle", "transport")},
        )
    if ops.patches is not None:
        p = ops.patches
        ops.patches = PatchData(p.edge_index, cast(p.radius), cast(p.angle), p.max_radius)
    return ops


def compute_operators(
    shape: Shape,
    spec: OperatorSpec | None = None,
    cache: Any = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Operators:
    """Compute the operators ``spec`` asks for on ``shape``.

    Parameters
    ----------
    shape : Shape
        A mesh or point cloud (see :func:`meshlearn.load`).
    spec : OperatorSpec, optional
        What to compute. default: ``OperatorSpec()`` (Laplacian, mass and 128 eigenpairs)
    cache : str or Path or OperatorCache or None
        A folder (or cache object) to read from and write to; ``None`` computes without caching.
    progress : callable, optional
        Called with the name of each operator kind as it starts.

    Returns
    -------
    Operators
        numpy / scipy arrays; call ``.to(device)`` for torch tensors.
    """
    spec = spec or OperatorSpec()
    if cache is not None:
        from ..cache import OperatorCache

        store = cache if isinstance(cache, OperatorCache) else OperatorCache(cache)
        return store.get_or_compute(shape, spec, _compute, progress=progress)
    return _compute(shape, spec, progress=progress)


def _compute(shape: Shape, spec: OperatorSpec, progress: Callable[[str], None] | None = None) -> Operators:
    out = Operators(verts=shape.verts, faces=shape.faces, spec=spec, shape_hash=shape.content_hash())
    with no_hugepages():  # many large short-lived arrays (see meshlearn.geometry.hugepages)
        for kind in _ORDER:
            if kind in spec.operators:
                if progress is not None:
                    progress(kind)
                _compute_kind(kind, shape, spec, out)
    # Fields computed only as dependencies stay: they are cheap to keep and often useful.
    return _cast(out, spec.dtype)
