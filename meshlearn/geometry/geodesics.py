"""Geodesic distances on meshes and point clouds: heat method, exact (MMP), all pairs.

Letters: V vertices, F faces, S sources.

Methods
-------
``"heat"``
    The heat method (Crane et al. 2013) as implemented by potpourri3d: on meshes on the tufted
    intrinsic Delaunay triangulation (robust to poor and non-manifold meshes), on point clouds on
    a local-triangulation Laplacian. Fast (one factorisation, then two sparse solves per query);
    about 0.7 % mean relative error on a 10k-vertex sphere, about 1.5 % on a 5k-point sphere cloud.
``"exact"``
    Exact polyhedral geodesics (Mitchell-Mount-Papadimitriou, via pygeodesic); meshes only, without
    faces that name a vertex twice or edges with more than two faces (such meshes are refused: the
    solver could crash the process on them).
    Exact on the triangle mesh (so the only error is the mesh's approximation of the surface);
    slower (about 0.5 s per source on a 10k-vertex sphere).

Vertices not connected to any source (another component, an isolated vertex) get ``inf``; the
solvers run on the vertices that faces use, so isolated vertices anywhere in the list are fine.
"""

from __future__ import annotations

import logging
from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError, InvalidMeshError, SolverError, where
from ..shape import Shape
from ..validate import degenerate_face_mask, edge_topology
from .checks import check_cloud_size, check_shape
from .topology import local_index, surface_part, vertex_components

__all__ = ["GeodesicSolver", "geodesic_distance", "pairwise_geodesics", "METHODS", "PAIRWISE_MAX_VERTS"]

log = logging.getLogger(__name__)

METHODS = ("heat", "exact")

#: Default refusal limit of :func:`pairwise_geodesics`: (V, V) float32 needs V^2 x 4 bytes
#: (400 MB at 10,000 vertices, 576 MB at 12,000).
PAIRWISE_MAX_VERTS = 12_000


def _check_exact_mesh(shape: Shape) -> None:
    """Refuse faces naming a vertex twice and edges with more than two faces: the exact (MMP)
    solver assumes there are none and can crash the whole process on them."""
    n_degenerate = int(degenerate_face_mask(shape.faces).sum())
    if n_degenerate:
        raise InvalidMeshError(
            f"{where(shape.source)}{n_degenerate} face(s) name the same vertex twice, which exact geodesics "
            "cannot handle; load with clean=True to drop them, or use method='heat'"
        )
    _, counts, _ = edge_topology(shape.faces)
    n = int((counts > 2).sum())
    if n:
        edges = "1 edge is" if n == 1 else f"{n} edges are"
        raise InvalidMeshError(
            f"{where(shape.source)}{edges} shared by more than two faces (non-manifold), which exact "
            "geodesics cannot handle; use method='heat' (robust to non-manifold meshes) or repair the mesh"
        )


class GeodesicSolver:
    """Geodesic distances from any sources on one shape, with the solver set up once.

    Parameters
    ----------
    shape : Shape
        A triangle mesh or a point cloud.
    method : {"heat", "exact"}
        See the module docstring. ``"exact"`` needs a mesh. default: "heat"
    t_coef : float
        Heat-method time step as a multiple of the squared mean edge length. default: 1.0
    knn : int
        Neighbourhood size used to find the connected components of a point cloud. default: 16

    Examples
    --------
    >>> from meshlearn.testing import icosphere
    >>> solver = GeodesicSolver(icosphere(3))
    >>> d0 = solver.distance(0)            # (V,)
    >>> D = solver.distances([0, 5, 9])    # (3, V)
    """

    def __init__(self, shape: Shape, method: str = "heat", *, t_coef: float = 1.0, knn: int = 16) -> None:
        check_shape(shape)
        if method not in METHODS:
            raise ConfigError(f"geodesic method must be one of {METHODS} (got {method!r})")
        if not t_coef > 0:
            raise ConfigError(f"t_coef must be positive (got {t_coef!r})")
        if shape.is_mesh and shape.n_faces == 0:
            raise InvalidMeshError(f"{where(shape.source)}the mesh has no faces; load it as a point cloud (faces=None)")
        if method == "exact" and not shape.is_mesh:
            raise ConfigError(
                f"{where(shape.source)}exact geodesics need a triangle mesh; use method='heat' for point clouds"
            )
        check_cloud_size(shape)
        self.shape = shape
        self.method = method
        self.label_ = vertex_components(shape, knn)
        self.keep_, self._surface = surface_part(shape)
        self._local = local_index(self.keep_, shape.n_verts)
        if method == "exact":
            _check_exact_mesh(shape)
        try:
            self.solver_ = self._make_solver(t_coef)
        except (RuntimeError, ValueError) as e:
            raise SolverError(
                f"{where(shape.source)}setting up the {method} geodesic solver failed ({e}); "
                "load the mesh with clean=True to repair it"
            ) from e

    def _make_solver(self, t_coef: float):
        s = self._surface
        if self.method == "exact":
            import pygeodesic.geodesic as pg

            return pg.PyGeodesicAlgorithmExact(s.verts, s.faces.astype(np.int32))
        import potpourri3d as pp3d

        if s.is_mesh:
            return pp3d.MeshHeatMethodDistanceSolver(s.verts, s.faces, t_coef=t_coef, use_robust=True)
        return pp3d.PointCloudHeatSolver(s.verts, t_coef=t_coef)

    def _sources(self, sources: int | Iterable[int]) -> np.ndarray:
        src = np.atleast_1d(np.asarray(sources))
        if src.size == 0:
            raise ConfigError("sources is empty: give at least one vertex index")
        if src.dtype.kind not in "iu" or src.ndim != 1:
            raise ConfigError(f"sources must be vertex indices, an int or a 1-D sequence of ints (got {sources!r})")
        V = self.shape.n_verts
        if src.min() < 0 or src.max() >= V:
            bad = int(src[(src < 0) | (src >= V)][0])
            raise ConfigError(f"{where(self.shape.source)}source vertex {bad} is out of range: the shape has {V} vertices")
        return src.astype(np.int64)

    def _solve_surface(self, src: np.ndarray) -> np.ndarray:
        """Distances on the solver's mesh (the vertices faces use) from its vertices ``src``."""
        if self.method == "exact":
            d, _ = self.solver_.geodesicDistances(src.astype(np.int32))
            return np.asarray(d, dtype=np.float64)
        if len(src) == 1:
            return np.asarray(self.solver_.compute_distance(int(src[0])), dtype=np.float64)
        return np.asarray(self.solver_.compute_distance_multisource([int(i) for i in src]), dtype=np.float64)

    def _solve(self, src: np.ndarray) -> np.ndarray:
        d = np.full(self.shape.n_verts, np.inf)
        on_surface = self._local[src]
        on_surface = on_surface[on_surface >= 0]
        if len(on_surface):
            d[self.keep_] = self._solve_surface(on_surface)
        d[src] = 0.0  # an isolated source reaches only itself
        reach = np.isin(self.label_, self.label_[src])
        d = np.where(reach, d, np.inf)
        if not np.all(np.isfinite(d[reach])):
            raise SolverError(
                f"{where(self.shape.source)}the {self.method} geodesic solve returned NaN; "
                "load the mesh with clean=True (degenerate faces?) or try the other method"
            )
        # the heat method can give tiny negative values near the sources
        return np.maximum(d, 0.0)

    def distance(self, sources: int | Sequence[int]) -> np.ndarray:
        """Distance from every vertex to the nearest of ``sources``.

        Parameters
        ----------
        sources : int or sequence of S ints
            Source vertex indices.

        Returns
        -------
        (V,) float64
            Geodesic distance; 0 at the sources, ``inf`` where no source is reachable.
        """
        return self._solve(self._sources(sources))

    def distances(self, sources: Sequence[int]) -> np.ndarray:
        """(S, V) float64: row ``s`` holds the distances from ``sources[s]`` alone."""
        src = self._sources(sources)
        return np.stack([self._solve(src[i : i + 1]) for i in range(len(src))])


