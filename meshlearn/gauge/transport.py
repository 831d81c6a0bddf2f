"""Rotating and transporting features, and changing the gauge of a :class:`GaugeData`.

Letters: V vertices, E directed edges, D feature dimension (of a :class:`FeatureType`).

Conventions (as in :class:`meshlearn.geometry.operators.GaugeData`): for a directed edge
``e = (p, q)``, ``p = edge_index[0, e]`` receives and ``q = edge_index[1, e]`` sends;
``angle[e]`` is the direction of q in p's tangent frame and ``transport[e]`` is the angle that
rotates a tangent vector expressed in q's frame into p's frame (counter-clockwise, radians).

Changing the gauge. Rotate the frame of every vertex ``v`` by its own angle ``g_v``
(counter-clockwise about the normal: ``x' = cos g x + sin g y``, ``y' = -sin g x + cos g y``).
A tangent direction that had angle ``phi`` in the old frame has angle ``phi - g_v`` in the new one,
so ``angle'[e] = angle[e] - g_p``. A vector at q with angle ``phi_q`` (old frame) arrives at p with
angle ``phi_q + transport[e]`` in p's old frame, i.e. ``phi_q + transport[e] - g_p`` in p's new
frame; written with its new angle ``phi_q' = phi_q - g_q`` this is
``phi_q' + (transport[e] - g_p + g_q)``, so ``transport'[e] = transport[e] - g_p + g_q``.
Features change as ``x_v' = rho(-g_v) x_v``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..errors import ConfigError
from ..geometry.angles import wrap_angle
from ..geometry.types import GaugeData
from .feature_type import FeatureType

__all__ = ["rotate", "transport_features", "change_gauge", "rotate_frames", "wrap_angle", "as_gauge_tensors"]

def rotate(x: torch.Tensor, angle: torch.Tensor, ftype: FeatureType, scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``rho(angle) x`` for a batch of features, one angle per row, without forming matrices.

    Parameters
    ----------
    x : (..., D) tensor
        Features of type ``ftype``.
    angle : (...,) tensor
        One angle per feature vector (broadcast against ``x.shape[:-1]``), radians, CCW.
    ftype : FeatureType
    scale : (...,) tensor, optional
        Multiply each row by this too (folded into the cos / sin factors: no extra pass over x).

    Returns
    -------
    (..., D) tensor
        Each order-n irrep rotated by ``n * angle``; scalars unchanged. Cost O(numel(x)): the
        cos / sin of ``n * angle`` are computed once per row and order, and each order's
        components are updated as contiguous runs (see the layout in :mod:`~meshlearn.gauge.feature_type`).
    """
    if x.shape[-1] != ftype.dim:
        raise ConfigError(f"features have {x.shape[-1]} components but the feature type {ftype} has {ftype.dim}")
    if ftype.max_order == 0:
        return x if scale is None else x * scale.to(x.dtype)[..., None]
    angle = angle.to(x.dtype)[..., None]
    scale = None if scale is None else scale.to(x.dtype)[..., None]
    sizes = [c * (1 if n == 0 else 2) for n, _, c in ftype.blocks]
    pieces = []
    # split (not slicing): its backward concatenates the gradients instead of zero-filling
    # a full-size gradient per slice
    for (n, _, c), xb in zip(ftype.blocks, x.split(sizes, -1)):
        if n == 0:
            pieces.append(xb if scale is None else xb * scale)
            continue
        a, b = xb.split(c, -1)  # cos and sin components of the copies
        cos, sin = torch.cos(n * angle), torch.sin(n * angle)
        if scale is not None:
            cos, sin = cos * scale, sin * scale
        pieces += [cos * a - sin * b, sin * a + cos * b]
    return torch.cat(pieces, -1)


