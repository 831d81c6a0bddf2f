"""A torch Dataset of (Shape, Operators, targets) that streams its items from the operator cache.

Letters: V vertices, F faces, T template points.

What stays in memory
--------------------
A :class:`MeshDataset` keeps an index: the records (file paths), and per shape its name, vertex
and face counts and the range of its targets. ``dataset[i]`` loads shape i from its file (with
:func:`meshlearn.load`, never cleaned, normalised by ``normalize``), reads its operators from the
cache and reads its targets; nothing of it stays behind unless ``max_resident_bytes`` leaves room
for recently read items (a least-recently-used set, per process). So the memory a training run
needs does not grow with the number of shapes.

Operators missing from the cache are computed when the dataset is made (a pass over the shapes
with a progress bar, ``workers`` processes when asked), so that reading items later only reads.
Without a cache the operators are computed in memory and every item is held (small datasets only).

Batches
-------
:func:`collate_items` is the ``collate_fn`` of the :class:`torch.utils.data.DataLoader` that
training and evaluation use: a batch is a plain list of :class:`Item` (shapes of different sizes
are never padded), with each item's operators as CPU torch tensors (float32) so that the loader
can pin them; the training step moves them to its device one shape at a time.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import ConfigError
from ..geometry.operators import OperatorSpec, Operators, compute_operators
from ..shape import Shape
from .readers import DEFAULT_NORMALIZE, Record, Sample, Split, load_sample

__all__ = ["Item", "IndexEntry", "MeshDataset", "collate_items", "normalize_shape", "nbytes_of"]

log = logging.getLogger(__name__)


def normalize_shape(shape: Shape, kind: str = DEFAULT_NORMALIZE) -> Shape:
    """``shape`` normalised as dataset shapes are (:data:`DEFAULT_NORMALIZE`), a new Shape.

    Kept for older code: it is ``meshlearn.load(shape, normalize=kind)``, and returns ``shape``
    itself when ``shape.meta["normalize"]`` already says ``kind`` (as :func:`load_sample` leaves
    it), so normalising twice changes nothing.
    """
    from ..io import load

    if shape.meta.get("normalize") == kind:
        return shape
    return load(shape, normalize=kind)


def nbytes_of(value: Any) -> int:
    """Bytes held by the arrays in ``value`` (numpy, scipy.sparse, torch, and dataclasses, dicts,
    lists and tuples of them)."""
    if value is None or isinstance(value, (str, bytes, int, float, bool)):
        return 0
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, torch.Tensor):
        if value.is_sparse:
            return nbytes_of(value._indices()) + nbytes_of(value._values())
        return int(value.element_size() * value.nelement())
    if sp.issparse(value):
        return sum(int(getattr(value, a).nbytes) for a in ("data", "indices", "indptr", "row", "col") if hasattr(value, a))
    if isinstance(value, Shape):
        return nbytes_of(value.verts) + nbytes_of(value.faces)
    if is_dataclass(value):
        return sum(nbytes_of(getattr(value, f.name)) for f in fields(value))
    if isinstance(value, dict):
        return sum(nbytes_of(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes_of(v) for v in value)
    return 0


def _pinned(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        try:
            return value.pin_memory()
        except (RuntimeError, NotImplementedError):  # no accelerator, or a layout that cannot be pinned
            return value
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _pinned(getattr(value, f.name)) for f in fields(value)})
    return value


@dataclass
class Item:
    """One dataset entry.

    name : str
    shape : Shape, normalised (``shape.meta`` holds ``normalize``, ``offset``, ``scale``)
    ops : Operators, numpy / scipy as read (``ops.to(device)`` for torch), or CPU torch tensors
        in the batches of :func:`collate_items`
    targets : dict of numpy arrays
        ``labels`` (V,) with -1 where unknown, ``face_labels`` (F,), ``template_vertex`` (V,)
        with -1 where unknown, ``vts`` (T,), ``sym_vts`` (T,), ``class_label`` () -- whichever
        the layout provides.
    index : int
        Position in the dataset (seeds each shape's augmentation).
    """

    name: str
    shape: Shape
    ops: Operators
    targets: dict[str, Any] = field(default_factory=dict)
    index: int = -1

    def nbytes(self) -> int:
        """Bytes held by the item's arrays."""
        return nbytes_of(self.shape) + nbytes_of(self.ops) + nbytes_of(self.targets)

    def pin_memory(self) -> "Item":
        """The item with its torch tensors in page-locked memory (called by the DataLoader's
        ``pin_memory=True``; numpy arrays are left as they are)."""
        return replace(self, ops=_pinned(self.ops))


def collate_items(batch: list[Item]) -> list[Item]:
    """A batch as a list of items (no padding), operators converted to CPU torch tensors."""
    return [replace(it, ops=it.ops.to("cpu")) for it in batch]


@dataclass(frozen=True)
class IndexEntry:
    """What the index keeps of one shape: its name, sizes, largest label (-1 without labels)
    and the number of template points its correspondences refer to (0 without)."""

    name: str
    n_verts: int
    n_faces: int
    top_label: int = -1
    n_template: int = 0


def _entry(rec: Record, sample: Sample) -> IndexEntry:
    top = int(sample.labels.max()) if sample.labels is not None and sample.labels.size else -1
    n_t = 0
    if sample.template_vertex is not None and sample.template_vertex.size:
        n_t = int(sample.template_vertex.max()) + 1
    if sample.vts is not None:
        n_t = max(n_t, int(sample.vts.size))
    return IndexEntry(rec.name, sample.shape.n_verts, sample.shape.n_faces, top, n_t)


class MeshDataset(torch.utils.data.Dataset):
    """The shapes of a :class:`~meshlearn.datasets.readers.Split` with their operators and targets,
    read from the operator cache when an item is asked for (see the module docstring).

    Parameters
    ----------
    split : Split
        From :func:`meshlearn.datasets.read_dataset`.
    spec : OperatorSpec
        Operators to compute (e.g. ``OperatorSpec.for_net(DiffusionNet, inputs="xyz", k=128)``).
    cache : path or OperatorCache, optional
        Operator cache folder. default: None (compute in memory and hold every item)
    progress : bool
        Show a progress bar while preprocessing. default: False
    workers : int
        Processes computing missing operators into ``cache`` first (one BLAS thread each);
        1 computes them in this process. default: 1
    normalize : {"radius", "area"} or None
        How shapes are normalised when loaded (:func:`meshlearn.load`). Must match how the cache
        was filled for its entries to be found. default: :data:`DEFAULT_NORMALIZE` ("radius")
    max_resident_bytes : int
        Bytes of recently read items this dataset may keep in memory (per process: each
        DataLoader worker holds its own); 0 keeps none and every read goes to the files.
        default: 0
    precompute : bool
        Make sure every shape's operators are in the cache now (reading every entry once).
        False only builds the index (reading shape and target files, no operators), for a
        process that knows another one filled the cache. default: True
    read_log : path, optional
        A text file to which every read of an item appends its name (one line, with the process
        id), to check which process read what. default: None

    Attributes
    ----------
    index : list of IndexEntry
    resident_bytes, peak_resident_bytes : int
        Bytes of items held now and at most so far (this process).

    Examples
    --------
    >>> splits = read_dataset("data/synthetic")                              # doctest: +SKIP
    >>> ds = MeshDataset(splits["train"], OperatorSpec(k=64), cache="cache")  # doctest: +SKIP
    >>> item = ds[0]; item.shape, item.ops.evecs.shape, item.targets["labels"].shape  # doctest: +SKIP
    """

    def __init__(
        self,
        split: Split,
        spec: OperatorSpec,
        *,
        cache: Any = None,
        progress: bool = False,
        workers: int = 1,
        normalize: str | None = DEFAULT_NORMALIZE,
        max_resident_bytes: int = 0,
        precompute: bool = True,
        read_log: str | os.PathLike | None = None,
    ) -> None:
        from ..cache import OperatorCache

        if int(max_resident_bytes) < 0:
            raise ConfigError(f"max_resident_bytes must be 0 (hold nothing) or positive (got {max_resident_bytes!r})")
        self.split = split
        self.spec = spec
        self.normalize = normalize
        self.max_resident_bytes = int(max_resident_bytes)
        self.read_log = None if read_log is None else str(read_log)
        self.store = None if cache is None else (cache if isinstance(cache, OperatorCache) else OperatorCache(cache))
        self.resident_bytes = 0
        self.peak_resident_bytes = 0
        self._resident: OrderedDict[int, tuple[Item, int]] = OrderedDict()
        self._held: dict[int, Item] = {}  # without a cache: every item, computed once
        self.index: list[IndexEntry] = self._build_index(progress, workers, precompute)

    # ------------------------------------------------------------------ index
    def _build_index(self, progress: bool, workers: int, precompute: bool) -> list[IndexEntry]:
        from tqdm.auto import tqdm

        records = self.split.records
        index: list[IndexEntry] = []
        missing: list[Record] = []
        parallel = self.store is not None and precompute and workers > 1
        desc = "preprocessing" if precompute else "indexing"
        misses_before = getattr(self.store, "misses", 0)
        for i, rec in enumerate(tqdm(records, desc=desc, unit="shape", disable=not progress)):
            sample = load_sample(rec, self.normalize)
            index.append(_entry(rec, sample))
            if self.store is None:
                ops = compute_operators(sample.shape, self.spec)
                self._held[i] = Item(rec.name, sample.shape, ops, _targets(sample), i)
            elif parallel:
                if not self.store.contains(sample.shape, self.spec):
                    missing.append(rec)
            elif precompute:
                ops = compute_operators(sample.shape, self.spec, cache=self.store)
                self._remember(i, Item(rec.name, sample.shape, ops, _targets(sample), i))
        if missing:
            _precompute(missing, self.spec, self.store, self.normalize, workers, progress)
        if self.store is not None and precompute:
            computed = len(missing) + getattr(self.store, "misses", 0) - misses_before
            log.info("%s: operators of %d of %d shapes computed, the others read from the cache",
                     self.store.root, computed, len(records))
        return index

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        return len(self.split.records)

    def __getitem__(self, index: int) -> Item:
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} shapes")
        if index in self._held:
            return self._held[index]
        if index in self._resident:
            self._resident.move_to_end(index)
            return self._resident[index][0]
        rec = self.split.records[index]
        sample = load_sample(rec, self.normalize)
        ops = self.store.lookup(sample.shape, self.spec)
        if ops is None:  # removed or replaced since the dataset was made: compute it again
            log.warning("%s: operators missing from the cache %s; computing them", rec.mesh, self.store.root)
            ops = compute_operators(sample.shape, self.spec, cache=self.store)
        item = Item(rec.name, sample.shape, ops, _targets(sample), index)
        if self.read_log is not None:
            with open(self.read_log, "a") as fh:
                fh.write(f"{os.getpid()} {rec.name}\n")
        self._remember(index, item)
        return item

    def _remember(self, index: int, item: Item) -> None:
        """Keep ``item`` among the resident ones if the budget allows, evicting the oldest."""
        if self.max_resident_bytes <= 0:
            return
        size = item.nbytes()
        if size > self.max_resident_bytes:
            return
        while self._resident and self.resident_bytes + size > self.max_resident_bytes:
            _, (_, old) = self._resident.popitem(last=False)
            self.resident_bytes -= old
        self._resident[index] = (item, size)
        self.resident_bytes += size
        self.peak_resident_bytes = max(self.peak_resident_bytes, self.resident_bytes)

    def names(self) -> list[str]:
        """The shapes' names, in the dataset's order."""
        return [e.name for e in self.index]

    def n_labels(self) -> int:
        """One more than the largest per-vertex label (0 when the split has no labels)."""
        return max((e.top_label for e in self.index), default=-1) + 1

    def n_template(self) -> int:
        """Number of template points the correspondences refer to (0 when there are none)."""
        return max((e.n_template for e in self.index), default=0)

    @property
    def items(self) -> list[Item]:
        """Every item, read now (all of them in memory at once: for small datasets only)."""
        return [self[i] for i in range(len(self))]


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

    rec, spec, cache, normalize = args
    with threadpool_limits(1):
        compute_operators(load_sample(rec, normalize).shape, spec, cache=cache)
    return rec.name


def _precompute(missing: list[Record], spec: OperatorSpec, store: Any, normalize: str | None, workers: int,
                progress: bool) -> None:
    """Compute the operators of ``missing`` into the cache with ``workers`` processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    jobs = [(rec, spec, str(store.root), normalize) for rec in missing]
    if len(jobs) < 2:  # starting processes would cost more than it saves
        for job in jobs:
            _operators_of(job)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
        for _ in tqdm(pool.map(_operators_of, jobs), total=len(jobs), desc="computing operators", unit="shape",
                      disable=not progress):
            pass
