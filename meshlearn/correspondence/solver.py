"""The functional-map solver: descriptors of a pair of shapes -> the map C between their eigenbases.

Letters: B pairs in a batch, V vertices (``Va``, ``Vb``), D descriptor channels, K eigenpairs
(``Ka``, ``Kb``).

Convention (the one of :mod:`meshlearn.correspondence`): ``C : (Kb, Ka)`` takes the spectral
coefficients ``a = evecs_a^T M_a f`` of a function f on shape A to those of the corresponding
function on shape B, ``b = C a``.

The problem
-----------
With the descriptors' coefficients ``A = evecs_a^T M_a desc_a : (Ka, D)`` and
``B = evecs_b^T M_b desc_b : (Kb, D)``, C minimises

    ||C A - B||_F^2 + lam * sum_ij W_ij C_ij^2

where the mask ``W : (Kb, Ka)`` is either the Laplacian-commutativity mask
``W_ij = (lambda_b_i - lambda_a_j)^2`` (then the penalty is ``||C diag(lambda_a) - diag(lambda_b) C||^2``)
or the resolvent mask of Ren et al. 2019 ("Structured regularization of functional map
computations"). Because the penalty is diagonal in the entries of C, the problem separates over the
rows of C: row i solves ``(A A^T + lam diag(W_i)) c_i = A B_i^T``. Every row of every pair is one
(Ka, Ka) symmetric positive-definite system, and all of them are solved in a single batched
``torch.linalg.solve`` call of shape (B, Kb, Ka, Ka) -- no Python loop over rows or pairs.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..errors import ConfigError

__all__ = [
    "MASKS",
    "spectral_coefficients",
    "laplacian_mask",
    "resolvent_mask",
    "fmap_systems",
    "solve_fmap",
    "FunctionalMapSolver",
    "functional_map",
]

#: The regularisation masks :func:`solve_fmap` knows.
MASKS = ("laplacian", "resolvent")


def spectral_coefficients(desc: torch.Tensor, evecs: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """Coefficients of per-vertex functions in an M-orthonormal eigenbasis: ``evecs^T M desc``.

    Parameters
    ----------
    desc : (V, D) or (B, V, D) tensor
    evecs : (V, K) or (B, V, K) tensor
    mass : (V,) or (B, V) tensor, the lumped mass (vertex areas)

    Returns
    -------
    (K, D) or (B, K, D) tensor
    """
    return evecs.transpose(-1, -2) @ (mass[..., :, None].to(desc.dtype) * desc)


def laplacian_mask(evals_a: torch.Tensor, evals_b: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """``W_ij = (lambda_b_i - lambda_a_j)^2 : (..., Kb, Ka)``, the Laplacian-commutativity mask.

    ``normalize`` divides the eigenvalues by the largest of both spectra first, so the mask lies in
    [0, 1] whatever the shapes' scale.
    """
    la, lb = evals_a, evals_b
    if normalize:
        top = torch.cat([la.abs(), lb.abs()], dim=-1).amax(dim=-1, keepdim=True)
        top = top.clamp_min(torch.finfo(la.dtype).tiny)
        la, lb = la / top, lb / top
    return (lb[..., :, None] - la[..., None, :]) ** 2


def resolvent_mask(evals_a: torch.Tensor, evals_b: torch.Tensor, gamma: float = 0.5) -> torch.Tensor:
    """The resolvent mask of Ren et al. 2019, ``(..., Kb, Ka)``.

    With the eigenvalues divided by the largest of both spectra and raised to ``gamma``
    (``mu = lambda^gamma``), the resolvent ``R(mu) = 1 / (mu - i)`` has real part
    ``mu / (mu^2 + 1)`` and imaginary part ``1 / (mu^2 + 1)``;
    ``W_ij = |R(mu_b_i) - R(mu_a_j)|^2``. It penalises C_ij like the commutativity mask does but
    saturates at high frequencies, which keeps the large-K solves well scaled.
    """
    if not gamma > 0:
        raise ConfigError(f"resolvent gamma must be positive (got {gamma!r})")
    top = torch.cat([evals_a.abs(), evals_b.abs()], dim=-1).amax(dim=-1, keepdim=True)
    top = top.clamp_min(torch.finfo(evals_a.dtype).tiny)
    mu_a = (evals_a.clamp_min(0) / top) ** gamma
    mu_b = (evals_b.clamp_min(0) / top) ** gamma
    re_a, im_a = mu_a / (mu_a**2 + 1), 1 / (mu_a**2 + 1)
    re_b, im_b = mu_b / (mu_b**2 + 1), 1 / (mu_b**2 + 1)
    return (re_b[..., :, None] - re_a[..., None, :]) ** 2 + (im_b[..., :, None] - im_a[..., None, :]) ** 2


def fmap_systems(A: torch.Tensor, B: torch.Tensor, penalty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The row systems of the functional-map problem.

    Parameters
    ----------
    A : (B, Ka, D) tensor
    B : (B, Kb, D) tensor
    penalty : (B, Kb, Ka) tensor, ``lam * W`` (plus any ridge)

    Returns
    -------
    lhs : (B, Kb, Ka, Ka) tensor, ``A A^T + diag(penalty_i)`` for every row i
    rhs : (B, Kb, Ka) tensor, ``(A B_i^T)`` for every row i
    """
    AAt = A @ A.transpose(-1, -2)  # (B, Ka, Ka)
    rhs = B @ A.transpose(-1, -2)  # (B, Kb, Ka): row i is (A B_i^T)^T
    lhs = AAt[:, None, :, :] + torch.diag_embed(penalty)
    return lhs, rhs


