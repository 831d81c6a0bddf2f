"""Task heads: segmentation logits, template correspondence and descriptors.

The functional-map functions (``functional_map``, ``fmap_to_pointwise``, ``pointwise_to_fmap``,
``zoomout``, ``fmap_correspondence``, ``match_descriptors``) live in
:mod:`meshlearn.correspondence`; they are re-exported here under their old names.

Letters: V vertices (``Va``, ``Vb`` for two shapes), F faces, C channels, D descriptor channels,
K eigenpairs (``Ka``, ``Kb``), N template vertices.

Conventions
-----------
* Pooling: a face's value is the plain mean of its three vertices' values; a global value is the
  mass-weighted mean over vertices (an integral over the surface divided by its area, so it does not
  depend on how finely the surface is sampled).
* A pointwise map from shape B to shape A is an index array ``T : (Vb,) int64``: vertex ``y`` of B
  corresponds to vertex ``T[y]`` of A.
* A functional map (Ovsjanikov et al. 2012; refined here with ZoomOut, Melzi et al. 2019)
  ``C : (Kb, Ka)`` maps the spectral coefficients of a function on A (in A's
  eigenbasis, coefficients ``a = evecs_a^T M_a f``) to those of the corresponding function on B:
  ``b = C a``. A pointwise map ``T : B -> A`` induces ``C = evecs_b^T M_b evecs_a[T]``
  (:func:`pointwise_to_fmap`), and conversely ``evecs_a[T] ~ evecs_b C`` row by row
  (:func:`fmap_to_pointwise`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..correspondence.conversions import fmap_to_pointwise, match_descriptors, pointwise_to_fmap
from ..correspondence.matching import fmap_correspondence
from ..correspondence.solver import functional_map
from ..correspondence.zoomout import zoomout
from ..errors import ConfigError
from .readout import OUTPUTS, check_outputs, global_mean, pool_outputs, vertices_to_faces

__all__ = [
    "OUTPUTS",
    "pool_outputs",
    "vertices_to_faces",
    "global_mean",
    "SegmentationHead",
    "TemplateCorrespondenceHead",
    "DescriptorHead",
    "match_descriptors",
    "functional_map",
    "fmap_to_pointwise",
    "pointwise_to_fmap",
    "zoomout",
    "fmap_correspondence",
]

class SegmentationHead(nn.Module):
    """Per-vertex or per-face class logits from backbone features.

    A linear map ``(V, C) -> (V, n_classes)``, then pooled to faces when ``outputs="faces"``
    (mean of the vertices' logits). Train with ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    outputs : {"vertices", "faces"}
        default: "vertices"
    device : torch.device or str, optional
        Where the parameters are created.
    """

    def __init__(self, in_channels: int, n_classes: int, outputs: str = "vertices", device: Any = None) -> None:
        super().__init__()
        if check_outputs(outputs).startswith("global"):
            raise ConfigError("a segmentation head gives per-vertex or per-face logits; use outputs='vertices' or 'faces'")
        self.outputs = outputs
        self.linear = nn.Linear(in_channels, n_classes, device=device)

    def forward(self, features: torch.Tensor, faces: torch.Tensor | None = None) -> torch.Tensor:
        """features (V, C) -> logits (V, n_classes), or (F, n_classes) given ``faces`` (F, 3)."""
        logits = self.linear(features)
        return vertices_to_faces(logits, faces) if self.outputs == "faces" else logits


class TemplateCorrespondenceHead(nn.Module):
    """Correspondence as classification: logits over the N vertices of a fixed template.

    ``argmax`` of the logits of vertex i is the template vertex it corresponds to; train with
    cross-entropy against the ground-truth template index of every vertex.

    Parameters
    ----------
    in_channels : int
    n_template_verts : int
        N, the number of template vertices.
    device : torch.device or str, optional
    """

    def __init__(self, in_channels: int, n_template_verts: int, device: Any = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, n_template_verts, device=device)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (V, C) -> logits (V, N)."""
        return self.linear(features)

    @torch.no_grad()
    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """features (V, C) -> template vertex of each vertex, (V,) int64."""
        return self.forward(features).argmax(dim=1)


class DescriptorHead(nn.Module):
    """Per-vertex descriptors for matching: a linear map to D channels, L2-normalised per vertex.

    Parameters
    ----------
    in_channels : int
    dim : int
        D, the descriptor size. default: 64
    normalize : bool
        Divide every descriptor by its Euclidean norm. default: True
    device : torch.device or str, optional
    """

    def __init__(self, in_channels: int, dim: int = 64, normalize: bool = True, device: Any = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, dim, device=device)
        self.normalize = normalize

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (V, C) -> descriptors (V, D)."""
        d = self.linear(features)
        return nn.functional.normalize(d, dim=1) if self.normalize else d
