"""Shared fixtures: fixed seeds and the real meshes folder. Analytic shapes: meshlearn.testing."""

from __future__ import annotations

import os
from pathlib import Path

# Tests use small shapes, for which one BLAS / OpenMP thread is fastest; several threads per
# process (and per worker process the tests start) only oversubscribe the cores. Set before
# numpy and torch are imported so the limits reach every library and every child process.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_MESHES = (Path(__file__).resolve().parents[1].parent / "shared" / "meshes").resolve()


def pytest_configure(config):
    from threadpoolctl import threadpool_limits
    import torch

    threadpool_limits(1)  # in case numpy was imported before this file
    torch.set_num_threads(1)


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
