"""A torch Dataset of (Shape, Operators, targets), preprocessed once through the operator cache.

Letters: V vertices, F faces, T template points.

Every shape is normalised when loaded: centred at its vertex mean and scaled so that its farthest
vertex lies at distance 1 (the factor is kept in ``shape.meta["scale"]``). Operators are computed
on the normalised shape with :func:`meshlearn.compute_operators` (through ``cache`` when given, so
a second run, or a resumed one, reads them from disk).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import DatasetError
from ..geometry.operators import OperatorSpec, Operators, compute_operators
from ..shape import Shape
from .readers import Sample, Split, load_sample

__all__ = ["Item", "MeshDataset", "normalize_shape"]

log = logging.getLogger(__name__)


def normalize_shape(shape: Shape) -> Shape:
    """``shape`` centred at its vertex mean and scaled to unit maximum radius (a new Shape)."""
    centre = shape.verts.mean(0)
    v = shape.verts - centre
    scale = float(np.linalg.norm(v, axis=1).max())
    if not scale > 0:
        raise DatasetError(f"{shape.source or shape.name}: all vertices coincide; nothing to learn from")
    meta = dict(shape.meta, centre=centre.tolist(), scale=scale)
    return shape.with_(verts=v / scale, meta=meta)


@dataclass
class Item:
    """One dataset entry.

    name : str
    shape : Shape, normalised
    ops : Operators (numpy / scipy; ``ops.to(device)`` for torch)
    targets : dict of numpy arrays
        ``labels`` (V,), ``face_labels`` (F,), ``template_vertex`` (V,) with -1 where unknown,
        ``vts`` (T,), ``sym_vts`` (T,), ``class_label`` () -- whichever the layout provides.
    """

    name: str
    shape: Shape
    ops: Operators
    targets: dict[str, Any] = field(default_factory=dict)


class MeshDataset(torch.utils.data.Dataset):
    """The shapes of a :class:`~meshlearn.datasets.readers.Split` with their operators and targets.

    Parameters
    ----------
    split : Split
        From :func:`meshlearn.datasets.read_dataset`.
    spec : OperatorSpec
        Operators to compute (e.g. ``OperatorSpec.for_net(DiffusionNet, inputs="xyz", k=128)``).
    cache : path or OperatorCache, optional
        Operator cache folder. default: None (compute in memory)
    progress : bool
        Show a progress bar while preprocessing. default: False
    workers : int
        Processes computing missing operators into ``cache`` first (one BLAS thread each);
        1 computes them in this process. default: 1

    Examples
    --------
    >>> splits = read_dataset("data/synthetic")                              # doctest: +SKIP
    >>> ds = MeshDataset(splits["train"], OperatorSpec(k=64), cache="cache")  # doctest: +SKIP
    >>> item = ds[0]; item.shape, item.ops.evecs.shape, item.targets["labels"].shape  # doctest: +SKIP
    """

    def __init__(
        self, split: Split, spec: OperatorSpec, *, cache: Any = None, progress: bool = False, workers: int = 1
    ) -> None:
        from tqdm.auto import tqdm

        self.split = split
        self.spec = spec
        self.items: list[Item] = []
        if workers > 1 and cache is not None:
            _precompute(split, spec, cache, workers, progress)
            progress = False
        for rec in tqdm(split.records, desc="preprocessing", unit="shape", disable=not progress):
            sample = load_sample(rec)
            shape = normalize_shape(sample.shape)
            ops = compute_operators(shape, spec, cache=cache)
            self.items.append(Item(rec.name, shape, ops, _targets(sample)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Item:
        return self.items[index]

    def n_labels(self) -> int:
        """One more than the largest per-vertex label (0 when the split has no labels)."""
        tops = [int(it.targets["labels"].max()) for it in self.items if "labels" in it.targets]
        return max(tops) + 1 if tops else 0

    def n_template(self) -> int:
        """Number of template points the correspondences refer to (0 when there are none)."""
        tops = [int(it.targets["template_vertex"].max()) + 1 for it in self.items if "template_vertex" in it.targets]
        tops += [int(it.targets["vts"].size) for it in self.items if "vts" in it.targets]
        return max(tops) if tops else 0


def _targets(sample: Sample) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("labels", "face_labels", "template_vertex", "vts", "sym_vts"):
        value = getattr(sample, name)
        if value is not None:
            out[name] = np.asarray(value, dtype=np.int64)
    if sample.class_label is not None:
        out["class_label"] = np.int64(sample.class_label)
    return out


def _operators_of(args: tuple) -> str:
    from threadpoolctl import threadpool_limits

    rec, spec, cache = args
    with threadpool_limits(1):
        compute_operators(normalize_shape(load_sample(rec).shape), spec, cache=cache)
    return rec.name


def _precompute(split: Split, spec: OperatorSpec, cache: Any, workers: int, progress: bool) -> None:
    """Compute the operators missing from the cache with ``workers`` processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    from ..cache import OperatorCache

    store = cache if isinstance(cache, OperatorCache) else OperatorCache(cache)
    missing = [rec for rec in split.records if not store.contains(normalize_shape(load_sample(rec).shape), spec)]
    if len(missing) < 2:  # starting processes would cost more than it saves
        return
    jobs = [(rec, spec, str(store.root)) for rec in missing]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        for _ in tqdm(pool.map(_operators_of, jobs), total=len(jobs), desc="preprocessing", unit="shape",
                      disable=not progress):
            pass
