"""fit(): train a segmentation or correspondence network, with checkpoints, resume and DDP.

Determinism: the shuffling of epoch e is ``torch.randperm`` seeded with ``seed + e`` (as
DistributedSampler does), and the augmentation and dropout of shape i in epoch e draw from
generators seeded with ``(seed, e, i)``. So a run is reproducible on CPU, a resumed run continues
exactly where the killed one stopped (the model, optimiser, scheduler and RNG states are in
``last.pt``), and N processes with a global batch B compute the same gradients as one process
with batch B (up to floating-point summation order). When the number of training shapes is not
a multiple of N, DistributedSampler repeats the first few shapes of each epoch to even the shares.

Data: the training split is streamed (:mod:`meshlearn.train.loader`): a DataLoader reads each
batch's shapes and operators from the cache (worker processes, prefetching, pinned memory on
CUDA), each rank reads only its shard of every epoch, and a batch is a list of shapes of any sizes
(no padding), stepped through one shape at a time with the gradients accumulated. The validation
shapes are a seeded random draw from the training split, stratified by class or source folder
(:func:`meshlearn.datasets.validation_split`); ``<out>/splits.json`` names the train, val and test
shapes. Each rank scores its own share of the validation shapes and the sums are reduced.

Targets: ``segmentation`` trains per-vertex cross-entropy on part labels; ``correspondence``
(``--method template``) trains per-vertex cross-entropy over the template's vertices (vertices
without a known template point are ignored); ``classification`` trains cross-entropy on one logit vector per shape (the
net's global readout of its per-vertex logits) against the shape's class. The classes, and the
number of segmentation classes, come from every split of the dataset
(:mod:`meshlearn.train.classes`); the class names go to ``RUN/classes.json``. These are
``--method template`` for correspondence; its functional-map methods (the default) train a deep
functional map on random pairs of training shapes instead (:mod:`meshlearn.train.fmap_step`,
:mod:`meshlearn.train.pairs`), through the same epochs, checkpoints, resume, DDP and metrics.

Learning rate: Adam, halved every ``lr_step`` epochs or on a cosine down to ``lr / 10``
(``lr_schedule``, :func:`make_scheduler`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as Fn
from threadpoolctl import threadpool_limits

from ..datasets import read_dataset, validation_split
from ..errors import ConfigError, DatasetError
from .classes import class_map_of, dataset_classes, segmentation_class_count, write_classes
from .checkpoint import config_of, load_checkpoint, load_model_state, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .fmap_model import build_fmap_model, fmap_settings, is_fmap_run
from .fmap_step import FmapSteps
from .distributed import DistInfo, all_reduce_sum, barrier, init_distributed, shutdown_distributed
from .loader import cache_folder, check_cache_recipe, loader_workers, make_dataset, make_loader
from .model import build_model, check_net_options, in_channels, input_features, operator_spec
from .run_log import open_run_log

__all__ = ["fit", "FitResult", "load_datasets", "target_of", "forward_logits", "as_rows", "make_scheduler"]

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What :func:`fit` leaves behind: the run folder, the trained model and per-epoch metrics."""

    out: Path
    model: torch.nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)


def as_rows(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and targets as rows for cross-entropy: a shape's global logits (C,) and class ()
    become (1, C) and (1,); per-vertex ones (V, C) and (V,) stay."""
    if logits.dim() == 1:
        return logits[None], y.reshape(1)
    return logits, y


def target_of(task: str, targets: dict[str, Any], source: str, class_map: np.ndarray | None = None) -> np.ndarray:
    """The training target of ``task``: per-vertex labels, per-vertex template vertices (-1
    unknown), or for classification the run's index of the shape's class, ``class_map[i]`` for the
    split's class i (:func:`meshlearn.train.classes.class_map_of`)."""
    if task == "classification":
        if "class_label" not in targets or class_map is None:
            raise DatasetError(f"{source}: has no class label; classification needs <class>/<name> folders")
        return np.asarray(class_map[int(targets["class_label"])], dtype=np.int64)
    key = "labels" if task == "segmentation" else "template_vertex"
    if key not in targets:
        what = "per-vertex or per-face labels" if task == "segmentation" else "correspondences to a template"
        raise DatasetError(f"{source}: has no {what}; it cannot be used for {task}")
    return targets[key]


def load_datasets(
    config: TrainConfig, *, progress: bool = False, splits: tuple[str, ...] = ("train", "test"), workers: int = 1
):
    """The run's datasets (streamed from its cache, operators computed first where missing):
    dict split name -> MeshDataset."""
    return {s: make_dataset(config, s, progress=progress, workers=workers) for s in splits}


def forward_logits(net: torch.nn.Module, ops_t: Any, x: torch.Tensor, amp: bool) -> torch.Tensor:
    """Per-vertex logits (V, C) as float32, under CUDA autocast when ``amp``."""
    device_type = x.device.type
    ctx = torch.autocast(device_type="cuda", dtype=torch.float16) if amp and device_type == "cuda" else contextlib.nullcontext()
    with ctx:
        y = net(x, ops_t)
    return y.float()


def _sample_seed(seed: int, epoch: int, index: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, epoch, index])


