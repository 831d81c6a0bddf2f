"""Procedural articulated bodies with part labels and ground-truth correspondence.

Each shape is the procedural :class:`~meshlearn.datasets.body.Body` remeshed on its own: marching
cubes of the rest-pose implicit surface on a grid with a random rotation, offset and spacing, so
vertex counts and connectivity differ from shape to shape and from the template. Each new vertex
is located on the template mesh (closest point: face and barycentric coordinates) and labelled by
its nearest body part; then the shape is posed by linear blend skinning with random joint angles
and proportions, noised along the normals and moved. Shapes stand upright (+y) facing +z up to
their torso's random bend and twist (about 23 degrees); ``turn=True`` also turns each one by a
random angle about the vertical, which leaves left and right to be told apart from the body's
own front/back cues (feet, knees, elbows) alone.

Letters: V vertices of a shape, F its faces, T template vertices, J parts.

On disk (see :func:`write_dataset`), in the layout :func:`meshlearn.datasets.read_dataset` reads::

    DIR/template.ply, DIR/template_labels.txt        the rest-pose template and its part labels
    DIR/parts.txt                                    part names, one a line (label i on line i)
    DIR/{train,test}/meshes/<name>.ply               posed shape (vertices only with --points)
    DIR/{train,test}/labels/<name>.txt               one part label per vertex
    DIR/{train,test}/corres/<name>.vts               line i: 1-based vertex of this shape nearest
                                                     to template vertex i (FAUST_r convention)
    DIR/{train,test}/corres/<name>.sym.vts           line i: the same for the mirror image of
                                                     template vertex i (left <-> right)
    DIR/{train,test}/corres/<name>.bary.txt          per vertex: template vertex (0-based, the
                                                     nearest corner), template face (0-based),
                                                     three barycentric weights
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ..errors import ConfigError
from ..geometry.rotations import random_rotation
from ..io import save
from ..shape import Shape
from .body import PART_NAMES, Body, random_pose

__all__ = [
    "SyntheticShape",
    "Template",
    "body_marching_cubes",
    "make_template",
    "generate_shape",
    "generate_shapes",
    "write_dataset",
]

log = logging.getLogger(__name__)


@dataclass
class Template:
    """The rest-pose template mesh that correspondences refer to.

    verts : (T, 3) float64, faces : (F_t, 3) int64, labels : (T,) int64 part labels.
    density : float
        Marching-cubes vertices per unit area at unit spacing (``V * h**2``), to size new grids.
    """

    verts: np.ndarray
    faces: np.ndarray
    labels: np.ndarray
    density: float

    @property
    def n_verts(self) -> int:
        return int(self.verts.shape[0])


@dataclass
class SyntheticShape:
    """One generated shape and its ground truth.

    shape : Shape
        The posed mesh (``faces`` None for the point-cloud variant).
    labels : (V,) int64
        Part label of each vertex (index into ``PART_NAMES``).
    template_vertex : (V,) int64
        The template vertex corresponding to each vertex (nearest corner of ``template_face``).
    template_face : (V,) int64
        Template face holding each vertex's rest position.
    template_bary : (V, 3) float64
        Barycentric weights of that position in ``template_face`` (rows sum to 1).
    vts : (T,) int64
        For each template vertex, the 0-based vertex of this shape nearest to it at rest.
    rest_verts : (V, 3) float64
        The vertices before posing (on the rest-pose surface).
    mirror : (V,) int64 or None
        Ground-truth left-right map: for each vertex, the vertex of this shape nearest to its
        mirror image (x -> -x) at rest, where the body is exactly symmetric. Posing (left and right
        limbs posed and proportioned independently), the normal noise and the remeshing make the
        posed shape only approximately symmetric, like a real scan.
    """

    shape: Shape
    labels: np.ndarray
    template_vertex: np.ndarray
    template_face: np.ndarray
    template_bary: np.ndarray
    vts: np.ndarray
    rest_verts: np.ndarray
    mirror: np.ndarray | None = None


# ---------------------------------------------------------------------------------- remeshing
def _sample_grid(body: Body, rot: np.ndarray, spacing: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SDF on a rotated grid, exact near the surface and clamped far from it (narrow band).

    Returns the (nx, ny, nz) volume and the world position of grid index (0, 0, 0).
    """
    lo, hi = body.bounds()
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    local = corners @ rot  # grid-frame coordinates (rot maps grid -> world)
    glo = local.min(0) - spacing - offset
    n = np.ceil((local.max(0) + spacing - glo) / spacing).astype(int) + 1
    step = 4
    nc = (n - 1) // step + 2
    ci = np.stack(np.meshgrid(*(np.arange(m) for m in nc), indexing="ij"), -1).reshape(-1, 3)
    coarse = body.sdf((glo + ci * step * spacing) @ rot.T).reshape(tuple(nc))
    # Fine points whose nearest coarse node is within 6 spacings of the surface are evaluated;
    # the SDF is less than 1.3-Lipschitz, so the others keep the coarse sign without a crossing.
    fi = [np.minimum(np.rint(np.arange(m) / step).astype(int), c - 1) for m, c in zip(n, nc)]
    near_c = np.abs(coarse) < 6.0 * spacing.max()
    near = near_c[np.ix_(*fi)]
    vol = np.where(coarse[np.ix_(*fi)] > 0, 6.0 * spacing.max(), -6.0 * spacing.max())
    idx = np.argwhere(near)
    vol[near] = body.sdf((glo + idx * spacing) @ rot.T)
    return vol, glo


