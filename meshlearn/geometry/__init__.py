"""Geometry: Laplacians, eigenbases, descriptors, frames, gradients, geodesics, transport.

numpy / scipy only (float64); nothing here imports torch.nn.
"""

from .frames import gradient_operators, normals, tangent_frames
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
from .transport import gauge_data

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
    "gauge_data",
    "gradient_operators",
    "hks",
    "hks_times",
    "laplacian",
    "normals",
    "tangent_frames",
    "wks",
    "wks_energies",
]