def _on_device(item, config: TrainConfig, device: torch.device, class_map: np.ndarray | None = None):
    """(torch operators, target) of a batch item, on ``device``."""
    ops = item.ops.to(device)
    y = torch.as_tensor(target_of(config.task, item.targets, item.name, class_map), device=device)
    return ops, y


def _evaluate_loss(net, loader, config: TrainConfig, amp: bool, device, info: DistInfo,
                   seen: list | None = None, class_map: np.ndarray | None = None) -> tuple[float, float]:
    """Mean validation loss and vertex accuracy, each rank scoring its share (sums reduced).

    ``seen``, when given and empty, receives (torch operators, targets, name) of the first shape
    scored (the run log's picture, without reading a shape once more)."""
    net.eval()
    total_loss, correct, count, n = 0.0, 0, 0, 0
    with torch.no_grad():
        for batch in loader:
            for item in batch:
                ops_t, y = _on_device(item, config, device, class_map)
                if seen is not None and not seen:
                    seen.append((ops_t, y, item.name))
                logits, y = as_rows(forward_logits(net, ops_t, input_features(ops_t, config.inputs), amp), y)
                total_loss += float(Fn.cross_entropy(logits, y, ignore_index=-1))
                known = y >= 0
                correct += int((logits.argmax(1)[known] == y[known]).sum())
                count += int(known.sum())
                n += 1
    total_loss, correct, count, n = all_reduce_sum([total_loss, correct, count, n], info)
    return total_loss / max(n, 1), correct / max(count, 1)


def _write_splits(out: Path, config: TrainConfig, full, train_idx, val_idx) -> None:
    """``<out>/splits.json``: the names of the train, val and test shapes and how val was drawn."""
    from ..datasets import stratum_of

    names = full.names()
    try:
        test = [r.name for r in read_dataset(config.data, split_file=config.split_file)["test"].records]
    except DatasetError:
        test = []
    strata = sorted({stratum_of(r, full.split.layout) for r in full.split.records} - {""})
    doc = {
        "train": [names[i] for i in train_idx],
        "val": [names[i] for i in val_idx],
        "test": test,
        "val_fraction": config.val_fraction,
        "seed": config.seed,
        "stratified_by": ("class" if full.split.layout == "classes" else "source folder") if strata else None,
        "strata": strata,
    }
    tmp = out / "splits.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(out / "splits.json")


def fit(
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[int, dict[str, Any]], None] | None = None,
) -> FitResult:
    """Train the network ``config`` describes; write checkpoints and metrics to ``config.out``.

    Parameters
    ----------
    config : TrainConfig
    resume : bool
        Continue from ``<out>/last.pt`` (its config is used; ``epochs`` and ``device`` may grow /
        change). A finished run resumed with more epochs trains the extra ones.
    progress : bool
        Progress bars (rank 0 only).
    callback : callable, optional
        ``callback(epoch, metrics)`` after each epoch's checkpoint is written (epochs count from 1).

    Returns
    -------
    FitResult
    """
    out = Path(config.out)
    if not config.out:
        raise ConfigError("no run folder given: pass --out RUN_DIR")
    check_net_options(config)
    info = init_distributed(config.device)
    threads_before = torch.get_num_threads()
    threads = config.threads or (1 if info.enabled and info.device.type == "cpu" else 0)
    if threads:
        torch.set_num_threads(threads)
    # Also bound numpy / scipy's BLAS threads (eigensolves while preprocessing): several
    # processes each spinning more threads than there are cores are many times slower.
    limit = threadpool_limits(threads) if threads else contextlib.nullcontext()
    try:
        with limit:
            return _fit(config, out, info, resume, progress, callback)
    finally:
        torch.set_num_threads(threads_before)
        shutdown_distributed(info)