def body_marching_cubes(body: Body, rot: np.ndarray, spacing: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rest-pose surface of ``body`` meshed by marching cubes on a rotated grid.

    Parameters
    ----------
    rot : (3, 3) float64
        Grid axes in world coordinates (maps grid coordinates to world).
    spacing : (3,) float64
        Grid spacing along each grid axis (m).
    offset : (3,) float64
        Shift of the grid in its own frame (m).

    Returns
    -------
    verts : (V, 3) float64, faces : (F, 3) int64
        The largest connected piece, faces oriented outward.
    """
    from skimage.measure import marching_cubes

    vol, glo = _sample_grid(body, rot, spacing, offset)
    v, f, _, _ = marching_cubes(vol, level=0.0, spacing=tuple(spacing), allow_degenerate=False)
    verts = (glo + v) @ rot.T
    faces = f.astype(np.int64)
    verts, faces = _largest_component(verts, faces)
    if _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1].copy()
    return verts, faces


def _signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.sparse.csgraph import connected_components

    V = verts.shape[0]
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(V, V))
    _, comp = connected_components(graph, directed=False)
    keep_c = np.bincount(comp[faces[:, 0]]).argmax()
    fkeep = faces[comp[faces[:, 0]] == keep_c]
    used = np.unique(fkeep)
    remap = np.full(V, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return verts[used], remap[fkeep]


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # area-weighted
    n = np.zeros_like(verts)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


# ---------------------------------------------------------------------------------- template
def make_template(n_vertices: int = 5000) -> Template:
    """The rest-pose template: marching cubes on an axis-aligned grid sized for ``n_vertices``.

    Parameters
    ----------
    n_vertices : int
        Approximate number of template vertices (within a few percent). default: 5000
    """
    if n_vertices < 300:
        raise ConfigError(f"n_vertices must be at least 300 for a recognisable body (got {n_vertices})")
    body = Body()
    h0 = 0.04
    v0, _ = body_marching_cubes(body, np.eye(3), np.full(3, h0), np.zeros(3))
    density = v0.shape[0] * h0**2
    h = float(np.sqrt(density / n_vertices))
    verts, faces = body_marching_cubes(body, np.eye(3), np.full(3, h), np.zeros(3))
    # Shapes are remeshed on rotated grids, which cut the surface into more pieces than an
    # axis-aligned one: calibrate the density on a fixed oblique grid.
    oblique = random_rotation(np.random.default_rng(12345))
    v1, _ = body_marching_cubes(body, oblique, np.full(3, h), np.full(3, 0.5 * h))
    density = v1.shape[0] * h**2
    return Template(verts, faces, body.labels(verts), density)


class _Locator:
    """Closest point on the template surface: face and barycentric weights (KD-tree candidates)."""

    def __init__(self, template: Template, k: int = 3) -> None:
        self.t = template
        self.tree = cKDTree(template.verts)
        self.k = k
        T, F = template.n_verts, template.faces.shape[0]
        inc = sp.csr_matrix(
            (np.ones(3 * F), (template.faces.ravel(), np.repeat(np.arange(F), 3))), shape=(T, F)
        )
        deg = np.diff(inc.indptr)
        self.max_deg = int(deg.max())
        pad = np.full((T, self.max_deg), -1, dtype=np.int64)
        for i in range(self.max_deg):
            has = deg > i
            pad[has, i] = inc.indices[inc.indptr[:-1][has] + i]
        self.vert_faces = pad

    def locate(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Face (N,), barycentric weights (N, 3) and distance (N,) of each point's closest point."""
        from trimesh.triangles import closest_point, points_to_barycentric

        _, nn = self.tree.query(pts, k=self.k)
        cand = self.vert_faces[nn].reshape(len(pts), -1)  # (N, k * max_deg), -1 padded
        valid = cand >= 0
        rows, cols = np.nonzero(valid)
        faces = cand[rows, cols]
        tris = self.t.verts[self.t.faces[faces]]
        cp = closest_point(tris, pts[rows])
        dist = np.full(cand.shape, np.inf)
        dist[rows, cols] = np.linalg.norm(cp - pts[rows], axis=1)
        best = dist.argmin(1)
        face = cand[np.arange(len(pts)), best]
        point = np.zeros_like(pts)
        sel = best[rows] == cols
        point[rows[sel]] = cp[sel]
        bary = points_to_barycentric(self.t.verts[self.t.faces[face]], point)
        bary = np.clip(bary, 0.0, 1.0)
        bary /= bary.sum(1, keepdims=True)
        return face.astype(np.int64), bary, dist[np.arange(len(pts)), best]


# ---------------------------------------------------------------------------------- shapes
def generate_shape(
    template: Template,
    seed: int | np.random.SeedSequence,
    *,
    n_vertices: int | None = None,
    points: bool = False,
    noise: float = 0.1,
    pose_amount: float = 1.0,
    turn: bool = False,
    name: str = "shape",
    _locator: _Locator | None = None,
) -> SyntheticShape:
    """One independently remeshed, posed body with labels and correspondence.

    Parameters
    ----------
    template : Template
        From :func:`make_template`.
    seed : int or SeedSequence
        Everything random about this shape comes from it.
    n_vertices : int, optional
        Target vertex count; the actual count is drawn within +-15 % of it. default: the
        template's vertex count
    points : bool
        Return a point cloud (the vertices without faces). default: False
    noise : float
        Standard deviation of the displacement along the normals, in mean edge lengths. default: 0.1
    pose_amount : float
        Scales every joint angle range (0 gives the rest pose with new proportions). default: 1.0
    turn : bool
        Turn the shape by a uniformly random angle about the vertical axis. default: False
    name : str
        The shape's name.
    """
    body = Body()
    rng = np.random.default_rng(seed)
    target = (n_vertices or template.n_verts) * rng.uniform(0.85, 1.15)
    h = np.sqrt(template.density / target) * rng.uniform(0.9, 1.1, 3)
    rot = random_rotation(rng)
    rest, faces = body_marching_cubes(body, rot, h, rng.uniform(0, 1, 3) * h)
    locator = _locator or _Locator(template)
    face, bary, _ = locator.locate(rest)
    corner = template.faces[face, bary.argmax(1)]
    labels = body.labels(rest)
    pose = random_pose(body, rng, pose_amount)
    posed = body.pose_points(rest, body.skinning_weights(rest), pose)
    edge = np.linalg.norm(posed[faces[:, 0]] - posed[faces[:, 1]], axis=1).mean()
    posed = posed + _vertex_normals(posed, faces) * rng.normal(0.0, noise * edge, (len(posed), 1))
    yaw = rng.uniform(0, 2 * np.pi)  # drawn either way, so `turn` changes nothing else
    if turn:
        c, s = np.cos(yaw), np.sin(yaw)
        posed = posed @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
    posed = posed + rng.normal(0.0, 0.2, 3)
    rest_tree = cKDTree(rest)
    _, vts = rest_tree.query(template.verts)
    _, mirror = rest_tree.query(rest * np.array([-1.0, 1.0, 1.0]))
    shape = Shape(posed, None if points else faces, source=f"synthetic body {name}", name=name)
    return SyntheticShape(
        shape=shape,
        labels=labels,
        template_vertex=corner.astype(np.int64),
        template_face=face,
        template_bary=bary,
        vts=vts.astype(np.int64),
        rest_verts=rest,
        mirror=mirror.astype(np.int64),
    )


def _worker(args: tuple) -> SyntheticShape:
    template, seed, kwargs = args
    return generate_shape(template, seed, **kwargs)


def generate_shapes(
    n: int,
    seed: int = 0,
    *,
    template: Template | None = None,
    n_vertices: int = 5000,
    points: bool = False,
    workers: int = 1,
    progress: bool = False,
    **kwargs,
):
    """Yield ``n`` shapes named ``body_000`` ... in order; shape i depends only on (seed, i).

    ``workers`` > 1 generates in that many processes (same shapes, same order).
    """
    from tqdm.auto import tqdm

    template = template or make_template(n_vertices)
    seeds = np.random.SeedSequence(seed).spawn(n)
    jobs = [
        (template, s, dict(n_vertices=n_vertices, points=points, name=f"body_{i:03d}", **kwargs))
        for i, s in enumerate(seeds)
    ]
    bar = tqdm(total=n, desc="synthetic shapes", unit="shape", disable=not progress)
    try:
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for item in pool.map(_worker, jobs, chunksize=2):
                    bar.update()
                    yield item
        else:
            locator = _Locator(template)
            for t, s, kw in jobs:
                item = generate_shape(t, s, _locator=locator, **kw)
                bar.update()
                yield item
    finally:
        bar.close()


# ---------------------------------------------------------------------------------- writing
def _write_text(path: Path, text: str) -> None:
    from ..cache import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


def write_dataset(
    out: str | os.PathLike,
    n: int = 100,
    seed: int = 0,
    *,
    n_vertices: int = 5000,
    points: bool = False,
    test_fraction: float = 0.2,
    workers: int = 1,
    progress: bool = True,
    **kwargs,
) -> Path:
    """Generate ``n`` shapes and write them to ``out`` (layout in the module docstring).

    The first ``n - round(test_fraction * n)`` shapes go to ``train/``, the rest to ``test/``.
    Same arguments, same bytes.

    Returns
    -------
    Path
        ``out``.
    """
    if n < 2:
        raise ConfigError(f"n must be at least 2 (one train and one test shape; got {n})")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must lie strictly between 0 and 1 (got {test_fraction})")
    out = Path(out)
    n_test = min(max(1, int(round(test_fraction * n))), n - 1)
    template = make_template(n_vertices)
    for split in ("train", "test"):
        for sub in ("meshes", "labels", "corres"):
            (out / split / sub).mkdir(parents=True, exist_ok=True)
    save(Shape(template.verts, template.faces), out / "template.ply")
    # the body is left-right symmetric (x -> -x): each template point's mirror image, for .sym.vts
    mirror = cKDTree(template.verts).query(template.verts * np.array([-1.0, 1.0, 1.0]))[1]
    _write_text(out / "template_labels.txt", "".join(f"{v}\n" for v in template.labels))
    _write_text(out / "parts.txt", "".join(f"{p}\n" for p in PART_NAMES))
    shapes = generate_shapes(
        n, seed, template=template, n_vertices=n_vertices, points=points, workers=workers,
        progress=progress, **kwargs,
    )
    for i, item in enumerate(shapes):
        split = "train" if i < n - n_test else "test"
        d, name = out / split, item.shape.name
        save(Shape(item.shape.verts, item.shape.faces), d / "meshes" / f"{name}.ply")
        _write_text(d / "labels" / f"{name}.txt", "".join(f"{v}\n" for v in item.labels))
        _write_text(d / "corres" / f"{name}.vts", "".join(f"{v + 1}\n" for v in item.vts))
        _write_text(d / "corres" / f"{name}.sym.vts", "".join(f"{v + 1}\n" for v in item.vts[mirror]))
        rows = [
            f"{tv} {tf} {b[0]:.8f} {b[1]:.8f} {b[2]:.8f}\n"
            for tv, tf, b in zip(item.template_vertex, item.template_face, item.template_bary)
        ]
        _write_text(d / "corres" / f"{name}.bary.txt", "".join(rows))
    log.info("wrote %d shapes (%d test) to %s", n, n_test, out)
    return out
