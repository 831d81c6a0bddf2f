"""From a run's options to its datasets and the DataLoaders that feed training and evaluation.

Every process builds the index of the training split (shape and target files, no operators);
rank 0 first makes sure the cache holds every shape's operators, computing the missing ones. A
:class:`torch.utils.data.DataLoader` then reads the shapes of each batch (``loader_workers``
processes with ``prefetch_factor`` batches each in flight, pinned memory on CUDA) and the
training step moves them to its device one at a time. Under DDP the sampler gives each rank its
own shard of every epoch, so a rank reads only its shard's operators.

A cache filled by ``meshlearn preprocess`` records in its manifest how the shapes were loaded
(``clean``, ``normalize``); when that differs from how training loads them, the cache keys cannot
match and every operator would be computed again, so :func:`check_cache_recipe` says so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..datasets import MeshDataset, collate_items, read_dataset
from .config import TrainConfig
from .model import operator_spec

__all__ = ["make_dataset", "make_loader", "loader_workers", "check_cache_recipe", "cache_folder", "AUTO_WORKERS_MIN"]

log = logging.getLogger(__name__)

#: Below this many shapes, ``loader_workers=-1`` reads in the training process (starting worker
#: processes would cost more than they save).
AUTO_WORKERS_MIN = 64


def cache_folder(config: TrainConfig) -> Path:
    """The run's operator cache: ``config.cache``, else ``<out>/cache``."""
    return Path(config.cache) if config.cache else Path(config.out) / "cache"


def check_cache_recipe(cache: str | os.PathLike, normalize: str | None, clean: bool = False) -> str | None:
    """A warning when ``cache``'s preprocessing manifest says its shapes were loaded otherwise
    than with ``clean`` and ``normalize`` (their operators would not be found); None when they
    agree or the cache has no manifest (or one from before these fields were recorded)."""
    from ..preprocess import MANIFEST_NAME, latest_by_source, read_manifest

    path = Path(cache) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        latest = latest_by_source(read_manifest(path))
    except Exception as e:  # noqa: BLE001 - a damaged manifest must not stop training
        return f"{path}: unreadable ({e}); cannot check how the cache was made"
    made = {(r.get("clean"), r.get("normalize")) for r in latest.values() if r.get("status") != "failed" and "normalize" in r}
    if not made or made == {(bool(clean), normalize)}:
        return None
    recipe = ", ".join(sorted(f"clean={c} normalize={n}" for c, n in made))
    return (
        f"{cache} was preprocessed with {recipe}, but training loads shapes with clean={bool(clean)} "
        f"normalize={normalize}: no cache entry will match and every operator is computed again. "
        f"Preprocess with `meshlearn preprocess DATA --out {cache} --normalize {normalize or 'none'}` "
        f"(without --clean), or train with --normalize set as the cache was made"
    )


def make_dataset(
    config: TrainConfig,
    split: str,
    *,
    progress: bool = False,
    workers: int = 1,
    precompute: bool = True,
    read_log: str | os.PathLike | None = None,
) -> MeshDataset:
    """The streaming dataset of ``split`` ("train" or "test") of the run's data folder."""
    parts = read_dataset(config.data, split_file=config.split_file)
    return MeshDataset(
        parts[split], operator_spec(config), cache=cache_folder(config), progress=progress, workers=workers,
        normalize=config.normalize, max_resident_bytes=int(config.max_resident_mb * 2**20), precompute=precompute,
        read_log=read_log,
    )


def loader_workers(config: TrainConfig, n_shapes: int) -> int:
    """The DataLoader worker count of ``config`` for a set of ``n_shapes`` shapes."""
    if config.loader_workers >= 0:
        return int(config.loader_workers)
    return 0 if n_shapes < AUTO_WORKERS_MIN else 2


def _init_worker(_: int) -> None:
    torch.set_num_threads(1)  # a reader parses files; its threads would only compete with training


def make_loader(
    dataset: Any,
    *,
    batch_size: int,
    sampler: Any = None,
    workers: int = 0,
    device: torch.device = torch.device("cpu"),
    prefetch: int = 2,
) -> torch.utils.data.DataLoader:
    """A DataLoader of lists of items (:func:`~meshlearn.datasets.collate_items`) in ``sampler``'s
    order (the dataset's order without one), read by ``workers`` processes."""
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs.update(persistent_workers=True, prefetch_factor=prefetch, worker_init_fn=_init_worker)
        checks = torch.sparse.check_sparse_tensor_invariants
        if not checks.is_enabled():
            # sparse operators arrive from the workers through shared memory; say explicitly that
            # they are trusted unchecked (torch's default), which torch otherwise warns about
            checks.disable()
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, shuffle=False, collate_fn=collate_items,
        num_workers=workers, pin_memory=device.type == "cuda", drop_last=False, **kwargs,
    )
