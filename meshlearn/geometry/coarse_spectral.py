"""Approximate eigenbasis of a large shape, computed on a simplified copy.

The smallest eigenfunctions of the Laplacian are smooth: a copy of a mesh simplified to a few
tens of thousands of vertices resolves the first hundred or so almost as well as the full mesh.
:func:`coarse_eigenbasis` solves on such a copy (quadric error decimation), asking for some more
pairs than wanted, carries the eigenvectors to the shape's vertices by linear interpolation
(barycentric weights of the closest point on the simplified surface), and finishes with a
Rayleigh-Ritz step on the shape's own ``L`` and ``M``. The result is exact within the interpolated
subspace: M-orthonormal vectors on which ``L`` is diagonal, with each eigenvalue at or above the
true one (Courant-Fischer); the error is that of the subspace, about that of solving on the
simplified mesh. ``benchmarks/bench_spectral.py --coarse N`` measures it: at 164k vertices and
N = 20000, about 3x faster than the exact solve, eigenvalues 0.6% high (median; 1.3% at most). On
real scans at a quarter of their vertices: 1.2% / 2.2% (a 35k-vertex bunny scan), 2.6% / 4.6%
(a folded 10k-vertex brain surface).

The closest-point queries use open3d, so on a mesh this needs the ``io`` extra
(``pip install "meshlearn[io]"``; :class:`~meshlearn.errors.MissingDependencyError` otherwise, for
every mesh, also those small enough to be solved exactly, so that a run fails at its first shape
rather than at its first large one). ``OperatorSpec(eigen_coarse=N)`` and ``--eigen-coarse N`` come
here.

Point clouds are solved exactly: interpolating between scattered points (nearest-neighbour
weights) gives vectors too rough for the point-cloud Laplacian (eigenvalues 10-70% high).

Letters: V vertices of the shape, C of the simplified copy, K eigenpairs.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidMeshError, where
from ..optional import require
from ..shape import Shape
from .eigensolver import rayleigh_ritz

__all__ = ["COARSE_EXTRA", "coarse_eigenbasis"]

log = logging.getLogger(__name__)

#: Pairs solved on the copy beyond those wanted, as a fraction of K (at least 8): the top of the
#: interpolated subspace is its least accurate part.
COARSE_EXTRA = 0.25


def coarse_eigenbasis(
    shape: Shape,
    L: sp.spmatrix,
    M: sp.spmatrix,
    k: int,
    *,
    coarse_verts: int = 20000,
    laplacian: str = "robust",
    seed: int = 0,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate ``k`` smallest eigenpairs of ``L phi = lambda M phi`` from a simplified copy.

    Parameters
    ----------
    shape : Shape
        The shape ``L`` and ``M`` belong to; point clouds and meshes of several connected
        components are solved exactly.
    L, M : (V, V) sparse
        Its Laplacian and diagonal mass.
    k : int
        Eigenpairs wanted.
    coarse_verts : int
        Vertices of the simplified copy. A mesh with at most twice as many is solved exactly
        (:func:`~meshlearn.geometry.spectral.eigenbasis`), and so is one whose copy would be
        too small for k pairs (k >= coarse_verts / 4). default: 20000
    laplacian : {"robust", "cotan"}
        Laplacian of the copy; the same kind as ``L``. default: "robust"
    seed : int
        Seed of the solve on the copy. default: 0
    workers : int, optional
        Passed to the solve on the copy.

    Returns
    -------
    evals : (K,) float64
        Ascending, clipped at 0; each at or above the corresponding exact eigenvalue.
    evecs : (V, K) float64
        M-orthonormal.

    Raises
    ------
    MissingDependencyError
        ``shape`` is a mesh and open3d is not installed (``pip install "meshlearn[io]"``).
    """
    from .laplacian import laplacian as build_laplacian
    from .spectral import eigenbasis

    if shape.faces is not None:
        require("open3d", "the approximate eigenbasis (eigen_coarse)")
    V = shape.n_verts
    coarse_verts = int(coarse_verts)
    L = sp.csr_matrix(L)

    def exact() -> tuple[np.ndarray, np.ndarray]:
        return eigenbasis(L, M, k, source=shape.source, workers=workers, seed=seed)

    if (
        shape.faces is None
        or V <= 2 * coarse_verts
        or k >= coarse_verts // 4
        or sp.csgraph.connected_components(L, directed=False)[0] > 1  # a copy may join components
    ):
        return exact()
    try:
        copy = _simplified(shape, coarse_verts)
        P = _interpolation(shape, copy)
    except (InvalidMeshError, RuntimeError, ValueError) as e:  # decimation collapsed or rejected the mesh
        log.info("%sno simplified copy (%s); exact eigenpairs", where(shape.source), e)
        return exact()
    Lc, Mc = build_laplacian(copy, kind=laplacian)
    kc = min(k + max(8, int(COARSE_EXTRA * k)), copy.n_verts // 3)
    _, Xc = eigenbasis(Lc, Mc, kc, source=shape.source, workers=workers, seed=seed)
    X = P @ Xc
    mass = np.asarray(sp.csr_matrix(M).diagonal())
    w, X = rayleigh_ritz(L, mass, X, drop_dependent=True)
    if w.shape[0] < k:
        log.info("%sthe simplified copy spans only %d directions; exact eigenpairs", where(shape.source), w.shape[0])
        return exact()
    log.debug("coarse eigenbasis: %d -> %d vertices, %d pairs on the copy", V, copy.n_verts, kc)
    return np.clip(w[:k], 0.0, None), X[:, :k]


def _simplified(shape: Shape, n: int) -> Shape:
    """A copy of a mesh with about n vertices: quadric error decimation (``fast_simplification``,
    a few tenths of a second at 164k vertices where open3d's takes seconds). Quadric decimation
    keeps the surface's topology where vertex clustering would join the walls of folds (a brain's
    sulci: eigenvalues 10-30% off)."""
    import fast_simplification

    verts, faces = fast_simplification.simplify(
        shape.verts.astype(np.float32), shape.faces.astype(np.int32), target_reduction=1.0 - n / shape.n_verts
    )
    verts = np.asarray(verts, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if faces.shape[0] == 0 or verts.shape[0] < n // 4:
        raise InvalidMeshError(f"{where(shape.source)}decimation left {verts.shape[0]} vertices")
    return Shape(verts, faces, source=shape.source)


def _interpolation(shape: Shape, copy: Shape) -> sp.csr_matrix:
    """(V, C) weights carrying functions on the copy's vertices to the shape's (rows sum to one):
    the barycentric coordinates of each vertex's closest point on the copy (open3d's BVH; a
    KD-tree over the copy's vertices misses the closest face next to its long triangles)."""
    o3d = require("open3d", "the approximate eigenbasis (eigen_coarse)")

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(copy.verts.astype(np.float32)), o3d.core.Tensor(copy.faces.astype(np.uint32)))
    hit = scene.compute_closest_points(o3d.core.Tensor(shape.verts.astype(np.float32)))
    face = hit["primitive_ids"].numpy().astype(np.int64)
    uv = hit["primitive_uvs"].numpy().astype(np.float64)  # the point is (1 - u - v) a + u b + v c
    w = np.clip(np.column_stack([1.0 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]]), 0.0, None)
    w /= w.sum(axis=1, keepdims=True)
    V = shape.n_verts
    return sp.csr_matrix((w.ravel(), (np.repeat(np.arange(V), 3), copy.faces[face].ravel())), shape=(V, copy.n_verts))
