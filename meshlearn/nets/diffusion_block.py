"""The building blocks of DiffusionNet: learned heat diffusion, spatial gradient features, DiffusionBlock.

Letters: V vertices, K eigenpairs, C channels.

Heat diffusion of a feature ``x`` for time ``t`` solves ``du/dt = -Delta u`` with ``u(0) = x``, where
``Delta = M^-1 L`` (L the PSD weak Laplacian, M the lumped mass). Two discretisations:

* ``spectral``: ``u = evecs (exp(-evals t) * (evecs^T M x))``, exact for the band-limited part of x
  (the first K eigenpairs); cost two dense (V, K) x (K, C) products.
* ``implicit``: one backward-Euler step ``(M + t L) u = M x``: a sparse solve per channel, no
  truncation of the spectrum (see :class:`ImplicitDiffusion`).

Diffusion times are learned per channel, positive (stored as a logarithm), and measured in units of the
shape's total area (``t_abs = t * sum(mass)``), so that a net sees the same smoothing on a shape and on a
uniformly scaled copy of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch import nn

from ..errors import ConfigError, SolverError
from ._sparse import sparse_op

__all__ = [
    "DIFFUSION_METHODS",
    "DiffusionBlock",
    "Dropout",
    "ImplicitDiffusion",
    "LearnedTimeDiffusion",
    "MLP",
    "SpatialGradientFeatures",
]

DIFFUSION_METHODS = ("spectral", "implicit")


class LearnedTimeDiffusion(nn.Module):
    """Per-channel heat diffusion with learned times.

    Parameters
    ----------
    channels : int
        C.
    method : {"spectral", "implicit"}
        default: "spectral"
    t_init : (float, float)
        Initial times (in units of total area) are spread log-uniformly over this range across the
        channels, so that the untrained net already sees several scales. default: (1e-4, 1e-1)
    """

    def __init__(self, channels: int, method: str = "spectral", t_init: tuple[float, float] = (1e-4, 1e-1)) -> None:
        super().__init__()
        if method not in DIFFUSION_METHODS:
            raise ConfigError(f"diffusion must be one of {', '.join(DIFFUSION_METHODS)} (got {method!r})")
        lo, hi = t_init
        if not 0 < lo <= hi:
            raise ConfigError(f"t_init must be two positive times, low <= high (got {t_init!r})")
        self.method = method
        self.log_time = nn.Parameter(torch.linspace(math.log(lo), math.log(hi), channels))

    def times(self, mass: torch.Tensor) -> torch.Tensor:
        """Absolute diffusion times (C,) for a shape of mass ``mass : (V,)``."""
        return self.log_time.exp() * mass.sum().to(self.log_time.dtype)

    def forward(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """x (V, C) -> diffused x (V, C)."""
        t = self.times(ops.mass)
        if self.method == "spectral":
            evecs, evals, mass = ops.evecs.to(x.dtype), ops.evals.to(x.dtype), ops.mass.to(x.dtype)
            spec = evecs.T @ (mass[:, None] * x)  # (K, C)
            decay = torch.exp(-evals[:, None] * t[None, :].to(x.dtype))  # (K, C)
            return evecs @ (decay * spec)
        return ImplicitDiffusion.apply(x, t.to(x.dtype), ops.L, ops.mass)


class ImplicitDiffusion(torch.autograd.Function):
    """``u = (M + t_c L)^-1 M x_c`` for every channel c, differentiable in x and t.

    Each distinct ``t_c`` is factorised once with SuperLU (scipy, on the host) in the forward pass;
    the factors are kept for the backward pass, which solves with the same (symmetric) matrix:
    with ``A_c = M + t_c L`` and ``g`` the incoming gradient, ``dx_c = M A_c^-1 g_c`` and
    ``dt_c = -(A_c^-1 g_c)^T L u_c``. Tensors on another device are copied to the host for the solve
    and back, so this mode is slower than ``spectral`` on accelerators; it needs no eigenbasis and does
    not truncate the spectrum. The C factorisations stay alive from forward to backward, so memory
    grows with the width times the fill-in of the factors: on large meshes with wide nets prefer
    ``spectral``.

    ``apply(x, t, L, mass)``: x (V, C), t (C,), L (V, V) torch sparse, mass (V,) -> (V, C).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, t: torch.Tensor, L: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        Ls = sparse_op(L).csr.astype(np.float64)
        m = mass.detach().cpu().double().numpy()
        xs = x.detach().cpu().double().numpy()
        ts = t.detach().cpu().double().numpy()
        Msp = sp.diags(m)
        factors, out = [], np.empty_like(xs)
        cache: dict[float, Any] = {}
        for c, tc in enumerate(ts):
            key = float(tc)
            if key not in cache:
                try:
                    cache[key] = spla.splu((Msp + key * Ls).tocsc(), permc_spec="MMD_AT_PLUS_A")
                except RuntimeError as e:
                    raise SolverError(
                        f"implicit diffusion: factorising M + tL failed ({e}); the Laplacian or mass is "
                        "degenerate: load the mesh with clean=True"
                    ) from e
            factors.append(cache[key])
            out[:, c] = cache[key].solve(m * xs[:, c])
        ctx.factors, ctx.Ls, ctx.m = factors, Ls, m
        ctx.out = out
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        gs = g.detach().cpu().double().numpy()
        dx = np.empty_like(gs)
        dt = np.empty(gs.shape[1])
        for c, lu in enumerate(ctx.factors):
            w = lu.solve(np.ascontiguousarray(gs[:, c]))
            dx[:, c] = ctx.m * w
            dt[c] = -w @ (ctx.Ls @ ctx.out[:, c])
        dev, dtype = g.device, g.dtype
        return torch.from_numpy(dx).to(dev, dtype), torch.from_numpy(dt).to(dev, dtype), None, None


