"""Shared fixtures: canonical small shapes, fixed seeds, the real meshes folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")

SHARED_MESHES = Path(__file__).resolve().parents[1].parent / "shared" / "meshes"


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def shared_meshes() -> Path:
    """The folder of real meshes beside the project; skips the test when it is absent."""
    if not SHARED_MESHES.is_dir():
        pytest.skip(f"real meshes not found at {SHARED_MESHES}")
    return SHARED_MESHES


def icosphere(subdivisions: int = 3, radius: float = 1.0):
    """(verts, faces) of an icosphere: 10 * 4**s + 2 vertices."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)


def grid(n: int = 20, size: float = 1.0, jitter: float = 0.0, seed: int = 0):
    """(verts, faces) of a flat n x n vertex grid in the z = 0 plane, optionally jittered."""
    xs = np.linspace(0, size, n)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    verts = np.stack([X.ravel(), Y.ravel(), np.zeros(n * n)], 1)
    if jitter:
        rng = np.random.default_rng(seed)
        interior = (X.ravel() > 0) & (X.ravel() < size) & (Y.ravel() > 0) & (Y.ravel() < size)
        verts[interior, :2] += rng.uniform(-jitter, jitter, (interior.sum(), 2)) * size / (n - 1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return verts, faces.astype(np.int64)
