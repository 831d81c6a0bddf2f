"""Small analytic shapes and helpers for tests, examples and benchmarks.

Letters: V vertices, F faces.
"""

from __future__ import annotations

import numpy as np

from .geometry.rotations import random_rotation
from .shape import Shape

__all__ = ["icosphere", "grid", "bumpy_sphere", "sphere_points", "random_rotation", "random_rigid_motion", "write_fmap_run", "folder_digest"]


def icosphere(subdivisions: int = 3, radius: float = 1.0) -> Shape:
    """Icosphere with ``10 * 4**subdivisions + 2`` vertices. verts (V, 3), faces (F, 3) outward."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return Shape(np.asarray(m.vertices), np.asarray(m.faces), source=f"icosphere({subdivisions})", name=f"icosphere{subdivisions}")


def grid(n: int = 20, size: float = 1.0, jitter: float = 0.0, seed: int = 0) -> Shape:
    """Flat ``n x n`` vertex grid in the z = 0 plane (normal +z); interior vertices optionally jittered
    by up to ``jitter`` grid spacings."""
    xs = np.linspace(0.0, size, n)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    verts = np.stack([X.ravel(), Y.ravel(), np.zeros(n * n)], 1)
    if jitter:
        rng = np.random.default_rng(seed)
        x, y = X.ravel(), Y.ravel()
        interior = (x > 0) & (x < size) & (y > 0) & (y < size)
        verts[interior, :2] += rng.uniform(-jitter, jitter, (int(interior.sum()), 2)) * size / (n - 1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return Shape(verts, faces, source=f"grid({n})", name=f"grid{n}")


def bumpy_sphere(subdivisions: int = 3, amplitude: float = 0.1, seed: int = 0) -> Shape:
    """Icosphere displaced radially by a smooth random function (a few low-order harmonics)."""
    base = icosphere(subdivisions)
    rng = np.random.default_rng(seed)
    v = base.verts
    dirs = rng.normal(size=(6, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    r = 1.0 + amplitude * np.sin(3.0 * v @ dirs.T + rng.uniform(0, 2 * np.pi, 6)).mean(1)
    return Shape(v * r[:, None], base.faces, source=f"bumpy_sphere({subdivisions})", name=f"bumpy{subdivisions}")


def sphere_points(n: int = 2000, radius: float = 1.0, seed: int = 0) -> Shape:
    """A point cloud of ``n`` points spread evenly (Fibonacci lattice, random rotation) on a sphere."""
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    pts = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)
    pts = pts @ random_rotation(seed).T
    return Shape(radius * pts, None, source=f"sphere_points({n})", name="sphere_points")


def random_rigid_motion(shape: Shape, seed: int = 0) -> Shape:
    """``shape`` rotated by a random rotation and translated by a random offset."""
    rng = np.random.default_rng(seed)
    R = random_rotation(rng)
    t = rng.normal(size=3)
    return shape.with_(verts=shape.verts @ R.T + t)


def mirror_symmetric_sphere(subdivisions: int = 3, amplitude: float = 0.15, seed: int = 0) -> tuple[Shape, np.ndarray]:
    """A bumpy sphere exactly symmetric under the reflection x -> -x, and that reflection.

    The icosphere's vertex set is closed under x -> -x; the radial bump depends on x only through
    x**2, so positions stay exactly mirrored. Returns ``(shape, T)`` with ``T`` (V,) int64 the
    reflection as a vertex permutation.
    """
    from scipy.spatial import cKDTree

    base = icosphere(subdivisions)
    v = base.verts
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(5, 3))
    phase = rng.uniform(0, 2 * np.pi, 5)
    feats = np.stack([v[:, 0] ** 2, v[:, 1], v[:, 2]], 1)
    r = 1.0 + amplitude * np.sin(2.0 * feats @ w.T + phase).mean(1)
    verts = v * r[:, None]
    _, T = cKDTree(v).query(v * np.array([-1.0, 1.0, 1.0]))
    return Shape(verts, base.faces, source=f"mirror_symmetric_sphere({subdivisions})", name="mirror_sphere"), T.astype(np.int64)


def mirror_symmetric_components(n: int = 3, subdivisions: int = 2) -> tuple[Shape, list[np.ndarray]]:
    """``n`` copies of :func:`mirror_symmetric_sphere` side by side, and ``n`` commuting reflections,
    each acting on one component: generators of a group of ``2**n`` symmetries."""
    s, T = mirror_symmetric_sphere(subdivisions)
    V = s.n_verts
    verts = np.concatenate([s.verts + [3.0 * i, 0.0, 0.0] for i in range(n)])
    faces = np.concatenate([s.faces + V * i for i in range(n)])
    gens = []
    for i in range(n):
        g = np.arange(n * V)
        g[i * V:(i + 1) * V] = T + i * V
        gens.append(g)
    return Shape(verts, faces, source=f"mirror_symmetric_components({n})", name="components"), gens


def mirror_symmetric_body(spacing: float = 0.03) -> tuple[Shape, np.ndarray]:
    """The synthetic body's rest pose (``meshlearn.datasets.body.Body``), meshed by marching cubes on
    a grid mirror-symmetric about x = 0, so that its vertex set is exactly symmetric under
    x -> -x. Returns ``(shape, T)`` with ``T`` (V,) int64 the reflection as a vertex permutation.
    (The triangulation itself need not be mirror-symmetric: marching cubes' case tables are not.)
    """
    from scipy.spatial import cKDTree
    from skimage.measure import marching_cubes

    from .datasets.body import Body

    body = Body()
    lo, hi = body.bounds()
    half = max(abs(lo[0]), abs(hi[0]))
    nx = int(np.ceil(half / spacing))
    xs = np.arange(-nx, nx + 1) * spacing
    ys = np.arange(lo[1] - spacing, hi[1] + 2 * spacing, spacing)
    zs = np.arange(lo[2] - spacing, hi[2] + 2 * spacing, spacing)
    P = np.stack(np.meshgrid(xs, ys, zs, indexing="ij"), -1)
    vol = body.sdf(P.reshape(-1, 3)).reshape(P.shape[:3])
    vol = 0.5 * (vol + vol[::-1])  # exact mirror symmetry of the samples
    v, f, _, _ = marching_cubes(vol, level=0.0, spacing=(spacing,) * 3)
    verts = v + [xs[0], ys[0], zs[0]]
    faces = f.astype(np.int64)
    mirror = np.array([-1.0, 1.0, 1.0])
    dist, T = cKDTree(verts).query(verts * mirror)
    if dist.max() > 1e-4 * spacing or not np.array_equal(T[T], np.arange(T.size)):
        raise RuntimeError("marching cubes did not produce a mirror-symmetric vertex set")
    verts = 0.5 * (verts + verts[T] * mirror)  # remove marching cubes' float32 rounding
    shape = Shape(verts, faces, source="mirror_symmetric_body", name="mirror_body")
    return shape, T.astype(np.int64)


def write_fmap_run(out, data, **options):
    """A functional-map run folder ``out`` holding ``last.pt`` of an untrained, seeded
    DeepFunctionalMap for the dataset ``data``, in the layout ``meshlearn train`` writes (for tests
    and examples of evaluation and matching). ``options`` are TrainConfig options (default: a
    small DiffusionNet on WKS inputs, 8 descriptor channels, ``fmap_k`` 10 and ``k`` 24).
    Returns the TrainConfig."""
    from pathlib import Path

    from .train.checkpoint import save_checkpoint
    from .train.config import TrainConfig
    from .train.fmap_model import build_fmap_model
    from .train.model import in_channels, operator_spec

    out = Path(out)
    settings = dict(task="correspondence", data=str(data), out=str(out), width=16, n_blocks=2, k=24, fmap_k=10,
                    fmap_dim=8, dropout=0.0, threads=1, log="none")
    settings.update(options)
    config = TrainConfig.from_dict(settings)
    spec = operator_spec(config)
    n_in = in_channels(config, spec)
    model = build_fmap_model(config, n_in)
    meta = {"n_in": n_in, "n_out": config.fmap_dim, "spec": spec.to_dict(), "part_names": [], "template": None,
            "val_names": [], "normalize": config.normalize, "class_names": [], "method": config.method,
            "fmap_k": config.fmap_k}
    out.mkdir(parents=True, exist_ok=True)
    config.to_file(out / "config.yaml")
    save_checkpoint(out / "last.pt", {"config": config.to_dict(), "meta": meta, "model": model.state_dict(), "epoch": 0})
    return config


def folder_digest(root) -> str:
    """SHA-256 over the relative paths and bytes of every file under ``root``, in sorted order:
    equal for two folders exactly when they hold the same files with the same contents."""
    import hashlib
    from pathlib import Path

    root = Path(root)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()