def geodesic_distance(shape: Shape, sources: int | Sequence[int], method: str = "heat", **kwargs) -> np.ndarray:
    """Geodesic distance from every vertex to the nearest of ``sources`` (one-off).

    For many queries on one shape, make a :class:`GeodesicSolver` once instead.

    Parameters
    ----------
    shape : Shape
        A mesh or point cloud.
    sources : int or sequence of ints
        Source vertex indices.
    method : {"heat", "exact"}
        default: "heat"
    **kwargs
        Passed to :class:`GeodesicSolver` (``t_coef``, ``knn``).

    Returns
    -------
    (V,) float64
        0 at the sources, ``inf`` on components without a source.
    """
    return GeodesicSolver(shape, method, **kwargs).distance(sources)


def pairwise_geodesics(
    shape: Shape,
    method: str = "heat",
    *,
    max_verts: int = PAIRWISE_MAX_VERTS,
    progress: bool = False,
    **kwargs,
) -> np.ndarray:
    """All-pairs geodesic distances, for small shapes (e.g. correspondence metrics).

    Memory: the result is V^2 x 4 bytes (float32): 4 MB at 1k vertices, 400 MB at 10k, 1.6 GB at
    20k; shapes above ``max_verts`` are refused. Time: one solve per vertex (heat: about 5 ms
    each on a 10k-vertex mesh, so about a minute; point clouds are slower).

    Parameters
    ----------
    shape : Shape
        A mesh or a point cloud.
    method : {"heat", "exact"}
        default: "heat"
    max_verts : int
        Refuse larger shapes (ConfigError). default: 12000
    progress : bool
        Show a progress bar. default: False
    **kwargs
        Passed to :class:`GeodesicSolver`.

    Returns
    -------
    (V, V) float32
        Symmetric (the heat method's two directions are averaged), zero diagonal, ``inf``
        between components.
    """
    check_shape(shape)
    V = shape.n_verts
    if V > max_verts:
        raise ConfigError(
            f"{where(shape.source)}pairwise geodesics of {V} vertices need {V * V * 4 / 1e9:.1f} GB "
            f"(V^2 x 4 bytes), above the limit of {max_verts} vertices; simplify the mesh, or raise max_verts "
            "if the memory is there"
        )
    solver = GeodesicSolver(shape, method, **kwargs)
    out = np.empty((V, V), dtype=np.float32)
    from tqdm.auto import tqdm

    for i in tqdm(range(V), desc="pairwise geodesics", disable=not progress, leave=False):
        out[i] = solver.distance(i)
    # average the two directions in place, block by block (no second V x V array)
    block = 1024
    for a in range(0, V, block):
        for b in range(a, V, block):
            x = out[a : a + block, b : b + block]
            y = out[b : b + block, a : a + block].T
            m = 0.5 * (x + y)
            out[a : a + block, b : b + block] = m
            out[b : b + block, a : a + block] = m.T
    np.fill_diagonal(out, 0.0)
    return out
