"""Networks on surfaces: every net maps per-vertex features and a shape's Operators to outputs.

``y = net(x, ops)``; lists of features and operators give lists of outputs (see :class:`MeshNet`).
Each class declares the operator kinds it reads in ``requires``
(``OperatorSpec.for_net(net)`` turns that into what to precompute).
"""

from . import heads, readout
from .base import MeshNet
from .cheb import ChebConv, ChebNet
from .diffusion import DiffusionNet
from .diffusion_block import DiffusionBlock, LearnedTimeDiffusion, SpatialGradientFeatures
from .gem import GemCNN, GemResBlock
from .patch import PatchConv, PatchConvNet
from .readout import GlobalReadout
from .spectral_filter import SpectralFilterConv, SpectralFilterNet
from .symmetry import SymmetryProjection

__all__ = [
    "ChebConv",
    "ChebNet",
    "DiffusionBlock",
    "DiffusionNet",
    "GemCNN",
    "GemResBlock",
    "GlobalReadout",
    "LearnedTimeDiffusion",
    "MeshNet",
    "PatchConv",
    "PatchConvNet",
    "SpatialGradientFeatures",
    "SpectralFilterConv",
    "SpectralFilterNet",
    "SymmetryProjection",
    "heads",
    "readout",
]
