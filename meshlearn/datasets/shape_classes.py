"""Procedural shape classes for classification: implicit surfaces, each shape remeshed on its own.

Ten classes of closed surfaces, told apart by their form and topology rather than their size or
their sampling:

==================  ==========================================================================
class               surface
==================  ==========================================================================
``torus``           a torus (genus 1), random tube-to-ring ratio
``double_torus``    two rings fused side by side (genus 2)
``capsule``         a cylinder with round ends, random aspect
``rounded_box``     a superquadric box, random proportions and roundness
``helix``           a tube wound along a helix, random turns and pitch
``star``            a blob with 4 to 6 round arms in random directions
``table``           a slab on four legs
``chair``           a seat on four legs with a back
``dumbbell``        two balls joined by a bar
``jack``            three orthogonal capsules crossing at the centre
==================  ==========================================================================

Each shape draws its proportions at random, then a small smooth non-rigid deformation (a random
displacement field of a few percent of its size), then is meshed by marching cubes on a grid of
its own random rotation, offset and spacing, with a random target vertex count (so vertex counts
and connectivity differ from shape to shape, and do not tell the class), and finally moved by a
random rigid motion and scaled by a random factor.

Letters: V vertices, F faces, N grid points.

On disk (:func:`write_class_dataset`), the SHREC'11-style class-folder layout that
:func:`meshlearn.datasets.read_dataset` reads (``classes``)::

    DIR/train/<class>/<class>_<i>.ply
    DIR/test/<class>/<class>_<i>.ply
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError
from ..geometry.rotations import random_rotation
from ..io import save
from ..shape import Shape

__all__ = ["SHAPE_CLASSES", "ClassShape", "generate_class_shape", "write_class_dataset"]

log = logging.getLogger(__name__)

SHAPE_CLASSES = (
    "torus", "double_torus", "capsule", "rounded_box", "helix", "star", "table", "chair", "dumbbell", "jack",
)


# ---------------------------------------------------------------------------------- primitives
# Signed distances (negative inside) of points p : (N, 3), or bounds of them.
def _sphere(p: np.ndarray, c, r: float) -> np.ndarray:
    return np.linalg.norm(p - np.asarray(c), axis=1) - r


def _segment(p: np.ndarray, a, b, r: float) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ab = b - a
    t = np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - a - t[:, None] * ab, axis=1) - r


def _box(p: np.ndarray, c, half, round_r: float = 0.0) -> np.ndarray:
    q = np.abs(p - np.asarray(c)) - (np.asarray(half) - round_r)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    return outside + np.minimum(q.max(1), 0.0) - round_r


def _torus(p: np.ndarray, c, R: float, r: float) -> np.ndarray:
    """A torus about the z axis through ``c``."""
    q = p - np.asarray(c)
    ring = np.sqrt(q[:, 0] ** 2 + q[:, 1] ** 2) - R
    return np.sqrt(ring**2 + q[:, 2] ** 2) - r


def _smooth_union(ds: list[np.ndarray], k: float) -> np.ndarray:
    """Smooth minimum (log-sum-exp with width ``k``): unions without creases."""
    d = np.stack(ds, 0)
    m = d.min(0)
    return m - k * np.log(np.exp(-(d - m) / k).sum(0))


# ---------------------------------------------------------------------------------- classes
@dataclass
class _Implicit:
    """A surface f(p) = 0 (f < 0 inside) within the ball of radius ``radius`` about the origin."""

    f: Callable[[np.ndarray], np.ndarray]
    radius: float


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _torus_class(rng):
    R, r = 1.0, _u(rng, 0.3, 0.45)
    return _Implicit(lambda p: _torus(p, (0, 0, 0), R, r), R + r)


def _double_torus(rng):
    R, r = 0.6, _u(rng, 0.2, 0.26)
    c = R + _u(rng, 0.2, 0.5) * r  # the tubes fuse in one neck; the rings' centre lines do not cross
    return _Implicit(lambda p: _smooth_union([_torus(p, (-c, 0, 0), R, r), _torus(p, (c, 0, 0), R, r)], 0.06),
                     c + R + r)


def _capsule(rng):
    half, r = _u(rng, 0.5, 0.9), _u(rng, 0.3, 0.45)
    return _Implicit(lambda p: _segment(p, (0, 0, -half), (0, 0, half), r), half + r)


def _rounded_box(rng):
    half = np.array([_u(rng, 0.5, 1.0), _u(rng, 0.5, 1.0), _u(rng, 0.5, 1.0)])
    rr = _u(rng, 0.08, 0.25) * half.min()
    return _Implicit(lambda p: _box(p, (0, 0, 0), half, rr), float(np.linalg.norm(half)))


def _helix(rng):
    turns, R, r = _u(rng, 1.6, 2.4), _u(rng, 0.55, 0.7), _u(rng, 0.16, 0.2)
    pitch = _u(rng, 0.85, 1.0)
    from scipy.spatial import cKDTree

    # the distance to the curve from its samples every 0.005 (off by under 2e-5 at the tube's radius)
    t = np.linspace(0.0, 2 * np.pi * turns, int(2 * np.pi * turns * R / 0.005))
    pts = np.stack([R * np.cos(t), R * np.sin(t), pitch * t / (2 * np.pi)], 1)
    pts[:, 2] -= pts[:, 2].mean()
    tree = cKDTree(pts)

    def f(p):
        return tree.query(p)[0] - r

    return _Implicit(f, float(np.linalg.norm(pts, axis=1).max()) + r)


def _star(rng):
    n = int(rng.integers(4, 7))
    dirs = random_rotation(rng) @ _spread_directions(n, rng).T
    arm, r = _u(rng, 0.8, 1.0), _u(rng, 0.2, 0.28)
    core = _u(rng, 0.35, 0.45)
    return _Implicit(lambda p: _smooth_union([_sphere(p, (0, 0, 0), core)]
                                             + [_segment(p, (0, 0, 0), arm * d, r) for d in dirs.T], 0.08), arm + r)


def _spread_directions(n: int, rng) -> np.ndarray:
    """(n, 3) unit vectors roughly evenly spread (a jittered Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    d = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)
    d += rng.normal(scale=0.15, size=d.shape)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _legs(w: float, d: float, y_top: float, y_bottom: float, r: float):
    return [((sx * w, y_bottom, sz * d), (sx * w, y_top, sz * d), r) for sx in (-1, 1) for sz in (-1, 1)]


