"""Geometry: Laplacians, eigenbases, descriptors, frames, gradients, geodesics, transport.

numpy / scipy only (float64); nothing here imports torch.nn.
"""

from .laplacian import cotan_laplacian, laplacian
from .operators import (
    GEOMETRY_VERSION,
    OPERATOR_KINDS,
    GaugeData,
    OperatorSpec,
    Operators,
    PatchData,
    compute_operators,
)
from .spectral import eigenbasis, hks, hks_times, wks, wks_energies

__all__ = [
    "GEOMETRY_VERSION",
    "OPERATOR_KINDS",
    "GaugeData",
    "OperatorSpec",
    "Operators",
    "PatchData",
    "compute_operators",
    "cotan_laplacian",
    "eigenbasis",
    "hks",
    "hks_times",
    "laplacian",
    "wks",
    "wks_energies",
]
