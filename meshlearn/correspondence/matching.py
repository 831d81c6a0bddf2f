"""Deep functional maps end to end: a feature network, the solver, soft maps, and pair matching.

Letters: V vertices (``Va``, ``Vb``), D descriptor channels, K eigenpairs. Conventions as in
:mod:`meshlearn.correspondence.conversions`: ``C_ab : (K, K)`` takes coefficients on A to B and a
pointwise map ``T : (Vb,)`` sends vertex y of B to vertex ``T[y]`` of A.

The pipeline (FMNet, GeomFmaps, ULRSSM): per-vertex descriptors from a network (DiffusionNet
usually) -> their spectral coefficients -> ``C_ab`` and ``C_ba`` from the batched solver -> losses
on the maps (:mod:`~meshlearn.correspondence.losses`) in training; at test time ``C_ab`` -> a
pointwise map, optionally refined by ZoomOut, optionally after a few steps of test-time adaptation
of the network to the pair on the unsupervised losses.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .conversions import DEFAULT_CHUNK, fmap_from_correspondences, fmap_to_pointwise, soft_fmap
from .losses import CombinedLoss, PairMaps, unsupervised_loss
from .quadrature import quadrature_points
from .solver import FunctionalMapSolver, functional_map
from .zoomout import zoomout

__all__ = ["DeepFunctionalMap", "match_pair", "adapt_to_pair", "fmap_correspondence"]

SOURCES = ("solver", "soft")


def _listify(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _check_ops(ops: Any, k: int, name: str) -> None:
    if getattr(ops, "evecs", None) is None or getattr(ops, "mass", None) is None or getattr(ops, "evals", None) is None:
        raise ConfigError(f"{name} needs evals, evecs and mass: compute operators with 'spectral' in the OperatorSpec")
    if ops.evecs.shape[1] < k:
        raise ConfigError(
            f"{name} has {ops.evecs.shape[1]} eigenpairs but the functional map uses {k}: compute "
            f"operators with OperatorSpec(k={k}) or more"
        )


class DeepFunctionalMap(nn.Module):
    """A feature network + the functional-map solver + the soft pointwise maps.

    Parameters
    ----------
    feature_net : nn.Module
        Called as ``feature_net(x, ops) -> (V, D)`` per shape (any :class:`meshlearn.nets.MeshNet`).
    k : int
        Eigenpairs of the functional maps. default: 30
    solver : FunctionalMapSolver, optional
        default: ``FunctionalMapSolver(lam=1e-3, bidirectional=True)``
    tau : float
        Temperature of the soft pointwise maps (on L2-normalised descriptors). default: 0.07
    normalize : bool
        Centre each descriptor channel (subtract its area-weighted mean over the shape) and
        L2-normalise every vertex's descriptor before the soft maps, so that their similarity is a
        correlation that a channel shared by all vertices cannot saturate (the solver sees the
        descriptors as the net gives them). default: True
    sinkhorn : int
        Sinkhorn iterations of the soft maps; 0 is a row softmax. default: 0
    chunk : int
        Rows per block of the soft maps. default: 2048
    soft_points : int
        In training, the soft maps' functional maps (for the coupling loss) are sums over this
        many farthest-point samples of the target shape, weighted by their Voronoi cells' mass
        (:func:`~meshlearn.correspondence.quadrature.quadrature_points`), instead of over every
        vertex: the soft map's rows are computed for those points only. 0, or at least the
        shape's vertex count, sums over every vertex; so do evaluation (``model.eval()``) and
        Sinkhorn soft maps (``sinkhorn`` > 0: their column sums need every row). default: 0
    """

    def __init__(
        self,
        feature_net: nn.Module,
        k: int = 30,
        solver: FunctionalMapSolver | None = None,
        tau: float = 0.07,
        normalize: bool = True,
        sinkhorn: int = 0,
        chunk: int = DEFAULT_CHUNK,
        soft_points: int = 0,
    ) -> None:
        super().__init__()
        if int(k) < 1:
            raise ConfigError(f"k must be a positive number of eigenpairs (got {k!r})")
        if not tau > 0:
            raise ConfigError(f"tau must be positive (got {tau!r})")
        if int(soft_points) < 0:
            raise ConfigError(f"soft_points must be 0 or a positive number of points (got {soft_points!r})")
        self.soft_points = int(soft_points)
        self.feature_net = feature_net
        self.k = int(k)
        self.solver = solver if solver is not None else FunctionalMapSolver(lam=1e-3, bidirectional=True)
        self.tau, self.normalize, self.sinkhorn, self.chunk = float(tau), bool(normalize), int(sinkhorn), int(chunk)

    def descriptors(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """Per-vertex descriptors ``(V, D)`` of one shape."""
        return self.feature_net(x, ops)

    def _soft_rows(self, ops: Any) -> dict[str, torch.Tensor]:
        """``rows`` and ``weights`` of the soft maps' quadrature on a target shape (see
        ``soft_points``), or nothing where the sum runs over every vertex."""
        n = self.soft_points
        if not (self.training and not self.sinkhorn and 0 < n < ops.mass.shape[0]):
            return {}
        if getattr(ops, "verts", None) is None:
            raise ConfigError("soft_points needs the shapes' vertices in their operators (ops.verts)")
        rows, weights = quadrature_points(torch.as_tensor(ops.verts), ops.mass, n)
        return {"rows": rows, "weights": weights}

    def _soft_feat(self, d: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
        if not self.normalize:
            return d
        w = mass.to(d.dtype)[:, None]
        centred = d - (w * d).sum(0, keepdim=True) / w.sum()
        return nn.functional.normalize(centred, dim=-1)

    def forward(
        self,
        x_a: torch.Tensor | Sequence[torch.Tensor],
        ops_a: Any,
        x_b: torch.Tensor | Sequence[torch.Tensor],
        ops_b: Any,
        *,
        soft: bool = True,
        corr: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> PairMaps:
        """The maps of one pair, or of a batch of pairs given as lists (vertex counts may differ).

        Parameters
        ----------
        x_a, x_b : (V, C_in) tensors or lists of them, the networks' inputs
        ops_a, ops_b : Operators (torch) or lists of them, with evals, evecs and mass
        soft : bool
            Also compute the soft maps' functional maps (for the coupling loss). default: True
        corr : list of (idx_a, idx_b), optional
            Ground-truth correspondences per pair; fills ``C_ab_gt`` and ``corr``.

        Returns
        -------
        PairMaps with ``C_ab (B, k, k)``, ``C_ba``, eigenvalues, soft maps' ``C`` and descriptors.
        """
        xa, xb, oa, ob = _listify(x_a), _listify(x_b), _listify(ops_a), _listify(ops_b)
        if not (len(xa) == len(xb) == len(oa) == len(ob)):
            raise ConfigError(f"got {len(xa)} and {len(xb)} inputs for {len(oa)} and {len(ob)} operator sets")
        self._check_pairs(oa, ob)
        fa = [self.descriptors(x, o) for x, o in zip(xa, oa)]
        fb = [self.descriptors(x, o) for x, o in zip(xb, ob)]
        return self.maps(fa, oa, fb, ob, soft=soft, corr=corr)

    def _check_pairs(self, oa: list, ob: list) -> None:
        for i, (a, b) in enumerate(zip(oa, ob)):
            _check_ops(a, self.k, f"pair {i}, shape A")
            _check_ops(b, self.k, f"pair {i}, shape B")

    def maps(
        self,
        desc_a: torch.Tensor | Sequence[torch.Tensor],
        ops_a: Any,
        desc_b: torch.Tensor | Sequence[torch.Tensor],
        ops_b: Any,
        *,
        soft: bool = True,
        corr: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> PairMaps:
        """:meth:`forward` from descriptors ``(Va, D)``, ``(Vb, D)`` already computed by
        :meth:`descriptors` (or lists of them): the solver and the soft maps only, so that a
        shape met in many pairs goes through the network once."""
        fa, fb, oa, ob = _listify(desc_a), _listify(desc_b), _listify(ops_a), _listify(ops_b)
        if not (len(fa) == len(fb) == len(oa) == len(ob)):
            raise ConfigError(f"got {len(fa)} and {len(fb)} descriptor sets for {len(oa)} and {len(ob)} operator sets")
        self._check_pairs(oa, ob)
        k = self.k
        dtype = fa[0].dtype
        ea = [o.evecs[:, :k].to(dtype) for o in oa]
        eb = [o.evecs[:, :k].to(dtype) for o in ob]
        C_ab, C_ba = self.solver(
            fa, fb, ea, eb, [o.mass for o in oa], [o.mass for o in ob],
            [o.evals[:k].to(dtype) for o in oa], [o.evals[:k].to(dtype) for o in ob],
        )
        maps = PairMaps(
            C_ab=C_ab, C_ba=C_ba,
            evals_a=torch.stack([o.evals[:k].to(dtype) for o in oa]),
            evals_b=torch.stack([o.evals[:k].to(dtype) for o in ob]),
            feat_a=[self._soft_feat(f, o.mass) for f, o in zip(fa, oa)],
            feat_b=[self._soft_feat(f, o.mass) for f, o in zip(fb, ob)], tau=self.tau,
        )
        if soft:
            kw = dict(sinkhorn=self.sinkhorn, chunk=self.chunk)
            maps.C_ab_soft = torch.stack([
                soft_fmap(sa, sb, a, b, o.mass, self.tau, **kw, **self._soft_rows(o))
                for sa, sb, a, b, o in zip(maps.feat_a, maps.feat_b, ea, eb, ob)
            ])
            if C_ba is not None:
                maps.C_ba_soft = torch.stack([
                    soft_fmap(sb, sa, b, a, o.mass, self.tau, **kw, **self._soft_rows(o))
                    for sa, sb, a, b, o in zip(maps.feat_a, maps.feat_b, ea, eb, oa)
                ])
        if corr is not None:
            maps.corr = [(ia.long(), ib.long()) for ia, ib in corr]
            maps.C_ab_gt = torch.stack([
                fmap_from_correspondences(ia, ib, a, b) for (ia, ib), a, b in zip(maps.corr, ea, eb)
            ])
        return maps


def adapt_to_pair(
    model: DeepFunctionalMap,
    x_a: torch.Tensor,
    ops_a: Any,
    x_b: torch.Tensor,
    ops_b: Any,
    *,
    steps: int = 10,
    lr: float = 1e-3,
    loss: CombinedLoss | None = None,
) -> DeepFunctionalMap:
    """Test-time adaptation: a copy of ``model`` after ``steps`` Adam steps on the pair's unsupervised loss.

    The model given is left unchanged. The copy is trained in eval mode (no dropout), so the
    adaptation is deterministic. ``loss`` defaults to :func:`~meshlearn.correspondence.losses.unsupervised_loss`.
    """
    if int(steps) < 0:
        raise ConfigError(f"steps must be >= 0 (got {steps!r})")
    tuned = copy.deepcopy(model).eval()
    loss = loss or unsupervised_loss()
    params = [p for p in tuned.parameters() if p.requires_grad]
    if not params or steps == 0:
        return tuned
    opt = torch.optim.Adam(params, lr=lr)
    with torch.enable_grad():
        for _ in range(int(steps)):
            opt.zero_grad()
            total, _ = loss(tuned(x_a, ops_a, x_b, ops_b))
            total.backward()
            opt.step()
    return tuned


@torch.no_grad()
def _predict(model: DeepFunctionalMap, x_a: torch.Tensor, ops_a: Any, x_b: torch.Tensor, ops_b: Any, source: str) -> torch.Tensor:
    maps = model(x_a, ops_a, x_b, ops_b, soft=source == "soft")
    return maps.C_ab[0] if source == "solver" else maps.C_ab_soft[0]


def match_pair(
    model: DeepFunctionalMap,
    x_a: torch.Tensor,
    ops_a: Any,
    x_b: torch.Tensor,
    ops_b: Any,
    *,
    k_final: int | None = None,
    zoomout_step: int = 1,
    adapt_steps: int = 0,
    adapt_lr: float = 1e-3,
    adapt_loss: CombinedLoss | None = None,
    source: str = "solver",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pointwise map ``T : B -> A`` of one pair: descriptors -> C -> pointwise map (-> ZoomOut).

    Parameters
    ----------
    model : DeepFunctionalMap
    x_a, x_b : (Va, C_in), (Vb, C_in) tensors
    ops_a, ops_b : Operators (torch)
    k_final : int, optional
        Refine with ZoomOut up to this many eigenpairs. default: None (no refinement)
    zoomout_step : int
        default: 1
    adapt_steps : int
        Test-time adaptation steps (:func:`adapt_to_pair`) before matching. default: 0
    adapt_lr : float
        default: 1e-3
    adapt_loss : CombinedLoss, optional
        default: the unsupervised loss
    source : {"solver", "soft"}
        Which functional map becomes the pointwise map: the solver's C_ab or that of the soft
        pointwise map (ULRSSM's choice at test time). default: "solver"

    Returns
    -------
    T : (Vb,) int64 tensor
    C : (K, K) tensor, the final functional map (K = k_final after ZoomOut)
    """
    if source not in SOURCES:
        raise ConfigError(f"source must be one of {', '.join(SOURCES)} (got {source!r})")
    if adapt_steps:
        model = adapt_to_pair(model, x_a, ops_a, x_b, ops_b, steps=adapt_steps, lr=adapt_lr, loss=adapt_loss)
    was_training = model.training
    model.eval()
    try:
        C = _predict(model, x_a, ops_a, x_b, ops_b, source)
    finally:
        model.train(was_training)
    ea, eb = ops_a.evecs.to(C.dtype), ops_b.evecs.to(C.dtype)
    if k_final is not None and k_final > C.shape[0]:
        _check_ops(ops_a, k_final, "shape A")
        _check_ops(ops_b, k_final, "shape B")
        C, T = zoomout(C, ea, eb, ops_b.mass, k_final=k_final, step=zoomout_step, chunk=model.chunk)
        return T, C
    return fmap_to_pointwise(C, ea, eb, chunk=model.chunk), C


def fmap_correspondence(
    desc_a: torch.Tensor,
    desc_b: torch.Tensor,
    ops_a: Any,
    ops_b: Any,
    k: int = 30,
    mu: float = 1e-1,
    k_final: int | None = None,
) -> torch.Tensor:
    """Pointwise map ``T : B -> A`` from given descriptors through a functional map (and ZoomOut).

    Fits ``C : (k, k)`` with :func:`~meshlearn.correspondence.solver.functional_map` on the first
    k eigenpairs, refines it with :func:`~meshlearn.correspondence.zoomout.zoomout` up to
    ``k_final`` when given, and converts it to a pointwise map. More robust than nearest neighbours
    in descriptor space when descriptors are noisy: the map is forced to be smooth and near-isometric.

    Parameters
    ----------
    desc_a : (Va, D) tensor, desc_b : (Vb, D) tensor
    ops_a, ops_b : Operators (torch) with ``evals``, ``evecs`` and ``mass``
    k : int
        default: 30
    mu : float
        Commutativity weight. default: 0.1
    k_final : int, optional
        default: None (no refinement)

    Returns
    -------
    T : (Vb,) int64 tensor
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