def _fit(config, out: Path, info: DistInfo, resume: bool, progress: bool, callback) -> FitResult:
    from tqdm.auto import tqdm

    state = None
    if resume:
        state = load_checkpoint(out / "last.pt")
        saved = config_of(state, out / "last.pt")
        config = saved.replace(epochs=config.epochs, device=config.device, out=str(out))
    if is_fmap_run(config):  # every setting written out: config.yaml alone rebuilds the model
        config = config.replace(fmap_options=fmap_settings(config))
    device = info.device
    amp = bool(config.amp and device.type == "cuda" and not is_fmap_run(config))
    if config.batch_size % info.world:
        raise ConfigError(f"batch_size {config.batch_size} must be a multiple of the number of processes {info.world}")
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        config.to_file(out / "config.yaml")
    # Rank 0 makes sure the cache holds every operator; the others then only index the files.
    read_log = None
    if config.log_reads:
        (out / "reads").mkdir(parents=True, exist_ok=True)
        read_log = out / "reads" / f"rank{info.rank}.txt"
    if info.is_main:
        warning = check_cache_recipe(cache_folder(config), config.normalize)
        if warning:
            log.warning("%s", warning)
        full = make_dataset(config, "train", progress=progress, workers=config.workers, read_log=read_log)
    barrier(info)
    if not info.is_main:
        full = make_dataset(config, "train", precompute=False, read_log=read_log)
    spec = full.spec
    train_idx, val_idx = validation_split(full.split, config.val_fraction, config.seed)
    if info.is_main:
        _write_splits(out, config, full, train_idx, val_idx)
    names = full.names()
    meta = {
        "n_in": in_channels(config, spec),
        "spec": spec.to_dict(),
        "part_names": list(full.split.part_names),
        "template": str(full.split.template) if full.split.template else None,
        "val_names": [names[i] for i in val_idx],
        "normalize": config.normalize,
    }
    n_workers = loader_workers(config, len(full))
    if is_fmap_run(config):
        meta.update(n_out=config.fmap_dim, class_names=[], method=config.method, fmap_k=config.fmap_k)
        net = build_fmap_model(config, meta["n_in"], device)
        steps: Any = FmapSteps(config, info, full, train_idx, val_idx, n_workers)
    else:
        steps = _LabelSteps(config, info, full, train_idx, val_idx, n_workers, amp)
        meta.update(n_out=steps.n_out, class_names=list(steps.classes))
        if info.is_main and steps.classes:
            write_classes(out, steps.classes)
        net = build_model(config, meta["n_in"], steps.n_out, device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = make_scheduler(opt, config)
    scaler = torch.amp.GradScaler("cuda") if amp else None
    start, best = 0, float("-inf")
    if state is not None:
        load_model_state(net, state["model"], out / "last.pt", state.get("meshlearn_version"))
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start, best = int(state["epoch"]), float(state["best"])
        set_rng_state(state["rng"])
    model = net
    if info.enabled:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    metrics_path = out / "metrics.jsonl"
    history: list[dict[str, Any]] = []
    if info.is_main:
        history = _read_history(metrics_path, upto=start)
        metrics_path.write_text("".join(json.dumps(h) + "\n" for h in history))
    run_log = open_run_log(config, out, start=start, part_names=meta["part_names"]) if info.is_main else None
    bar = tqdm(total=config.epochs, initial=start, desc="training", unit="epoch", disable=not (progress and info.is_main))
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        record: dict[str, Any] = {"epoch": epoch + 1, **steps.train_epoch(model, opt, scaler, epoch)}
        sched.step()
        record["lr"] = opt.param_groups[0]["lr"]
        scored, score = steps.validate(net)
        record.update(scored)
        if score is None:
            score = -record["train_loss"]
        record["time_s"] = round(time.perf_counter() - t0, 3)
        if info.is_main:
            history.append(record)
            with metrics_path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            ckpt = {
                "config": config.to_dict(),
                "meta": meta,
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "scaler": scaler.state_dict() if scaler else None,
                "epoch": epoch + 1,
                "best": max(best, score),
                "rng": rng_state(),
            }
            if score > best:
                save_checkpoint(out / "best.pt", ckpt)
            save_checkpoint(out / "last.pt", ckpt)
            run_log.log_epoch(epoch + 1, record, net, steps.picture())
            bar.set_postfix(loss=f"{record['train_loss']:.3f}", score=f"{score:.3f}")
            bar.update()
        best = max(best, score)
        barrier(info)
        if callback is not None:
            callback(epoch + 1, record)
    bar.close()
    if run_log is not None:
        run_log.close()
    return FitResult(out, net, history)


def make_scheduler(opt: torch.optim.Optimizer, config: TrainConfig):
    """The learning-rate schedule of ``config.lr_schedule``: halved every ``lr_step`` epochs
    (``step``), or a cosine from ``lr`` down to ``lr / 10`` over ``epochs`` (``cosine``)."""
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs, eta_min=config.lr / 10)
    return torch.optim.lr_scheduler.StepLR(opt, step_size=config.lr_step, gamma=0.5)