def as_gauge_tensors(gauge: Any, n_verts: int | None = None, device: Any = None, dtype: Any = None):
    """``(edge_index (2, E) long, angle (E,), transport (E,))`` as torch tensors, checked.

    Accepts a :class:`GaugeData` holding numpy arrays or tensors. Raises ConfigError naming the
    problem when the shapes disagree or an index is out of range.
    """
    for name in ("edge_index", "angle", "transport"):
        if getattr(gauge, name, None) is None:
            raise ConfigError(
                f"gauge data has no {name!r}: compute it with compute_operators(shape, OperatorSpec.for_net(GemCNN))"
            )
    ei = torch.as_tensor(gauge.edge_index, device=device).long()
    angle = torch.as_tensor(gauge.angle, device=device, dtype=dtype)
    transport = torch.as_tensor(gauge.transport, device=device, dtype=dtype)
    if ei.dim() != 2 or ei.shape[0] != 2:
        raise ConfigError(f"gauge.edge_index must have shape (2, E) (got {tuple(ei.shape)})")
    n_edges = ei.shape[1]
    if angle.shape != (n_edges,) or transport.shape != (n_edges,):
        raise ConfigError(
            f"gauge.angle and gauge.transport must have shape ({n_edges},) like edge_index "
            f"(got {tuple(angle.shape)} and {tuple(transport.shape)})"
        )
    if n_verts is not None and n_edges and (int(ei.min()) < 0 or int(ei.max()) >= n_verts):
        raise ConfigError(
            f"gauge.edge_index refers to vertex {int(ei.max())} but the features have {n_verts} rows: "
            "were the operators computed for another shape?"
        )
    return ei, angle, transport


def transport_features(x: torch.Tensor, gauge: Any, ftype: FeatureType) -> torch.Tensor:
    """Features of every edge's sender, parallel-transported into the receiver's frame.

    Parameters
    ----------
    x : (V, D) tensor
        Features of type ``ftype``, each in its own vertex's frame.
    gauge : GaugeData
        Edges and angles (see the module docstring).

    Returns
    -------
    (E, D) tensor
        Row e is ``rho(transport[e]) x[q]`` for e = (p, q): q's feature expressed in p's frame.
    """
    ei, _, transport = as_gauge_tensors(gauge, x.shape[0], x.device, x.dtype)
    return rotate(x.index_select(0, ei[1]), transport, ftype)


def change_gauge(gauge: Any, g: torch.Tensor) -> Any:
    """The gauge data after rotating the frame of every vertex v by ``g[v]``.

    ``angle'[e] = angle[e] - g[p]`` and ``transport'[e] = transport[e] - g[p] + g[q]``
    (derived in the module docstring), wrapped to ``(-pi, pi]`` (:func:`wrap_angle`).

    Parameters
    ----------
    gauge : GaugeData
    g : (V,) tensor
        Frame rotation per vertex, radians, counter-clockwise about the normal.

    Returns
    -------
    GaugeData
        A new object; ``gauge`` is not modified.
    """
    g = torch.as_tensor(g)
    ei, angle, transport = as_gauge_tensors(gauge, g.shape[0], g.device, g.dtype)
    p, q = ei[0], ei[1]
    return GaugeData(ei, wrap_angle(angle - g[p]), wrap_angle(transport - g[p] + g[q]))


def rotate_frames(frames: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Tangent frames rotated about their normals: ``x' = cos g x + sin g y``, ``y' = -sin g x + cos g y``.

    Parameters
    ----------
    frames : (V, 3, 3) tensor or array
        Rows x, y, n (right-handed).
    g : (V,) angles, radians, counter-clockwise about n.

    Returns
    -------
    (V, 3, 3) tensor
        The rotated frames (normals unchanged).
    """
    frames = torch.as_tensor(frames)
    g = torch.as_tensor(g, dtype=frames.dtype, device=frames.device)
    c, s = torch.cos(g)[:, None], torch.sin(g)[:, None]
    x, y, n = frames[:, 0], frames[:, 1], frames[:, 2]
    return torch.stack([c * x + s * y, -s * x + c * y, n], 1)
