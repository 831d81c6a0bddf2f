"""Parallel-transport pooling and unpooling between the levels of a :class:`GaugePoolData`.

Letters: V fine vertices (level k - 1), W coarse vertices (level k), D feature dimension.

Pooling carries every fine vertex's feature into its cluster vertex's gauge and averages with the
area weights::

    pooled[c] = sum_{p in cluster c} weight[p] rho(pool_transport[p]) x[p]

Unpooling gives every fine vertex its cluster vertex's feature, carried back into its own gauge:
``x[p] = rho(-pool_transport[p]) pooled[cluster[p]]``.

Gauge changes: rotating the fine frames by ``g_p`` and the coarse frames by ``h_c`` changes
``pool_transport[p]`` to ``pool_transport[p] - h_c + g_p`` (:func:`change_pool_gauge`); with it
both maps are exactly equivariant.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError
from ..geometry.angles import wrap_angle
from .feature_type import FeatureType
from .transport import rotate

__all__ = ["transport_pool", "transport_unpool", "change_pool_gauge"]


def _check(x: torch.Tensor, cluster: torch.Tensor, ftype: FeatureType, rows: int, what: str) -> None:
    if x.dim() != 2 or x.shape[1] != ftype.dim:
        raise ConfigError(f"{what} expected features of shape (V, {ftype.dim}) for {ftype} (got {tuple(x.shape)})")
    if x.shape[0] != rows:
        raise ConfigError(
            f"{what}: the features have {x.shape[0]} rows but the pooling data expect {rows}: "
            "were the operators computed for another shape?"
        )


def transport_pool(x: torch.Tensor, cluster: Any, pool_transport: Any, weight: Any, n_coarse: int, ftype: FeatureType) -> torch.Tensor:
    """Fine features (V, D) -> coarse features (W, D), transported into the coarse gauges and averaged.

    Parameters
    ----------
    x : (V, D) tensor of ``ftype``
    cluster : (V,) int64, the coarse vertex of every fine vertex
    pool_transport : (V,) angles, fine frame -> coarse frame
    weight : (V,) pooling weights (summing to 1 over each cluster)
    n_coarse : int, W
    """
    cluster = torch.as_tensor(cluster, device=x.device).long()
    _check(x, cluster, ftype, cluster.shape[0], "transport_pool")
    moved = rotate(x, torch.as_tensor(pool_transport, device=x.device), ftype, scale=torch.as_tensor(weight, device=x.device))
    out = torch.zeros(int(n_coarse), x.shape[1], dtype=moved.dtype, device=x.device)
    return out.index_add(0, cluster, moved)


def transport_unpool(x: torch.Tensor, cluster: Any, pool_transport: Any, ftype: FeatureType) -> torch.Tensor:
    """Coarse features (W, D) -> fine features (V, D): each fine vertex takes its cluster's
    feature, transported back into its own gauge."""
    cluster = torch.as_tensor(cluster, device=x.device).long()
    if x.dim() != 2 or x.shape[1] != ftype.dim:
        raise ConfigError(f"transport_unpool expected features of shape (W, {ftype.dim}) for {ftype} (got {tuple(x.shape)})")
    return rotate(x.index_select(0, cluster), -torch.as_tensor(pool_transport, device=x.device), ftype)


def change_pool_gauge(cluster: Any, pool_transport: Any, g_fine: torch.Tensor, g_coarse: torch.Tensor) -> torch.Tensor:
    """``pool_transport`` after rotating the fine frames by ``g_fine`` (V,) and the coarse ones
    by ``g_coarse`` (W,): ``pool_transport - g_coarse[cluster] + g_fine``, wrapped to (-pi, pi]."""
    cluster = torch.as_tensor(cluster).long()
    return wrap_angle(torch.as_tensor(pool_transport) - g_coarse[cluster] + g_fine)