def solve_fmap(
    A: torch.Tensor,
    B: torch.Tensor,
    evals_a: torch.Tensor | None = None,
    evals_b: torch.Tensor | None = None,
    *,
    lam: float = 1e-3,
    mask: str = "laplacian",
    gamma: float = 0.5,
    scale_free: bool = True,
    ridge: float = 1e-10,
) -> torch.Tensor:
    """Functional maps ``C : (B, Kb, Ka)`` from descriptor coefficients, every row of every pair at once.

    Parameters
    ----------
    A : (B, Ka, D) or (Ka, D) tensor
        Coefficients of the descriptors of shape A (:func:`spectral_coefficients`).
    B : (B, Kb, D) or (Kb, D) tensor
    evals_a, evals_b : (B, Ka), (B, Kb) tensors (or unbatched), optional
        Needed when ``lam > 0``.
    lam : float
        Weight of the regulariser. default: 1e-3
    mask : {"laplacian", "resolvent"}
        default: "laplacian"
    gamma : float
        Exponent of the resolvent mask. default: 0.5
    scale_free : bool
        Multiply ``lam`` by ``mean(diag(A A^T))`` per pair (and normalise the Laplacian mask's
        eigenvalues), so one ``lam`` suits descriptors of any magnitude and shapes of any size.
        ``False`` uses ``lam`` as given (as in Ren et al. and ULRSSM, lam = 100 with the resolvent
        mask). default: True
    ridge : float
        ``ridge * mean(diag(A A^T))`` is added to every diagonal so the systems stay regular when
        the descriptors leave some modes unexcited. default: 1e-10

    Returns
    -------
    C : (B, Kb, Ka) tensor, or (Kb, Ka) for unbatched input; differentiable in A and B.
    """
    unbatched = A.dim() == 2
    if unbatched:
        A, B = A[None], B[None]
        evals_a = None if evals_a is None else evals_a[None]
        evals_b = None if evals_b is None else evals_b[None]
    if A.dim() != 3 or B.dim() != 3 or A.shape[0] != B.shape[0] or A.shape[2] != B.shape[2]:
        raise ConfigError(
            f"expected coefficients A (B, Ka, D) and B (B, Kb, D) with the same B and D "
            f"(got {tuple(A.shape)} and {tuple(B.shape)})"
        )
    if mask not in MASKS:
        raise ConfigError(f"mask must be one of {', '.join(MASKS)} (got {mask!r})")
    nb, Ka, Kb = A.shape[0], A.shape[1], B.shape[1]
    scale = (A * A).sum(-1).mean(-1).clamp_min(torch.finfo(A.dtype).tiny)  # mean(diag(A A^T)), (B,)
    if lam > 0:
        if evals_a is None or evals_b is None:
            raise ConfigError("a functional map with lam > 0 needs evals_a and evals_b (or pass lam=0)")
        la, lb = evals_a[..., :Ka].to(A.dtype), evals_b[..., :Kb].to(A.dtype)
        if la.shape != (nb, Ka) or lb.shape != (nb, Kb):
            raise ConfigError(
                f"expected eigenvalues ({nb}, {Ka}) and ({nb}, {Kb}) (got {tuple(evals_a.shape)} and {tuple(evals_b.shape)})"
            )
        W = laplacian_mask(la, lb, normalize=scale_free) if mask == "laplacian" else resolvent_mask(la, lb, gamma)
        weight = lam * scale if scale_free else torch.full_like(scale, lam)
        penalty = weight[:, None, None] * W
    else:
        penalty = torch.zeros(nb, Kb, Ka, dtype=A.dtype, device=A.device)
    penalty = penalty + (ridge * scale)[:, None, None]
    lhs, rhs = fmap_systems(A, B, penalty)
    C = torch.linalg.solve(lhs, rhs.unsqueeze(-1)).squeeze(-1)  # (B, Kb, Ka)
    return C[0] if unbatched else C


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x[i] for i in range(x.shape[0])]


