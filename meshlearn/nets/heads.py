"""Task heads: segmentation logits, template correspondence, descriptors and functional maps.

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

from ..errors import ConfigError

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

#: Where a net's outputs live.
OUTPUTS = ("vertices", "faces", "global")


def check_outputs(outputs: str) -> str:
    """Validate an ``outputs`` option; returns it."""
    if outputs not in OUTPUTS:
        raise ConfigError(f"outputs must be one of {', '.join(OUTPUTS)} (got {outputs!r})")
    return outputs


def vertices_to_faces(y: torch.Tensor, faces: torch.Tensor | None) -> torch.Tensor:
    """Per-face values as the mean of each face's vertex values.

    Parameters
    ----------
    y : (V, C) tensor
    faces : (F, 3) int64 tensor

    Returns
    -------
    (F, C) tensor
    """
    if faces is None:
        raise ConfigError("per-face outputs need a mesh, but these operators have no faces (a point cloud?); "
                          "use outputs='vertices'")
    return y[faces.long()].mean(dim=1)


def global_mean(y: torch.Tensor, mass: torch.Tensor | None) -> torch.Tensor:
    """Mass-weighted mean over vertices: ``sum_i m_i y_i / sum_i m_i``.

    Parameters
    ----------
    y : (V, C) tensor
    mass : (V,) tensor, or None for a plain mean

    Returns
    -------
    (C,) tensor
    """
    if mass is None:
        return y.mean(dim=0)
    w = mass.to(y.dtype)
    return (w[:, None] * y).sum(0) / w.sum()


def pool_outputs(y: torch.Tensor, ops: Any, outputs: str) -> torch.Tensor:
    """Per-vertex ``y : (V, C)`` to ``outputs``: (V, C), (F, C) or (C,)."""
    if outputs == "vertices":
        return y
    if outputs == "faces":
        return vertices_to_faces(y, ops.faces)
    return global_mean(y, getattr(ops, "mass", None))


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
        if check_outputs(outputs) == "global":
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


def match_descriptors(desc_a: torch.Tensor, desc_b: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Nearest neighbour in descriptor space: for every vertex of B, the closest vertex of A.

    Parameters
    ----------
    desc_a : (Va, D) tensor
    desc_b : (Vb, D) tensor, on the same device
    chunk : int
        Rows of B compared at once (bounds memory at ``chunk * Va`` distances). default: 4096

    Returns
    -------
    T : (Vb,) int64 tensor
        ``T[y]`` is the vertex of A whose descriptor is nearest (Euclidean) to ``desc_b[y]``.
    """
    if desc_a.dim() != 2 or desc_b.dim() != 2 or desc_a.shape[1] != desc_b.shape[1]:
        raise ConfigError(
            f"expected descriptors (Va, D) and (Vb, D) with the same D (got {tuple(desc_a.shape)} and {tuple(desc_b.shape)})"
        )
    out = []
    a = desc_a.detach()
    for start in range(0, desc_b.shape[0], chunk):
        out.append(torch.cdist(desc_b[start : start + chunk].detach(), a).argmin(dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=desc_a.device)


def _coefs(desc: torch.Tensor, evecs: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    return evecs.T @ (mass[:, None].to(desc.dtype) * desc)


def functional_map(
    desc_a: torch.Tensor,
    desc_b: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    mass_a: torch.Tensor,
    mass_b: torch.Tensor,
    evals_a: torch.Tensor | None = None,
    evals_b: torch.Tensor | None = None,
    mu: float = 1e-3,
) -> torch.Tensor:
    """Fit a functional map ``C : (Kb, Ka)`` from corresponding descriptors.

    Minimises ``||C A - B||_F^2 + mu * sum_ij (lambda_b_i - lambda_a_j)^2 C_ij^2`` where
    ``A = evecs_a^T M_a desc_a : (Ka, D)`` and ``B = evecs_b^T M_b desc_b : (Kb, D)`` are the
    descriptors' spectral coefficients. The second term is the Laplacian-commutativity regulariser
    ``||C diag(lambda_a) - diag(lambda_b) C||^2``, which favours maps that preserve frequency (an
    isometry commutes with the Laplacian). The problem separates over rows of C; each row is one
    small (Ka, Ka) symmetric solve, batched. A ridge of 1e-10 times the mean of ``diag(A A^T)``
    keeps the solves regular when the descriptors do not excite some modes (their diagonal entries
    then shrink towards 0 instead of being undetermined).

    Parameters
    ----------
    desc_a : (Va, D) tensor
    desc_b : (Vb, D) tensor
    evecs_a : (Va, Ka) tensor, M_a-orthonormal
    evecs_b : (Vb, Kb) tensor, M_b-orthonormal
    mass_a : (Va,) tensor
    mass_b : (Vb,) tensor
    evals_a, evals_b : (Ka,), (Kb,) tensors, optional
        Needed when ``mu > 0``.
    mu : float
        Weight of the commutativity term. It is made scale-free: the penalty actually used is
        ``mu * mean(diag(A A^T)) * ((lambda_b_i - lambda_a_j) / lambda_max)^2``, so the same mu
        suits descriptors of any magnitude and shapes of any size. default: 1e-3

    Returns
    -------
    C : (Kb, Ka) tensor (differentiable in the descriptors)
    """
    A = _coefs(desc_a, evecs_a, mass_a)
    B = _coefs(desc_b, evecs_b, mass_b)
    AAt = A @ A.T  # (Ka, Ka)
    ABt = A @ B.T  # (Ka, Kb)
    Ka, Kb = A.shape[0], B.shape[0]
    eye = torch.eye(Ka, dtype=A.dtype, device=A.device)
    scale = AAt.diagonal().mean().clamp_min(torch.finfo(A.dtype).tiny)
    if mu > 0:
        if evals_a is None or evals_b is None:
            raise ConfigError("functional_map with mu > 0 needs evals_a and evals_b (or pass mu=0)")
        la, lb = evals_a.to(A.dtype), evals_b.to(A.dtype)
        norm = torch.cat([la, lb]).abs().max().clamp_min(torch.finfo(A.dtype).tiny)
        reg = ((lb[:, None] - la[None, :]) / norm) ** 2  # (Kb, Ka)
    else:
        reg = torch.zeros(Kb, Ka, dtype=A.dtype, device=A.device)
    systems = AAt[None] + (mu * scale * reg)[:, :, None] * eye[None] + 1e-10 * scale * eye[None]  # (Kb, Ka, Ka)
    rows = torch.linalg.solve(systems, ABt.T.unsqueeze(-1)).squeeze(-1)  # (Kb, Ka)
    return rows


def fmap_to_pointwise(C: torch.Tensor, evecs_a: torch.Tensor, evecs_b: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Pointwise map ``T : B -> A`` from a functional map ``C : (Kb, Ka)``.

    Vertex ``y`` of B is sent to the vertex ``x`` of A whose spectral embedding ``evecs_a[x]`` is
    nearest to ``(evecs_b C)[y]`` (the pull-back of the map's action on the basis).

    Parameters
    ----------
    C : (Kb, Ka) tensor
    evecs_a : (Va, Ka') tensor with Ka' >= Ka (the first Ka columns are used)
    evecs_b : (Vb, Kb') tensor with Kb' >= Kb

    Returns
    -------
    T : (Vb,) int64 tensor
    """
    Kb, Ka = C.shape
    if evecs_a.shape[1] < Ka or evecs_b.shape[1] < Kb:
        raise ConfigError(
            f"a ({Kb}, {Ka}) functional map needs at least {Ka} and {Kb} eigenvectors "
            f"(got {evecs_a.shape[1]} and {evecs_b.shape[1]})"
        )
    query = evecs_b[:, :Kb] @ C.detach().to(evecs_b.dtype)
    return match_descriptors(evecs_a[:, :Ka], query, chunk=chunk)


def pointwise_to_fmap(T: torch.Tensor, evecs_a: torch.Tensor, evecs_b: torch.Tensor, mass_b: torch.Tensor) -> torch.Tensor:
    """Functional map ``C = evecs_b^T M_b evecs_a[T] : (Kb, Ka)`` of a pointwise map ``T : (Vb,)`` into A."""
    return evecs_b.T @ (mass_b[:, None].to(evecs_b.dtype) * evecs_a[T.long()])


def zoomout(
    C: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    mass_b: torch.Tensor,
    k_final: int,
    step: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ZoomOut refinement: alternate pointwise and functional maps while growing the basis.

    Starting from ``C : (k, k)``, repeat: ``T = fmap_to_pointwise(C)``, then
    ``C = pointwise_to_fmap(T)`` with ``step`` more eigenvectors on each side, until
    ``k_final``. A near-isometric map's high frequencies are recovered from its low ones.

    Parameters
    ----------
    C : (K0, K0) tensor
    evecs_a : (Va, K) tensor, K >= k_final
    evecs_b : (Vb, K) tensor, K >= k_final
    mass_b : (Vb,) tensor
    k_final : int
    step : int
        default: 1

    Returns
    -------
    C : (k_final, k_final) tensor
    T : (Vb,) int64 tensor, the pointwise map B -> A from the final C
    """
    if C.shape[0] != C.shape[1]:
        raise ConfigError(f"zoomout expects a square functional map (got {tuple(C.shape)})")
    if step < 1:
        raise ConfigError(f"step must be >= 1 (got {step})")
    if min(evecs_a.shape[1], evecs_b.shape[1]) < k_final:
        raise ConfigError(f"k_final={k_final} needs at least that many eigenvectors on both shapes")
    C = C.detach()
    k = C.shape[0]
    while k < k_final:
        T = fmap_to_pointwise(C, evecs_a, evecs_b)
        k = min(k + step, k_final)
        C = pointwise_to_fmap(T, evecs_a[:, :k], evecs_b[:, :k], mass_b)
    return C, fmap_to_pointwise(C, evecs_a, evecs_b)


def fmap_correspondence(
    desc_a: torch.Tensor,
    desc_b: torch.Tensor,
    ops_a: Any,
    ops_b: Any,
    k: int = 30,
    mu: float = 1e-1,
    k_final: int | None = None,
) -> torch.Tensor:
    """Pointwise map ``T : B -> A`` from descriptors through a functional map (and ZoomOut).

    Fits ``C : (k, k)`` with :func:`functional_map` on the first k eigenpairs of both shapes,
    then refines it with :func:`zoomout` up to ``k_final`` eigenpairs when given, and converts it
    with :func:`fmap_to_pointwise`. More robust than :func:`match_descriptors` when descriptors are
    noisy, because the map is forced to be smooth (band-limited) and near-isometric.

    Parameters
    ----------
    desc_a : (Va, D) tensor
    desc_b : (Vb, D) tensor
    ops_a, ops_b : Operators (torch) with ``evals``, ``evecs`` and ``mass``
    k : int
        Eigenpairs of the fitted map. default: 30
    mu : float
        Commutativity weight, see :func:`functional_map`. default: 0.1
    k_final : int, optional
        ZoomOut to this many eigenpairs (one at a time). default: None (no refinement)

    Returns
    -------
    T : (Vb,) int64 tensor, the vertex of A for every vertex of B
    """
    for name, ops in (("ops_a", ops_a), ("ops_b", ops_b)):
        if getattr(ops, "evecs", None) is None or ops.evecs.shape[1] < max(k, k_final or 0):
            raise ConfigError(
                f"{name} needs at least {max(k, k_final or 0)} eigenpairs: compute operators with "
                f"OperatorSpec(operators={{'spectral'}}, k={max(k, k_final or 0)})"
            )
    ea, eb = ops_a.evecs[:, :k].to(desc_a.dtype), ops_b.evecs[:, :k].to(desc_b.dtype)
    C = functional_map(desc_a, desc_b, ea, eb, ops_a.mass, ops_b.mass, ops_a.evals[:k], ops_b.evals[:k], mu=mu)
    if k_final is not None and k_final > k:
        return zoomout(C, ops_a.evecs.to(desc_a.dtype), ops_b.evecs.to(desc_b.dtype), ops_b.mass, k_final=k_final)[1]
    return fmap_to_pointwise(C, ea, eb)