class SpatialGradientFeatures(nn.Module):
    """Rotation-invariant features from the tangent gradients of each channel.

    Each channel's gradient at a vertex is a complex number ``v = gx + i gy`` in that vertex's tangent
    frame. A learned complex-linear map across channels gives ``w = A v`` (A = A_re + i A_im), and the
    feature is ``tanh(Re(conj(v) w))``: rotating the frame multiplies every v and w by the same unit
    complex number, which cancels in ``conj(v) w``, so the features do not depend on the (arbitrary)
    choice of tangent frame. They let the net see directions (e.g. the angle between two channels'
    gradients), which isotropic diffusion alone cannot.

    Parameters
    ----------
    channels : int
        C.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.A_re = nn.Linear(channels, channels, bias=False)
        self.A_im = nn.Linear(channels, channels, bias=False)

    def forward(self, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
        """gx, gy (V, C) gradient components -> features (V, C) in (-1, 1)."""
        # (A_re + i A_im)(gx + i gy) with three real products instead of four (Gauss's trick)
        Wr, Wi = self.A_re.weight, self.A_im.weight
        k1 = gx @ (Wr + Wi).T
        k2 = (gy - gx) @ Wr.T
        k3 = (gx + gy) @ Wi.T
        w_re, w_im = k1 - k3, k1 + k2
        return torch.tanh(gx * w_re + gy * w_im)


class Dropout(nn.Module):
    """Inverted dropout drawing its mask with ``torch.rand``: the same distribution as
    ``nn.Dropout``, but on CPU ``rand`` is several times faster than the ``bernoulli_`` that
    ``nn.Dropout`` uses, which matters at DiffusionNet's sizes (8 masks of V x 128 per step).

    Parameters
    ----------
    p : float
        Probability of zeroing an entry, in [0, 1).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MLP(nn.Sequential):
    """Linear layers with ReLU and dropout between them (none after the last).

    Parameters
    ----------
    sizes : list of int
        Channel counts, input first, output last.
    dropout : float
        default: 0.0
    """

    def __init__(self, sizes: list[int], dropout: float = 0.0) -> None:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(Dropout(dropout))
        super().__init__(*layers)


class DiffusionBlock(nn.Module):
    """One DiffusionNet block: diffuse, take gradient features, per-vertex MLP, residual.

    ``y = x + MLP([x, diffuse(x), gradient_features(diffuse(x))])``

    Parameters
    ----------
    width : int
        C, channels in and out.
    dropout : float
        Dropout inside the MLP. default: 0.5
    diffusion : {"spectral", "implicit"}
        default: "spectral"
    with_gradient_features : bool
        default: True
    mlp_layers : int
        Hidden layers of the per-vertex MLP. default: 2
    """

    def __init__(
        self,
        width: int,
        dropout: float = 0.5,
        diffusion: str = "spectral",
        with_gradient_features: bool = True,
        mlp_layers: int = 2,
    ) -> None:
        super().__init__()
        self.diffusion = LearnedTimeDiffusion(width, method=diffusion)
        self.with_gradient_features = with_gradient_features
        self.gradient_features = SpatialGradientFeatures(width) if with_gradient_features else None
        n_in = 3 * width if with_gradient_features else 2 * width
        self.mlp = MLP([n_in] + [width] * (mlp_layers + 1), dropout=dropout)

    def forward(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """x (V, C) -> (V, C)."""
        xd = self.diffusion(x, ops)
        parts = [x, xd]
        if self.gradient_features is not None:
            gx = sparse_op(ops.grad_x) @ xd
            gy = sparse_op(ops.grad_y) @ xd
            parts.append(self.gradient_features(gx, gy))
        return x + self.mlp(torch.cat(parts, dim=1))