class FunctionalMapSolver(nn.Module):
    """Differentiable functional-map layer: descriptors of pairs -> ``C_ab`` (and ``C_ba``).

    Holds the regulariser's settings; see :func:`solve_fmap` for the problem solved.

    Parameters
    ----------
    lam : float
        default: 1e-3
    mask : {"laplacian", "resolvent"}
        default: "laplacian"
    gamma : float
        default: 0.5
    scale_free : bool
        default: True
    bidirectional : bool
        Also return ``C_ba : (B, Ka, Kb)``. default: True

    Examples
    --------
    >>> import torch
    >>> solver = FunctionalMapSolver(lam=0.0)
    >>> evecs = torch.linalg.qr(torch.randn(50, 8, dtype=torch.float64))[0]
    >>> desc = torch.randn(50, 16, dtype=torch.float64)
    >>> mass = torch.ones(50, dtype=torch.float64)
    >>> C_ab, C_ba = solver([desc], [desc], [evecs], [evecs], [mass], [mass])
    >>> bool(torch.allclose(C_ab[0], torch.eye(8, dtype=torch.float64)))
    True
    """

    def __init__(
        self,
        lam: float = 1e-3,
        mask: str = "laplacian",
        gamma: float = 0.5,
        scale_free: bool = True,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        if mask not in MASKS:
            raise ConfigError(f"mask must be one of {', '.join(MASKS)} (got {mask!r})")
        if lam < 0:
            raise ConfigError(f"lam must be >= 0 (got {lam!r})")
        self.lam, self.mask, self.gamma, self.scale_free = float(lam), mask, float(gamma), bool(scale_free)
        self.bidirectional = bool(bidirectional)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, mask={self.mask!r}, scale_free={self.scale_free}, bidirectional={self.bidirectional}"

    def coefficients(
        self, desc: Sequence[torch.Tensor] | torch.Tensor, evecs: Sequence[torch.Tensor] | torch.Tensor,
        mass: Sequence[torch.Tensor] | torch.Tensor,
    ) -> torch.Tensor:
        """Stacked coefficients (B, K, D): one projection per shape (vertex counts may differ)."""
        if isinstance(desc, torch.Tensor) and isinstance(evecs, torch.Tensor) and desc.dim() == 3 and evecs.dim() == 3:
            return spectral_coefficients(desc, evecs.to(desc.dtype), mass)
        desc, evecs, mass = _as_list(desc), _as_list(evecs), _as_list(mass)
        if not (len(desc) == len(evecs) == len(mass)):
            raise ConfigError(f"got {len(desc)} descriptors, {len(evecs)} eigenbases and {len(mass)} masses")
        for i, (d, e, m) in enumerate(zip(desc, evecs, mass)):
            if d.dim() != 2 or e.dim() != 2 or d.shape[0] != e.shape[0] or m.shape != (d.shape[0],):
                raise ConfigError(
                    f"shape {i}: expected desc (V, D), evecs (V, K) and mass (V,) with the same V "
                    f"(got {tuple(d.shape)}, {tuple(e.shape)} and {tuple(m.shape)})"
                )
        return torch.stack([spectral_coefficients(d, e.to(d.dtype), m) for d, e, m in zip(desc, evecs, mass)])

    def solve(self, A: torch.Tensor, B: torch.Tensor, evals_a: Any = None, evals_b: Any = None) -> torch.Tensor:
        """``C : (B, Kb, Ka)`` from stacked coefficients, with this layer's settings."""
        return solve_fmap(A, B, evals_a, evals_b, lam=self.lam, mask=self.mask, gamma=self.gamma, scale_free=self.scale_free)

    def forward(
        self,
        desc_a: Sequence[torch.Tensor] | torch.Tensor,
        desc_b: Sequence[torch.Tensor] | torch.Tensor,
        evecs_a: Sequence[torch.Tensor] | torch.Tensor,
        evecs_b: Sequence[torch.Tensor] | torch.Tensor,
        mass_a: Sequence[torch.Tensor] | torch.Tensor,
        mass_b: Sequence[torch.Tensor] | torch.Tensor,
        evals_a: Sequence[torch.Tensor] | torch.Tensor | None = None,
        evals_b: Sequence[torch.Tensor] | torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Functional maps of a batch of pairs.

        Parameters
        ----------
        desc_a, desc_b : (B, V, D) tensors, or lists of (V_i, D) tensors (vertex counts may differ)
        evecs_a, evecs_b : (B, V, K) tensors or lists of (V_i, K); every shape of a side has the same K
        mass_a, mass_b : (B, V) tensors or lists of (V_i,)
        evals_a, evals_b : (B, K) tensors or lists of (K,); needed when ``lam > 0``

        Returns
        -------
        C_ab : (B, Kb, Ka) tensor
        C_ba : (B, Ka, Kb) tensor, or None when not ``bidirectional``
        """
        A = self.coefficients(desc_a, evecs_a, mass_a)
        B = self.coefficients(desc_b, evecs_b, mass_b)
        la = None if evals_a is None else (evals_a if isinstance(evals_a, torch.Tensor) else torch.stack(list(evals_a)))
        lb = None if evals_b is None else (evals_b if isinstance(evals_b, torch.Tensor) else torch.stack(list(evals_b)))
        if la is not None and la.dim() == 1:
            la, lb = la[None], lb[None]
        if not self.bidirectional:
            return self.solve(A, B, la, lb), None
        if A.shape[1] == B.shape[1]:
            # Both directions in the same batched call: stack (A, B) and (B, A) along the batch.
            C = self.solve(torch.cat([A, B]), torch.cat([B, A]),
                           None if la is None else torch.cat([la, lb]), None if lb is None else torch.cat([lb, la]))
            return C[: A.shape[0]], C[A.shape[0]:]
        return self.solve(A, B, la, lb), self.solve(B, A, lb, la)


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
    """Functional map ``C : (Kb, Ka)`` of one pair from corresponding descriptors.

    :func:`solve_fmap` with the Laplacian-commutativity mask, ``lam = mu`` and ``scale_free=True``:
    minimises ``||C A - B||^2 + mu * mean(diag(A A^T)) * sum_ij ((lambda_b_i - lambda_a_j) / lambda_max)^2 C_ij^2``
    with ``A = evecs_a^T M_a desc_a``, ``B = evecs_b^T M_b desc_b``.

    Parameters
    ----------
    desc_a : (Va, D) tensor, desc_b : (Vb, D) tensor
    evecs_a : (Va, Ka) tensor, evecs_b : (Vb, Kb) tensor, M-orthonormal
    mass_a : (Va,) tensor, mass_b : (Vb,) tensor
    evals_a, evals_b : (Ka,), (Kb,) tensors, optional; needed when ``mu > 0``
    mu : float
        default: 1e-3

    Returns
    -------
    C : (Kb, Ka) tensor (differentiable in the descriptors)
    """
    A = spectral_coefficients(desc_a, evecs_a.to(desc_a.dtype), mass_a)
    B = spectral_coefficients(desc_b, evecs_b.to(desc_b.dtype), mass_b)
    return solve_fmap(A, B, evals_a, evals_b, lam=mu, mask="laplacian", scale_free=True)
