"""Geometry: Laplacians, eigenbases, descriptors, frames, gradients, geodesics, transport.

numpy / scipy only (float64); nothing here imports torch.nn.
"""

from .coarse_spectral import coarse_eigenbasis
from .frames import gradient_operators, normals, tangent_frames
from .geodesics import GeodesicSolver, geodesic_distance, pairwise_geodesics
from .laplacian import cotan_laplacian, laplacian
from .operators import (
    GEOMETRY_VERSION,
    OPERATOR_KINDS,
    GaugeData,
    GaugePoolData,
    OperatorSpec,
    Operators,
    PatchData,
    compute_operators,
)
from .pooling import gauge_pooling
from .spectral import eigenbasis, hks, hks_times, unit_area_hks, unit_area_wks, wks, wks_energies
from .transport import LogMapSolver, gauge_data, geodesic_patches, log_map

__all__ = [
    "GEOMETRY_VERSION",
    "OPERATOR_KINDS",
    "GaugeData",
    "GaugePoolData",
    "GeodesicSolver",
    "LogMapSolver",
    "OperatorSpec",
    "Operators",
    "PatchData",
    "coarse_eigenbasis",
    "compute_operators",
    "cotan_laplacian",
    "eigenbasis",
    "gauge_data",
    "gauge_pooling",
    "geodesic_distance",
    "geodesic_patches",
    "gradient_operators",
    "hks",
    "hks_times",
    "laplacian",
    "log_map",
    "normals",
    "pairwise_geodesics",
    "tangent_frames",
    "unit_area_hks",
    "unit_area_wks",
    "wks",
    "wks_energies",
]