def _table(rng):
    w, d, t = _u(rng, 0.8, 1.0), _u(rng, 0.5, 0.8), _u(rng, 0.1, 0.14)
    h, r = _u(rng, 0.7, 1.0), _u(rng, 0.08, 0.11)
    top_y = h / 2
    legs = _legs(w - 1.5 * r, d - 1.5 * r, top_y, -h / 2, r)

    def f(p):
        return _smooth_union([_box(p, (0, top_y, 0), (w, t, d), 0.04)] + [_segment(p, *leg) for leg in legs], 0.03)

    return _Implicit(f, float(np.linalg.norm([w, top_y + t, d])) + 0.05)


def _chair(rng):
    w, t = _u(rng, 0.45, 0.55), _u(rng, 0.08, 0.11)
    d = w * _u(rng, 0.9, 1.1)
    h, back, r = _u(rng, 0.45, 0.6), _u(rng, 0.6, 0.85), _u(rng, 0.06, 0.08)
    legs = _legs(w - 1.5 * r, d - 1.5 * r, 0.0, -h, r)

    def f(p):
        parts = [_box(p, (0, 0, 0), (w, t, d), 0.03), _box(p, (0, back, -d + t), (w, back, t), 0.03)]
        return _smooth_union(parts + [_segment(p, *leg) for leg in legs], 0.03)

    return _Implicit(f, float(np.linalg.norm([w, max(2 * back, h), d])) + 0.05)


def _dumbbell(rng):
    half, ball, bar = _u(rng, 0.7, 0.9), _u(rng, 0.35, 0.45), _u(rng, 0.12, 0.16)
    return _Implicit(lambda p: _smooth_union([_sphere(p, (0, 0, -half), ball), _sphere(p, (0, 0, half), ball),
                                              _segment(p, (0, 0, -half), (0, 0, half), bar)], 0.05), half + ball)


