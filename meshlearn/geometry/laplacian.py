"""Laplacian and lumped mass of meshes and point clouds.

Letters: V vertices, F faces.

Conventions: ``L`` is the weak (not divided by mass), positive semi-definite Laplacian, a scipy
CSR (V, V) matrix whose rows sum to zero; ``M`` is the lumped (diagonal) mass matrix, a CSR
(V, V) matrix whose diagonal sums to the surface area.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError, InvalidMeshError, where
from ..shape import Shape

__all__ = ["laplacian", "cotan_laplacian", "robust_laplacian"]

KINDS = ("robust", "cotan")


def laplacian(shape: Shape, kind: str = "robust", *, mollify_factor: float = 1e-5) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Weak Laplacian ``L`` and lumped mass ``M`` of a mesh or point cloud.

    Parameters
    ----------
    shape : Shape
        A mesh (``faces`` (F, 3) int64) or a point cloud (``faces is None``).
    kind : {"robust", "cotan"}
        ``"robust"``: the tufted intrinsic-Delaunay Laplacian of robust-laplacian (Sharp & Crane
        2020); works on non-manifold meshes and on point clouds. ``"cotan"``: the plain cotangent
        Laplacian with barycentric lumped mass, for manifold meshes. default: "robust"
    mollify_factor : float
        Intrinsic mollification of near-degenerate triangles, relative to the mean edge length
        (robust only). default: 1e-5

    Returns
    -------
    L : (V, V) scipy.sparse.csr_matrix, float64
        Positive semi-definite, rows sum to zero, not divided by mass.
    M : (V, V) scipy.sparse.csr_matrix, float64
        Diagonal lumped mass; its diagonal sums to the surface area.
    """
    if kind not in KINDS:
        raise ConfigError(f"laplacian kind must be one of {KINDS} (got {kind!r})")
    if shape.n_verts == 0:
        raise InvalidMeshError(f"{where(shape.source)}the shape has no vertices; load a non-empty file")
    if not np.all(np.isfinite(shape.verts)):
        bad = int((~np.isfinite(shape.verts)).any(axis=1).sum())
        raise InvalidMeshError(
            f"{where(shape.source)}{bad} vertices have NaN or infinite coordinates; load with clean=True to drop them"
        )
    if shape.is_mesh:
        used = np.zeros(shape.n_verts, dtype=bool)
        used[shape.faces.ravel()] = True
        if not used.all():
            raise InvalidMeshError(
                f"{where(shape.source)}{int((~used).sum())} of {shape.n_verts} vertices belong to no face "
                "(they would have no Laplacian); load with clean=True to remove unreferenced vertices"
            )
    if kind == "robust":
        return robust_laplacian(shape, mollify_factor=mollify_factor)
    if not shape.is_mesh:
        raise ConfigError(f"{where(shape.source)}the cotangent Laplacian needs faces; use kind='robust' for point clouds")
    return cotan_laplacian(shape.verts, shape.faces)


def robust_laplacian(shape: Shape, *, mollify_factor: float = 1e-5, n_neighbors: int = 30) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The tufted intrinsic-Delaunay Laplacian (meshes) or point-cloud Laplacian of robust-laplacian."""
    import robust_laplacian as rl

    verts = np.ascontiguousarray(shape.verts, dtype=np.float64)
    try:
        if shape.is_mesh:
            L, M = rl.mesh_laplacian(verts, np.ascontiguousarray(shape.faces, dtype=np.int64), mollify_factor=mollify_factor)
        else:
            k = int(min(n_neighbors, max(shape.n_verts - 1, 1)))
            L, M = rl.point_cloud_laplacian(verts, mollify_factor=mollify_factor, n_neighbors=k)
    except (RuntimeError, ValueError) as e:
        raise InvalidMeshError(
            f"{where(shape.source)}robust Laplacian failed ({e}); load with clean=True to repair the mesh"
        ) from e
    L = sp.csr_matrix(L)
    L = (0.5 * (L + L.T)).tocsr()  # exact symmetry (the tufted construction is symmetric to rounding)
    return L, sp.diags(np.asarray(sp.csr_matrix(M).diagonal())).tocsr()


def cotan_laplacian(verts: np.ndarray, faces: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Cotangent Laplacian and barycentric lumped mass of a triangle mesh.

    ``L[i, j] = -(cot alpha_ij + cot beta_ij) / 2`` for an edge (i, j) with opposite angles
    alpha_ij, beta_ij, and ``L[i, i] = -sum_j L[i, j]``; ``M[i, i]`` is a third of the area of the
    faces around vertex i. Zero-area faces contribute nothing (instead of infinite cotangents).

    Parameters
    ----------
    verts : (V, 3) float64
    faces : (F, 3) int64

    Returns
    -------
    L, M : (V, V) scipy.sparse.csr_matrix
        As in :func:`laplacian`. L is PSD only when the mesh has no obtuse-angle trouble; the
        cotangent weights of a very obtuse mesh can be negative (use ``kind="robust"`` there).
    """
    verts = np.asarray(verts, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    V = verts.shape[0]
    tri = verts[faces]  # (F, 3, 3)
    rows, cols, vals = [], [], []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        # angle at corner i, opposite edge (j, k)
        u = tri[:, j] - tri[:, i]
        v = tri[:, k] - tri[:, i]
        cross = np.linalg.norm(np.cross(u, v), axis=1)
        dot = np.einsum("ij,ij->i", u, v)
        ok = cross > 1e-12 * np.maximum(np.abs(dot), 1e-300)
        cot = np.where(ok, dot / np.where(ok, cross, 1.0), 0.0)
        w = 0.5 * cot
        rows += [faces[:, j], faces[:, k]]
        cols += [faces[:, k], faces[:, j]]
        vals += [-w, -w]
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    vals = np.concatenate(vals)
    off = sp.coo_matrix((vals, (rows, cols)), shape=(V, V)).tocsr()
    off = 0.5 * (off + off.T)  # exact symmetry
    L = (off - sp.diags(np.asarray(off.sum(axis=1)).ravel())).tocsr()
    L.sum_duplicates()
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    mass = np.bincount(faces.ravel(), weights=np.repeat(areas / 3.0, 3), minlength=V)
    return sp.csr_matrix(L), sp.diags(mass).tocsr()
