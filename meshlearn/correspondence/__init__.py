"""Deep functional-map correspondence between shapes.

Letters: B pairs, V vertices (``Va``, ``Vb``), D descriptor channels, K eigenpairs.
Conventions: a functional map ``C_ab : (Kb, Ka)`` takes the spectral coefficients
``a = evecs_a^T M_a f`` of a function on shape A to those of the corresponding function on B; a
pointwise map ``T : (Vb,) int64`` sends vertex y of B to vertex ``T[y]`` of A.

* :mod:`.solver` -- descriptors -> C, every row of every pair in one batched solve (Laplacian or
  resolvent regulariser);
* :mod:`.conversions` -- C <-> pointwise maps, soft pointwise maps (softmax or Sinkhorn) computed in
  blocks, never a (Vb, Va) matrix;
* :mod:`.zoomout` -- ZoomOut refinement;
* :mod:`.losses` -- named, weighted loss terms (bijectivity, orthogonality, commutativity, coupling,
  supervised) and their sum;
* :mod:`.matching` -- a feature network + solver as one model, test-time adaptation, pair matching.
"""

from .conversions import (
    dense_soft_map,
    fmap_from_correspondences,
    fmap_to_pointwise,
    match_descriptors,
    nearest_neighbors,
    pointwise_to_fmap,
    sinkhorn_potentials,
    soft_fmap,
    soft_map_log_likelihood,
    soft_map_product,
)
from .losses import (
    LOSSES,
    Bijectivity,
    CombinedLoss,
    Coupling,
    FmapLoss,
    FmapSupervised,
    LaplacianCommutativity,
    Orthogonality,
    PairMaps,
    PointwiseSupervised,
    unsupervised_loss,
)
from .matching import DeepFunctionalMap, adapt_to_pair, fmap_correspondence, match_pair
from .solver import FunctionalMapSolver, functional_map, laplacian_mask, resolvent_mask, solve_fmap, spectral_coefficients
from .zoomout import zoomout, zoomout_from_pointwise

__all__ = [
    "LOSSES",
    "Bijectivity",
    "CombinedLoss",
    "Coupling",
    "DeepFunctionalMap",
    "FmapLoss",
    "FmapSupervised",
    "FunctionalMapSolver",
    "LaplacianCommutativity",
    "Orthogonality",
    "PairMaps",
    "PointwiseSupervised",
    "adapt_to_pair",
    "dense_soft_map",
    "fmap_correspondence",
    "fmap_from_correspondences",
    "fmap_to_pointwise",
    "functional_map",
    "laplacian_mask",
    "match_descriptors",
    "match_pair",
    "nearest_neighbors",
    "pointwise_to_fmap",
    "resolvent_mask",
    "sinkhorn_potentials",
    "soft_fmap",
    "soft_map_log_likelihood",
    "soft_map_product",
    "solve_fmap",
    "spectral_coefficients",
    "unsupervised_loss",
    "zoomout",
    "zoomout_from_pointwise",
]