def _jack(rng):
    arms = [_u(rng, 0.7, 1.0) for _ in range(3)]
    r = _u(rng, 0.18, 0.24)
    axes = np.eye(3)
    return _Implicit(lambda p: _smooth_union([_segment(p, -a * e, a * e, r) for a, e in zip(arms, axes)], 0.06),
                     max(arms) + r)


_MAKERS = {
    "torus": _torus_class, "double_torus": _double_torus, "capsule": _capsule, "rounded_box": _rounded_box,
    "helix": _helix, "star": _star, "table": _table, "chair": _chair, "dumbbell": _dumbbell, "jack": _jack,
}


# ---------------------------------------------------------------------------------- meshing
def _deformation(rng: np.random.Generator, amplitude: float) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth random displacement field p -> p + sum of a few sine waves (pulls the query
    points back, so the surface moves by about ``amplitude``)."""
    k = rng.normal(size=(4, 3)) * 1.5
    a = rng.normal(size=(4, 3)) * amplitude / 2
    ph = rng.uniform(0, 2 * np.pi, 4)

    def warp(p):
        return p + np.sin(p @ k.T + ph) @ a

    return warp


def _marching_cubes(f, radius: float, rot: np.ndarray, h: float, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of f on a grid of spacing ``h`` rotated by ``rot`` (grid -> world), covering
    the ball of ``radius``; the largest component, faces oriented outward."""
    from skimage.measure import marching_cubes

    lo = -radius - 2 * h - offset
    n = int(np.ceil((2 * radius + 4 * h) / h)) + 1
    vol = _sample(f, lo, n, h, rot)
    if not (vol.min() < 0 < vol.max()):
        raise ConfigError("a procedural shape fell outside its grid; this is a bug in its bounds")
    v, faces, _, _ = marching_cubes(vol, level=0.0, spacing=(h, h, h), allow_degenerate=False)
    verts = (v + lo) @ rot.T
    verts, faces = _largest_component(verts, faces.astype(np.int64))
    tri = verts[faces]
    if np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() < 0:
        faces = faces[:, ::-1].copy()
    return verts, faces


def _sample(f, lo: float, n: int, h: float, rot: np.ndarray) -> np.ndarray:
    """f on the (n, n, n) grid ``lo + h * index`` (grid frame; ``rot`` maps it to the world):
    exact within a band about the surface, elsewhere the sign of a coarse grid (f is about
    1-Lipschitz, so no surface crosses the cells skipped)."""
    step = 3
    nc = (n - 1) // step + 2
    ci = np.stack(np.meshgrid(*(np.arange(nc),) * 3, indexing="ij"), -1).reshape(-1, 3)
    coarse = f((lo + ci * step * h) @ rot.T).reshape(nc, nc, nc)
    near_index = np.minimum(np.rint(np.arange(n) / step).astype(int), nc - 1)
    band = 2.5 * step * h
    fine_c = coarse[np.ix_(near_index, near_index, near_index)]
    vol = np.where(fine_c > 0, band, -band)
    near = np.abs(fine_c) < band
    idx = np.argwhere(near)
    vol[near] = f((lo + idx * h) @ rot.T)
    return vol


