"""Training and validation steps of a deep functional-map run (``--method fmap-*``).

:func:`meshlearn.train.fit` keeps the run's machinery (checkpoints, resume, DDP, metrics, run
log); :class:`FmapSteps` supplies what differs from the per-vertex tasks: the DataLoader of pairs
(:mod:`meshlearn.train.pairs`), one epoch of optimiser steps on batches of pairs, and the score of
the validation pairs.

A step takes ``batch_size`` pairs (this rank's share under DDP), computes their maps in one call
of :class:`~meshlearn.correspondence.DeepFunctionalMap` and the loss of ``config.method``
(:func:`~meshlearn.train.fmap_model.fmap_loss`); dropout of step j of epoch e draws from a
generator seeded with ``(seed, e, j)``, so runs are reproducible and a resumed run continues exactly.
``fmap-supervised`` passes each pair's ground truth as ``corr``: template point t lies at vertex
``vts_a[t]`` of A and ``vts_b[t]`` of B. Training is in float32 (``--amp`` is not used: the
solver's systems need it).

Validation pairs held-out shape i with shape i + 1 (:func:`~meshlearn.train.pairs.validation_pairs`)
and records the loss and each of its terms. When every held-out shape has ground truth (``.vts``)
it also records ``val_error``: the mean, over template points, of the Euclidean distance on A
between the vertex the solver's functional map sends a point of B to and the true one, divided by
sqrt(area of A) (so it does not depend on the shapes' scale; a proxy of the geodesic error that
evaluation reports), and ``val_error_soft`` for the soft pointwise map's functional map. The
checkpoint score is ``-val_error`` then, else ``-val_loss``.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import DatasetError
from .config import TrainConfig
from .distributed import DistInfo, all_reduce_sum
from .fmap_model import fmap_loss
from .loader import make_loader
from .model import input_features
from .pairs import PairSampler, as_pairs, validation_pairs

__all__ = ["FmapSteps", "check_ground_truth", "check_eigenpairs", "pair_error"]

log = logging.getLogger(__name__)


def check_ground_truth(records: Sequence[Any]) -> None:
    """DatasetError naming the first shape of ``records`` without correspondences (``.vts``) to
    the shared template points (what ``fmap-supervised`` trains on)."""
    for rec in records:
        if rec.vts is None and not rec.identity:
            expected = rec.mesh.parent.parent / "corres" / f"{rec.name}.vts"
            raise DatasetError(
                f"{rec.mesh}: no ground-truth correspondences (expected {expected}); --method fmap-supervised "
                f"needs a .vts file for every training shape, or train with --method fmap-unsupervised"
            )


def check_eigenpairs(item: Any, k: int) -> None:
    """DatasetError when shape ``item`` has fewer than ``k`` eigenpairs (a mesh of fewer vertices)."""
    evecs = item.ops.evecs
    have = 0 if evecs is None else int(evecs.shape[1])
    if have < k:
        raise DatasetError(
            f"{item.name}: {have} eigenpairs ({item.shape.n_verts} vertices), but the functional maps use "
            f"--fmap-k {k}; lower --fmap-k below {max(have, 1)} or leave this shape out of the dataset"
        )


def _vts(item: Any) -> np.ndarray | None:
    v = item.targets.get("vts")
    return None if v is None else np.asarray(v, dtype=np.int64)


def pair_error(C: torch.Tensor, ops_a: Any, ops_b: Any, vts_a: np.ndarray, vts_b: np.ndarray) -> float:
    """Mean error of the pointwise map of ``C : (K, K)`` at the template points: distance on A
    between where point t of B is sent and the true ``vts_a[t]``, over sqrt(area of A)."""
    from ..correspondence import fmap_to_pointwise

    k = C.shape[0]
    T = fmap_to_pointwise(C, ops_a.evecs[:, :k].to(C.dtype), ops_b.evecs[:, :k].to(C.dtype))
    ia = torch.as_tensor(vts_a, device=T.device)
    ib = torch.as_tensor(vts_b, device=T.device)
    X = ops_a.verts.double()
    err = (X[T[ib]] - X[ia]).norm(dim=1)
    return float(err.mean() / ops_a.mass.double().sum().sqrt())


class FmapSteps:
    """The pairs, steps and validation of a functional-map run (see the module docstring).

    Parameters
    ----------
    config : TrainConfig
    info : DistInfo
    full : MeshDataset
        The training split; ``train_idx`` and ``val_idx`` index it.
    train_idx, val_idx : sequences of int
    n_workers : int
        DataLoader worker processes.
    """

    def __init__(self, config: TrainConfig, info: DistInfo, full: Any, train_idx, val_idx, n_workers: int) -> None:
        self.config, self.info, self.device = config, info, info.device
        if config.amp and info.device.type == "cuda":
            log.warning("--amp is not used by functional-map runs (the solver needs float32); training in float32")
        self.supervised = config.method == "fmap-supervised"
        if self.supervised:
            check_ground_truth([full.split.records[i] for i in train_idx])
        for i in range(len(full)):  # a mesh of V vertices has at most V eigenpairs
            entry = full.index[i]
            if entry.n_verts < config.fmap_k:
                raise DatasetError(
                    f"{full.split.records[i].mesh}: {entry.n_verts} vertices, fewer than the --fmap-k {config.fmap_k} "
                    f"eigenpairs of the functional maps; lower --fmap-k below {entry.n_verts} or leave this shape out"
                )
        self.loss = fmap_loss(config)
        train_set = torch.utils.data.Subset(full, list(train_idx))
        n_pairs = config.steps_per_epoch * config.batch_size if config.steps_per_epoch else len(train_set)
        self.sampler = PairSampler(len(train_set), n_pairs, config.seed, info.rank, info.world)
        local = config.batch_size // info.world
        self.train_loader = make_loader(train_set, batch_size=2 * local, sampler=self.sampler, workers=n_workers,
                                        device=self.device)
        val_set = torch.utils.data.Subset(full, list(val_idx))
        pairs = validation_pairs(len(val_set))[info.rank :: info.world]
        self.val_loader = None
        if len(validation_pairs(len(val_set))):
            self.val_loader = make_loader(val_set, batch_size=2 * local, sampler=pairs.reshape(-1).tolist(),
                                          workers=min(n_workers, len(val_set)), device=self.device)

    def picture(self) -> None:
        """No picture of a shape in the run log (the per-vertex tasks draw one)."""
        return None

    # ------------------------------------------------------------------ pairs -> maps
    def _inputs(self, item: Any) -> tuple[torch.Tensor, Any]:
        check_eigenpairs(item, self.config.fmap_k)
        ops = item.ops.to(self.device)
        return input_features(ops, self.config.inputs), ops

    def _corr(self, a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor]:
        va, vb = _vts(a), _vts(b)
        for item, v in ((a, va), (b, vb)):
            if v is None:
                raise DatasetError(f"{item.name}: no ground-truth correspondences (.vts) for --method fmap-supervised")
        if va.size != vb.size:
            raise DatasetError(
                f"{a.name} and {b.name}: {va.size} and {vb.size} template points in their .vts files; "
                "the correspondences must refer to the same template points"
            )
        return torch.as_tensor(va, device=self.device), torch.as_tensor(vb, device=self.device)

    def maps(self, model: torch.nn.Module, pairs: list[tuple], *, corr: bool | None = None):
        """(PairMaps, torch operators of A and B) of a list of item pairs."""
        a = [self._inputs(p[0]) for p in pairs]
        b = [self._inputs(p[1]) for p in pairs]
        want = self.supervised if corr is None else corr
        gt = [self._corr(p[0], p[1]) for p in pairs] if want else None
        maps = model([x for x, _ in a], [o for _, o in a], [x for x, _ in b], [o for _, o in b], corr=gt)
        return maps, [o for _, o in a], [o for _, o in b]

    # ------------------------------------------------------------------ training
    def train_epoch(self, model: torch.nn.Module, opt: torch.optim.Optimizer, scaler: Any, epoch: int) -> dict[str, float]:
        """One epoch of steps; the record's ``train_loss`` and ``train_<term>`` (means over pairs)."""
        cfg = self.config
        self.sampler.set_epoch(epoch)
        model.train()
        sums: dict[str, float] = {}
        total, n_local = 0.0, 0
        for step, chunk in enumerate(self.train_loader):
            pairs = as_pairs(chunk)
            rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, epoch, step]))
            torch.manual_seed(int(rng.integers(2**62)))
            opt.zero_grad(set_to_none=True)
            maps, _, _ = self.maps(model, pairs)
            loss, terms = self.loss(maps)
            (scaler.scale(loss) if scaler else loss).backward()
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            total += float(loss.detach()) * len(pairs)
            for name, v in terms.items():
                sums[name] = sums.get(name, 0.0) + v * len(pairs)
            n_local += len(pairs)
        names = [t.name for t in self.loss.losses if t.weight]
        reduced = all_reduce_sum([total, n_local] + [sums.get(n, 0.0) for n in names], self.info)
        n = max(reduced[1], 1)
        record = {"train_loss": reduced[0] / n}
        record.update({f"train_{name}": v / n for name, v in zip(names, reduced[2:])})
        return record

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self, net: torch.nn.Module) -> tuple[dict[str, float], float | None]:
        """(``val_loss``, ``val_<term>``, ``val_error``, ``val_error_soft`` where ground truth
        exists; the checkpoint score), or ({}, None) without validation pairs."""
        if self.val_loader is None:
            return {}, None
        net.eval()
        names = [t.name for t in self.loss.losses if t.weight]
        total, n, err, err_soft, n_gt = 0.0, 0, 0.0, 0.0, 0
        sums = dict.fromkeys(names, 0.0)
        for chunk in self.val_loader:
            for a, b in as_pairs(chunk):
                maps, (oa,), (ob,) = self.maps(net, [(a, b)])
                loss, terms = self.loss(maps)
                total += float(loss)
                for name in names:
                    sums[name] += terms.get(name, 0.0)
                n += 1
                va, vb = _vts(a), _vts(b)
                if va is not None and vb is not None and va.size == vb.size:
                    err += pair_error(maps.C_ab[0].float(), oa, ob, va, vb)
                    err_soft += pair_error(maps.C_ab_soft[0].float(), oa, ob, va, vb)
                    n_gt += 1
        out = all_reduce_sum([total, n, err, err_soft, n_gt] + [sums[k] for k in names], self.info)
        total, n, err, err_soft, n_gt = out[:5]
        record = {"val_loss": total / max(n, 1)}
        record.update({f"val_{name}": v / max(n, 1) for name, v in zip(names, out[5:])})
        if n_gt and n_gt == n:
            record["val_error"] = err / n_gt
            record["val_error_soft"] = err_soft / n_gt
            return record, -record["val_error"]
        return record, -record["val_loss"]

