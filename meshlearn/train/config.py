"""TrainConfig: every option of a training run, stored with each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["TrainConfig", "TASKS", "MODELS", "INPUTS"]

TASKS = ("segmentation", "correspondence")
#: CLI name -> class name in meshlearn.nets
MODELS = {"diffusionnet": "DiffusionNet", "gem": "GemCNN", "cheb": "ChebNet", "patch": "PatchConvNet"}
INPUTS = ("xyz", "hks")
AUGMENT = ("y", "so3", "none")
NORMALIZE = ("radius", "area", None)


@dataclass
class TrainConfig:
    """Options of :func:`meshlearn.train.fit`.

    Parameters
    ----------
    task : {"segmentation", "correspondence"}
        Per-vertex part labels, or the template point of every vertex (classification over the
        template's vertices).
    data : str
        Dataset folder (see :func:`meshlearn.datasets.read_dataset`).
    out : str
        Run folder: checkpoints, ``metrics.jsonl``, ``config.json``, ``cache/``.
    model : {"diffusionnet", "gem", "cheb", "patch"}
        default: "diffusionnet"
    epochs : int
        default: 30
    lr : float
        Adam learning rate, decayed by half every ``lr_step`` epochs. default: 1e-3
    lr_step : int
        default: 20
    weight_decay : float
        default: 0.0
    batch_size : int
        Shapes per optimiser step (the global batch across processes). default: 1
    width, n_blocks : int
        Network channels and depth. default: 64, 4
    dropout : float
        default: 0.1
    k : int
        Eigenpairs for spectral nets. default: 128
    eigen_coarse : int
        0: exact eigenpairs. N > 0: approximate ones for shapes of more than 2 N vertices, from a
        copy simplified to about N vertices (``OperatorSpec.eigen_coarse``). default: 0
    inputs : {"xyz", "hks"}
        Input features. default: "xyz"
    augment : {"y", "so3", "none"}
        Random rotation about the vertical (y) axis, about any axis, or none (rotation matters
        only for xyz inputs), plus a random scale in [0.9, 1.1]. default: "y"
    val_fraction : float
        Fraction of the training shapes held out to choose the best checkpoint: a random draw
        seeded by ``seed``, stratified by class or source folder where the layout has them
        (:func:`meshlearn.datasets.validation_split`; the names go to ``<out>/splits.json``);
        0 chooses by training loss. default: 0.1
    seed : int
        default: 0
    device : str
        default: "cpu"
    workers : int
        Processes computing operators before training (rank 0 only). default: 1
    threads : int
        CPU threads for torch in each process; 0 leaves torch's default (under ``torchrun`` on
        CPU, 0 means one thread per process). One thread is often fastest on a busy machine.
        default: 0
    amp : bool
        Mixed precision (torch.autocast) on CUDA; ignored elsewhere. default: False
    cache : str or None
        Operator cache folder. default: ``<out>/cache``
    split_file : str or None
        JSON split file for a dataset folder without train/ and test/. default: None
    normalize : {"radius", "area"} or None
        How shapes are normalised when loaded (:func:`meshlearn.load`); the default is
        ``meshlearn preprocess``'s too, so a cache it filled is read as it is. default: "radius"
    loader_workers : int
        DataLoader worker processes reading shapes and operators; -1: 2, or 0 (read in the
        training process) for fewer than 64 shapes. default: -1
    max_resident_mb : float
        Megabytes of recently read items each process may keep in memory; 0 keeps none (every
        epoch reads the cache again). default: 0
    log_reads : bool
        Append the name of every shape each process reads to ``<out>/reads/rank<R>.txt``.
        default: False
    steps_per_epoch : int
        Optimiser steps per epoch, each on the next shuffled batch; 0 goes once through the
        training shapes. For datasets too large to pass through between checkpoints. default: 0
    """

    task: str = "segmentation"
    data: str = ""
    out: str = ""
    model: str = "diffusionnet"
    epochs: int = 30
    lr: float = 1e-3
    lr_step: int = 20
    weight_decay: float = 0.0
    batch_size: int = 1
    width: int = 64
    n_blocks: int = 4
    dropout: float = 0.1
    k: int = 128
    eigen_coarse: int = 0
    inputs: str = "xyz"
    augment: str = "y"
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"
    workers: int = 1
    threads: int = 0
    amp: bool = False
    cache: str | None = None
    split_file: str | None = None
    normalize: str | None = "radius"
    loader_workers: int = -1
    max_resident_mb: float = 0.0
    log_reads: bool = False
    steps_per_epoch: int = 0

    def __post_init__(self) -> None:
        def choice(name: str, options) -> None:
            if getattr(self, name) not in options:
                raise ConfigError(f"{name} must be one of {', '.join(options)} (got {getattr(self, name)!r})")

        choice("task", TASKS)
        choice("model", tuple(MODELS))
        choice("inputs", INPUTS)
        choice("augment", AUGMENT)
        for name in ("epochs", "batch_size", "width", "n_blocks", "k", "lr_step"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be a positive integer (got {getattr(self, name)!r})")
        if int(self.eigen_coarse) < 0:
            raise ConfigError(f"eigen_coarse must be 0 (exact) or a vertex count (got {self.eigen_coarse!r})")
        if int(self.workers) < 1:
            raise ConfigError(f"workers must be a positive integer (got {self.workers!r})")
        if int(self.threads) < 0:
            raise ConfigError(f"threads must be 0 (torch's default) or positive (got {self.threads!r})")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive (got {self.lr!r})")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must lie in [0, 1) (got {self.val_fraction!r})")
        if self.normalize not in NORMALIZE:
            raise ConfigError(f"normalize must be one of radius, area or None (got {self.normalize!r})")
        if int(self.loader_workers) < -1:
            raise ConfigError(f"loader_workers must be -1 (automatic), 0 or positive (got {self.loader_workers!r})")
        if not float(self.max_resident_mb) >= 0:
            raise ConfigError(f"max_resident_mb must be 0 (hold nothing) or positive (got {self.max_resident_mb!r})")
        if int(self.steps_per_epoch) < 0:
            raise ConfigError(f"steps_per_epoch must be 0 (the whole split) or positive (got {self.steps_per_epoch!r})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1) (got {self.dropout!r})")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown training options {unknown}; known: {sorted(names)}")
        return cls(**d)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)