def _largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    V = verts.shape[0]
    rows, cols = faces.ravel(), np.roll(faces, 1, axis=1).ravel()
    _, comp = connected_components(sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(V, V)), directed=False)
    keep = comp[faces[:, 0]] == np.bincount(comp[faces[:, 0]]).argmax()
    used = np.unique(faces[keep])
    remap = np.full(V, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return verts[used], remap[faces[keep]]


@dataclass
class ClassShape:
    """One generated shape: the mesh and its class (index into ``SHAPE_CLASSES``)."""

    shape: Shape
    label: int
    class_name: str


def generate_class_shape(
    class_name: str, seed: int | np.random.SeedSequence, *, n_vertices: int = 1500, name: str | None = None
) -> ClassShape:
    """One random shape of ``class_name`` (see the module docstring).

    Parameters
    ----------
    class_name : str
        One of ``SHAPE_CLASSES``.
    seed : int or SeedSequence
        Same seed, same mesh.
    n_vertices : int
        Mean vertex count; each shape draws its own target within +-30%. default: 1500
    name : str, optional
        The shape's name. default: ``<class_name>``

    Returns
    -------
    ClassShape
    """
    if class_name not in _MAKERS:
        raise ConfigError(f"unknown shape class {class_name!r}; expected one of {', '.join(SHAPE_CLASSES)}")
    if n_vertices < 100:
        raise ConfigError(f"n_vertices must be at least 100 for a recognisable shape (got {n_vertices})")
    rng = np.random.default_rng(seed)
    imp = _MAKERS[class_name](rng)
    warp = _deformation(rng, 0.04 * imp.radius)
    radius = imp.radius * 1.1

    def f(p):
        return imp.f(warp(p))

    rot = random_rotation(rng)
    target = n_vertices * _u(rng, 0.7, 1.3)
    offset = rng.uniform(0, 1, 3)
    # Calibrate the spacing on a coarse grid: marching-cubes vertices scale as area / h^2.
    h0 = radius / 12
    v0, _ = _marching_cubes(f, radius, rot, h0, offset * h0)
    h = h0 * float(np.sqrt(v0.shape[0] / target))
    verts, faces = _marching_cubes(f, radius, rot, h, offset * h)
    motion = random_rotation(rng)
    scale = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    verts = scale * verts @ motion.T + rng.uniform(-1.0, 1.0, 3)
    label = SHAPE_CLASSES.index(class_name)
    shape = Shape(verts, faces, source=f"synthetic {class_name}", name=name or class_name)
    return ClassShape(shape, label, class_name)


def _worker(args: tuple) -> ClassShape:
    class_name, seq, n_vertices, name = args
    return generate_class_shape(class_name, seq, n_vertices=n_vertices, name=name)


def write_class_dataset(
    out: str | os.PathLike,
    n: int = 160,
    seed: int = 0,
    *,
    n_classes: int = len(SHAPE_CLASSES),
    n_vertices: int = 1500,
    test_fraction: float = 0.25,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Write ``n`` labelled shapes (``n // n_classes`` per class, the remainder to the first
    classes) to ``out/train/<class>/`` and ``out/test/<class>/``.

    Each class puts ``round(test_fraction * its count)`` shapes (at least one) in ``test/``.
    Same arguments, same bytes.

    Parameters
    ----------
    out : path
    n : int
        Shapes in all. default: 160
    seed : int
        default: 0
    n_classes : int
        The first ``n_classes`` of ``SHAPE_CLASSES`` (2 to 10). default: 10
    n_vertices : int
        Mean vertices per shape (each within +-30%). default: 1500
    test_fraction : float
        default: 0.25
    workers : int
        Processes generating shapes. default: 1
    progress : bool
        default: True

    Returns
    -------
    Path
        ``out``.
    """
    from tqdm.auto import tqdm

    if not 2 <= n_classes <= len(SHAPE_CLASSES):
        raise ConfigError(f"n_classes must lie in 2..{len(SHAPE_CLASSES)} (got {n_classes})")
    if n < 2 * n_classes:
        raise ConfigError(f"n must be at least {2 * n_classes} (a train and a test shape per class; got {n})")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must lie strictly between 0 and 1 (got {test_fraction})")
    out = Path(out)
    classes = SHAPE_CLASSES[:n_classes]
    counts = [n // n_classes + (1 if c < n % n_classes else 0) for c in range(n_classes)]
    seqs = np.random.SeedSequence(seed).spawn(sum(counts))
    jobs, i = [], 0
    for c, count in zip(classes, counts):
        for j in range(count):
            jobs.append((c, seqs[i], n_vertices, f"{c}_{j:03d}"))
            i += 1
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            shapes = list(tqdm(pool.map(_worker, jobs), total=len(jobs), desc="shapes", disable=not progress))
    else:
        shapes = [_worker(j) for j in tqdm(jobs, desc="shapes", disable=not progress)]
    n_test = {c: min(max(1, int(round(test_fraction * k))), k - 1) for c, k in zip(classes, counts)}
    seen: dict[str, int] = {}
    for item in shapes:
        k = seen.get(item.class_name, 0)
        seen[item.class_name] = k + 1
        split = "test" if k >= counts[item.label] - n_test[item.class_name] else "train"
        folder = out / split / item.class_name
        folder.mkdir(parents=True, exist_ok=True)
        save(item.shape, folder / f"{item.shape.name}.ply")
    log.info("wrote %d shapes of %d classes to %s", len(shapes), n_classes, out)
    return out