class _LabelSteps:
    """Steps and validation of the cross-entropy tasks (segmentation, template correspondence,
    classification): a batch of shapes stepped through one at a time, gradients accumulated."""

    def __init__(self, config: TrainConfig, info: DistInfo, full, train_idx, val_idx, n_workers: int, amp: bool) -> None:
        from torch.utils.data.distributed import DistributedSampler

        self.config, self.info, self.device, self.amp = config, info, info.device, amp
        parts = read_dataset(config.data, split_file=config.split_file)  # every split's records, nothing loaded
        self.classes: tuple[str, ...] = ()
        self.class_map = None
        if config.task == "segmentation":  # every split's labels and the named parts count
            self.n_out = max(full.n_labels(), segmentation_class_count(parts))
        elif config.task == "classification":
            self.classes = dataset_classes(parts, config.data)
            self.class_map = class_map_of(full.split, self.classes)
            self.n_out = len(self.classes)
        else:
            self.n_out = full.n_template()
        if self.n_out < 1:
            raise DatasetError(f"{config.data}: the training shapes carry no targets for {config.task}")
        train_set = torch.utils.data.Subset(full, train_idx)
        val_set = torch.utils.data.Subset(full, val_idx[info.rank :: info.world])
        self.has_val = bool(len(val_idx))
        self.sampler = DistributedSampler(train_set, num_replicas=info.world, rank=info.rank, shuffle=True,
                                          seed=config.seed)
        local_batch = config.batch_size // info.world
        self.train_loader = make_loader(train_set, batch_size=local_batch, sampler=self.sampler, workers=n_workers,
                                        device=self.device)
        self.val_loader = make_loader(val_set, batch_size=local_batch, workers=min(n_workers, len(val_set)),
                                      device=self.device)
        # the run log's picture: the first held-out shape scored (else the first training shape of
        # the epoch), kept as it goes by so that no shape is read only for it
        self.pictured: list = []

    def picture(self):
        """(torch operators, targets, name) of the shape the run log draws, or None."""
        # pictures colour vertices; a class is one value per shape
        return self.pictured[0] if self.pictured and self.config.task != "classification" else None

    def train_epoch(self, model, opt, scaler, epoch: int) -> dict[str, float]:
        config, info, device = self.config, self.info, self.device
        self.sampler.set_epoch(epoch)
        model.train()
        loss_sum, correct, count, n_local = 0.0, 0, 0, 0
        loader = self.train_loader
        batches = itertools.islice(loader, config.steps_per_epoch) if config.steps_per_epoch else loader
        for chunk in batches:
            opt.zero_grad(set_to_none=True)
            for j, item in enumerate(chunk):
                ops_t, y = _on_device(item, config, device, self.class_map)
                if not self.has_val and not self.pictured:
                    self.pictured.append((ops_t, y, item.name))
                rng = np.random.default_rng(_sample_seed(config.seed, epoch, item.index))
                torch.manual_seed(int(rng.integers(2**62)))
                x = input_features(ops_t, config.inputs, augment=config.augment, rng=rng)
                sync = contextlib.nullcontext()
                if info.enabled and j < len(chunk) - 1:
                    sync = model.no_sync()
                with sync:
                    logits, y = as_rows(forward_logits(model, ops_t, x, self.amp), y)
                    loss = Fn.cross_entropy(logits, y, ignore_index=-1)
                    scaled = loss / len(chunk)
                    (scaler.scale(scaled) if scaler else scaled).backward()
                loss_sum += float(loss.detach())
                known = y >= 0
                correct += int((logits.detach().argmax(1)[known] == y[known]).sum())
                count += int(known.sum())
                n_local += 1
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
        loss_sum, correct, count, n_seen = all_reduce_sum([loss_sum, correct, count, n_local], info)
        return {"train_loss": loss_sum / max(n_seen, 1), "train_acc": correct / max(count, 1)}

    def validate(self, net) -> tuple[dict[str, float], float | None]:
        if not self.has_val:
            return {}, None
        loss, acc = _evaluate_loss(net, self.val_loader, self.config, self.amp, self.device, self.info,
                                   self.pictured, self.class_map)
        return {"val_loss": loss, "val_acc": acc}, acc


def _read_history(path: Path, upto: int) -> list[dict[str, Any]]:
    """Records of epochs 1..upto from an existing metrics file (a killed run may have left more)."""
    if upto <= 0 or not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if int(rec.get("epoch", 0)) <= upto:
            out.append(rec)
    return out
