"""The regular nonlinearity: a pointwise nonlinearity applied to band-limited circle functions.

A feature of a regular type ``C x (0, 1, ..., L)`` holds, per channel, the Fourier coefficients
(laid out as ``(2 L + 1, C)``, see :mod:`~meshlearn.gauge.feature_type`) of
``f(phi) = a_0 + sum_{n=1..L} a_n cos(n phi) + b_n sin(n phi)``. The nonlinearity samples f at the
N angles ``phi_k = 2 pi k / N``, applies a pointwise function (ReLU by default) to the samples, and
projects back onto the coefficients by least squares (the discrete Fourier transform; exact
inversion of the sampling needs ``N >= 2 L + 1``).

Equivariance: rotating the frame by g maps f to ``f(. + g)``. For ``g = 2 pi j / N`` this only
permutes the samples cyclically, which commutes with any pointwise function, so the layer is
exactly equivariant. For other angles the band-limiting step loses the high frequencies that the
nonlinearity creates, and equivariance holds only approximately; the error shrinks as N grows.
Measured (relative, Frobenius norm, random features and angles, ``tests/gauge/test_nonlinearity.py``)
for one layer with L = 2: 0.31 (N = 5), 0.090 (N = 7), 0.017 (N = 15), 0.0037 (N = 31); for a whole
default :class:`~meshlearn.nets.GemCNN` on a real mesh: 2.8e-2, 9.7e-3, 1.8e-3, 4e-4. For exact
equivariance use the norm or gated nonlinearity (:mod:`~meshlearn.gauge.exact_nonlinearity`).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import nn

from ..errors import ConfigError
from .feature_type import FeatureType

__all__ = ["RegularNonlinearity", "sampling_matrix"]


def sampling_matrix(max_order: int, n_samples: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(N, 2 L + 1): row k evaluates ``[1, cos phi_k, sin phi_k, ..., cos L phi_k, sin L phi_k]``
    at ``phi_k = 2 pi k / N``."""
    phi = torch.arange(n_samples, dtype=torch.float64) * (2 * math.pi / n_samples)
    cols = [torch.ones_like(phi)]
    for n in range(1, max_order + 1):
        cols += [torch.cos(n * phi), torch.sin(n * phi)]
    return torch.stack(cols, 1).to(dtype)


class RegularNonlinearity(nn.Module):
    """Sample, apply ``activation`` pointwise, and return to Fourier coefficients.

    Parameters
    ----------
    ftype : FeatureType
        A regular type, ``FeatureType.regular(C, L)``; input and output are (V, (2 L + 1) C).
    n_samples : int
        N, the number of sampled angles; at least 2 L + 1. default: 2 L + 3 (7 for L = 2, as in
        the paper)
    activation : callable, optional
        Pointwise function on a tensor. default: ReLU
    """

    def __init__(self, ftype: FeatureType, n_samples: Optional[int] = None, activation: Optional[Callable] = None):
        super().__init__()
        L, channels = ftype.max_order, ftype.multiplicities[0] if 0 in ftype.multiplicities else 0
        if not ftype.is_regular:
            raise ConfigError(
                f"the regular nonlinearity needs a regular feature type (channels of orders 0..L); got {ftype}"
            )
        n_samples = 2 * L + 3 if n_samples is None else int(n_samples)
        if n_samples < 2 * L + 1:
            raise ConfigError(f"n_samples must be at least 2 * max_order + 1 = {2 * L + 1} (got {n_samples})")
        self.ftype, self.channels, self.max_order, self.n_samples = ftype, channels, L, n_samples
        self.activation = activation if activation is not None else torch.relu
        S = sampling_matrix(L, n_samples)
        self.register_buffer("to_samples", S.T.contiguous(), persistent=False)  # (2L+1, N)
        self.register_buffer("to_coeffs", torch.linalg.pinv(S).T.contiguous(), persistent=False)  # (N, 2L+1)

    @property
    def in_type(self) -> FeatureType:
        """The input type: ``ftype`` (the output type too)."""
        return self.ftype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., (2 L + 1) C) -> same shape."""
        if self.max_order == 0:
            return self.activation(x)
        d = 2 * self.max_order + 1
        xs = x.reshape(*x.shape[:-1], d, self.channels).transpose(-1, -2)  # (..., C, 2L+1)
        samples = self.activation(xs @ self.to_samples.to(x.dtype))  # (..., C, N)
        coeffs = samples @ self.to_coeffs.to(x.dtype)  # (..., C, 2L+1)
        return coeffs.transpose(-1, -2).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, max_order={self.max_order}, n_samples={self.n_samples}"
