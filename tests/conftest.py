"""Shared fixtures: fixed seeds and the real meshes folder. Analytic shapes: meshlearn.testing."""

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
    import torch

    torch.manual_seed(0)


@pytest.fixture
def shared_meshes() -> Path:
    """The folder of real meshes beside the project; skips the test when it is absent."""
    if not SHARED_MESHES.is_dir():
        pytest.skip(f"real meshes not found at {SHARED_MESHES}")
    return SHARED_MESHES
