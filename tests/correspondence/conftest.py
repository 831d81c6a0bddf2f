"""Pairs of shapes with a known correspondence: a surface and a vertex-permuted, rigidly moved copy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn.testing import bumpy_sphere, icosphere, random_rigid_motion


@dataclass
class Pair:
    a: object  # Operators (torch, float64) of shape A
    b: object  # of shape B
    perm: torch.Tensor  # (Vb,): vertex y of B is vertex perm[y] of A, the true map B -> A


def permuted_copy(shape, seed: int):
    """``shape`` with its vertices shuffled (and re-indexed faces), rigidly moved; and the permutation."""
    perm = np.random.default_rng(seed).permutation(shape.n_verts)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    moved = random_rigid_motion(shape.with_(verts=shape.verts[perm], faces=inv[shape.faces]), seed=seed)
    return moved, perm


def make_pair(shape, k: int, seed: int = 7) -> Pair:
    spec = meshlearn.OperatorSpec(operators=frozenset({"spectral", "hks", "wks"}), k=k, dtype="float64")
    other, perm = permuted_copy(shape, seed)
    a = meshlearn.compute_operators(shape, spec).to("cpu", torch.float64)
    b = meshlearn.compute_operators(other, spec).to("cpu", torch.float64)
    return Pair(a, b, torch.from_numpy(perm))


@pytest.fixture(scope="session")
def sphere_pair() -> Pair:
    """Icosphere (642 vertices) and its shuffled, moved copy; 40 eigenpairs (clusters of the
    sphere's near-degenerate eigenvalues end at 1, 4, 9, 13, 16, 20, 25, 30, 33, 36)."""
    return make_pair(icosphere(3), k=40)


@pytest.fixture(scope="session")
def bumpy_pair() -> Pair:
    """A bumpy sphere (no symmetry left, 642 vertices) and its shuffled, moved copy; 60 eigenpairs."""
    return make_pair(bumpy_sphere(3, amplitude=0.2, seed=3), k=60)
