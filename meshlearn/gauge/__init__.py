"""Gauge-equivariant mesh convolutions (GEM-CNN, de Haan et al., ICLR 2021).

Building blocks: real SO(2) irreps (:mod:`~meshlearn.gauge.irreps`), feature types
(:class:`FeatureType`), equivariant kernel bases solved from their constraint
(:mod:`~meshlearn.gauge.kernels`), rotation and parallel transport of features
(:mod:`~meshlearn.gauge.transport`), the regular nonlinearity (:class:`RegularNonlinearity`) and
the exactly equivariant norm and gated nonlinearities (:class:`NormNonlinearity`,
:class:`GatedNonlinearity`), the convolution (:class:`GemConv`) and parallel-transport pooling
(:func:`transport_pool`, :func:`transport_unpool`). :mod:`meshlearn.gauge.testing` checks gauge equivariance.

Gauge convention: rotating the tangent frame at a vertex by g (counter-clockwise about the normal)
changes a feature there to ``rho(-g) x`` and the gauge angles as in :func:`change_gauge`.
"""

from .conv import GemConv, mean_edge_weight
from .exact_nonlinearity import NONLINEARITIES, GatedNonlinearity, NormNonlinearity, gated_type, make_nonlinearity
from .feature_type import FeatureType
from .irreps import irrep_dim, irrep_matrix
from .kernels import KernelBasis, NeighbourKernel, SelfKernel, neighbour_basis, self_basis
from .nonlinearity import RegularNonlinearity, sampling_matrix
from .pooling import change_pool_gauge, transport_pool, transport_unpool
from .transport import change_gauge, rotate, rotate_frames, transport_features, wrap_angle

__all__ = [
    "NONLINEARITIES",
    "FeatureType",
    "GatedNonlinearity",
    "NormNonlinearity",
    "GemConv",
    "KernelBasis",
    "NeighbourKernel",
    "RegularNonlinearity",
    "SelfKernel",
    "change_gauge",
    "change_pool_gauge",
    "gated_type",
    "make_nonlinearity",
    "irrep_dim",
    "irrep_matrix",
    "mean_edge_weight",
    "neighbour_basis",
    "rotate",
    "rotate_frames",
    "sampling_matrix",
    "self_basis",
    "transport_features",
    "transport_pool",
    "transport_unpool",
    "wrap_angle",
]
