"""TrainConfig: every option of a training run, stored with each checkpoint and in the run's
``config.yaml``.

A run file is a YAML mapping of TrainConfig's option names to values, with the network's own
constructor arguments in a ``net:`` mapping::

    task: segmentation
    data: data/bodies
    out: runs/cheb
    model: cheb
    epochs: 40
    net:
      K: 8

:meth:`TrainConfig.from_file` reads one (unknown names and wrongly typed values are a
ConfigError naming the file), :meth:`TrainConfig.to_file` writes every option, so that the file
alone reproduces the run. Relative paths in a file are taken from the current folder, as on the
command line.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..io.normalize import DEFAULT_NORMALIZE

__all__ = ["TrainConfig", "TASKS", "MODELS", "MODEL_DEFAULTS", "model_defaults", "INPUTS", "METHODS", "FMAP_METHODS", "LR_SCHEDULES", "AUGMENT", "READOUTS", "LOGS", "parse_net_options", "parse_augment"]

TASKS = ("segmentation", "correspondence", "classification")
#: CLI name -> class name in meshlearn.nets
MODELS = {
    "diffusionnet": "DiffusionNet",
    "gem": "GemCNN",
    "cheb": "ChebNet",
    "patch": "PatchConvNet",
    "spectral": "SpectralFilterNet",
}
INPUTS = ("xyz", "hks", "wks")
#: correspondence methods: deep functional maps without / with ground truth, or per-vertex
#: classification over a template's vertices
METHODS = ("fmap-unsupervised", "fmap-supervised", "template")
#: the correspondence methods that train a deep functional map
FMAP_METHODS = ("fmap-unsupervised", "fmap-supervised")
#: rotations (one at most) and ``aniso``, an anisotropic scaling; combined with commas: ``so3,aniso``
AUGMENT = ("y", "so3", "none", "aniso")
#: global readouts of classification: area-weighted mean or maximum over vertices
READOUTS = ("mean", "max")
#: learning-rate schedules: halved every ``lr_step`` epochs, or a cosine down to lr / 10
LR_SCHEDULES = ("step", "cosine")
#: per task, the inputs, augmentation and descriptor channels that ``None`` stands for
TASK_DEFAULTS = {
    "segmentation": {"inputs": "xyz", "augment": "y", "n_descriptors": 16},
    "correspondence": {"inputs": "wks", "augment": "none", "method": "fmap-unsupervised", "n_descriptors": 128},
    "classification": {"inputs": "hks", "augment": "so3,aniso", "n_descriptors": 16},
}
#: per correspondence method, what ``None`` stands for; the unsupervised learning rate was chosen
#: on the synthetic FAUST-like family among 1e-3, 2e-3, 4e-3 and 8e-3 (README, "Shape
#: correspondence: deep functional maps")
METHOD_DEFAULTS = {
    "fmap-unsupervised": {"lr_schedule": "cosine", "width": 128, "lr": 2e-3},
    "fmap-supervised": {"lr_schedule": "cosine", "width": 128, "lr": 1e-3},
    "template": {"lr_schedule": "step"},
}
#: per model, what ``None`` stands for, and under a task's name what differs for that task (chosen
#: on validation shapes by ``benchmarks/tune_nets.py``; README "Results on the synthetic bodies");
#: ``net_options`` are merged under the user's. A correspondence method's defaults come first.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "diffusionnet": {"width": 64, "n_blocks": 4, "lr": 3e-3, "classification": {"lr": 1e-3}},
    "gem": {"width": 16, "n_blocks": 4, "lr": 3e-3, "classification": {"lr": 1e-3}},
    "cheb": {"width": 64, "n_blocks": 4, "lr": 1e-3},
    "patch": {"width": 32, "n_blocks": 4, "lr": 1e-3, "net_options": {"n_theta": 6}},
    "spectral": {"width": 64, "n_blocks": 4, "lr": 1e-2, "net_options": {"n_basis": 16},
                 "classification": {"lr": 1e-3}},
}
#: ``auto``: TensorBoard when the ``tb`` extra is installed, else metrics.jsonl only
LOGS = ("auto", "tensorboard", "none")
#: the key of a run file that holds ``TrainConfig.net_options``
NET_SECTION = "net"
NORMALIZE = ("radius", "area", None)


@dataclass
class TrainConfig:
    """Options of :func:`meshlearn.train.fit`.

    Parameters
    ----------
    task : {"segmentation", "correspondence", "classification"}
        Per-vertex part labels, dense correspondence between shapes (see ``method``), or one
        class per shape (the class folders of the dataset).
    data : str
        Dataset folder (see :func:`meshlearn.datasets.read_dataset`).
    out : str
        Run folder: checkpoints, ``metrics.jsonl``, ``config.yaml``, ``cache/``, TensorBoard events.
    model : {"diffusionnet", "gem", "cheb", "patch", "spectral"}
        DiffusionNet, GemCNN, ChebNet, PatchConvNet or SpectralFilterNet. default: "diffusionnet"
    net_options : dict
        Further keyword arguments of the network's constructor (``K`` of ChebNet, ``max_order``
        and ``n_samples`` of GemCNN, ``n_rho`` / ``n_theta`` of PatchConvNet, ``n_basis`` of
        SpectralFilterNet, ...), checked against its signature when the model is built; the
        ``net:`` mapping of a run file. Those of ``MODEL_DEFAULTS[model]`` fill in the names it
        lacks. default: {}
    epochs : int
        default: 30
    lr : float
        Adam learning rate, decayed by ``lr_schedule``. default (None): the model's
        (``MODEL_DEFAULTS``); for the functional-map methods of correspondence the method's
        (``METHOD_DEFAULTS``: 2e-3 unsupervised, twice ULRSSM's, and 1e-3 supervised)
    lr_step : int
        Epochs between halvings of the learning rate (``lr_schedule="step"``). default: 20
    lr_schedule : {"step", "cosine"}
        ``step``: halved every ``lr_step`` epochs; ``cosine``: a cosine from ``lr`` down to
        ``lr / 10`` over ``epochs`` (ULRSSM's schedule). default (None): "step", for the
        functional-map methods of correspondence "cosine"
    weight_decay : float
        default: 0.0
    batch_size : int
        Shapes per optimiser step (the global batch across processes). default: 1
    width : int
        Network channels. default (None): the model's (``MODEL_DEFAULTS``), for the functional-map
        methods of correspondence 128 (as ULRSSM's DiffusionNet)
    n_blocks : int
        Network depth. default (None): the model's (``MODEL_DEFAULTS``)
    dropout : float
        default: 0.1
    k : int
        Eigenpairs for spectral nets. default: 128
    eigen_coarse : int
        0: exact eigenpairs. N > 0: approximate ones for shapes of more than 2 N vertices, from a
        copy simplified to about N vertices (``OperatorSpec.eigen_coarse``). default: 0
    inputs : {"xyz", "hks", "wks"}
        Input features. default (None): "xyz", for classification "hks" (shapes of a class
        come in any orientation, and HKS does not see it), for correspondence "wks" (intrinsic:
        the maps do not change when a shape is moved)
    n_descriptors : int
        HKS times / WKS energies of ``hks`` / ``wks`` inputs (``OperatorSpec.n_hks``,
        ``n_wks``). default (None): 16, for correspondence 128 (as ULRSSM)
    augment : str
        For xyz inputs: a random rotation about the vertical (``y``) axis, about any axis
        (``so3``) or none (``none``), plus a random scale in [0.9, 1.1]; ``aniso`` adds a random
        anisotropic scaling (each axis of a random frame by a factor in [0.8, 1.25]). Combine
        with commas, e.g. ``so3,aniso``. HKS inputs are computed on the shape as it is and never
        augmented. default (None): "y", for classification "so3,aniso"
    readout : {"mean", "max"}
        Classification: the per-vertex logits pooled to one vector per shape by their
        area-weighted mean or their maximum. default: "mean"
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
    log : {"auto", "tensorboard", "none"}
        TensorBoard event files in the run folder beside ``metrics.jsonl`` (losses, metrics,
        learning rate, pictures); ``auto`` writes them when the ``tb`` extra is installed.
        default: "auto"
    image_every : int
        With TensorBoard, a picture of one validation shape's predictions every this many
        epochs (and after the last); 0: none. default: 5
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
    method : {"fmap-unsupervised", "fmap-supervised", "template"}
        Correspondence only: a deep functional map trained on random pairs without ground truth
        (ULRSSM's losses) or against the pairs' ground truth (``.vts``), or per-vertex
        classification over a template's vertices. default (None): "fmap-unsupervised"
    fmap_k : int
        Eigenpairs of the functional maps (separate from the net's ``k``). default: 50
    fmap_dim : int
        Descriptor channels the feature network puts out for the functional maps. default: 256
    fmap_options : dict
        Further settings of the functional-map model (solver, soft maps, loss weights; see
        :mod:`meshlearn.train.fmap_model`); the ``fmap_options:`` mapping of a run file.
        default: {}
    """

    task: str = "segmentation"
    data: str = ""
    out: str = ""
    model: str = "diffusionnet"
    epochs: int = 30
    lr: float | None = None
    lr_step: int = 20
    lr_schedule: str | None = None
    weight_decay: float = 0.0
    batch_size: int = 1
    width: int | None = None
    n_blocks: int | None = None
    dropout: float = 0.1
    k: int = 128
    eigen_coarse: int = 0
    inputs: str | None = None
    n_descriptors: int | None = None
    augment: str | None = None
    readout: str = "mean"
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"
    workers: int = 1
    threads: int = 0
    amp: bool = False
    cache: str | None = None
    split_file: str | None = None
    net_options: dict[str, Any] = field(default_factory=dict)
    log: str = "auto"
    image_every: int = 5
    normalize: str | None = DEFAULT_NORMALIZE
    loader_workers: int = -1
    max_resident_mb: float = 0.0
    log_reads: bool = False
    steps_per_epoch: int = 0
    method: str | None = None
    fmap_k: int = 50
    fmap_dim: int = 256
    fmap_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def choice(name: str, options) -> None:
            if getattr(self, name) not in options:
                raise ConfigError(f"{name} must be one of {', '.join(options)} (got {getattr(self, name)!r})")

        choice("task", TASKS)
        for name, value in TASK_DEFAULTS[self.task].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        choice("model", tuple(MODELS))
        choice("inputs", INPUTS)
        if self.task == "correspondence":
            choice("method", METHODS)
        for name, value in METHOD_DEFAULTS.get(self.method or "", {}).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if not isinstance(self.net_options, Mapping) or not all(isinstance(k, str) for k in self.net_options):
            raise ConfigError(f"net_options must map argument names to values (got {self.net_options!r})")
        for name, value in model_defaults(self.model, self.task).items():
            if name == "net_options":
                self.net_options = {**value, **self.net_options}
            elif getattr(self, name) is None:
                setattr(self, name, value)
        if self.lr_schedule is None:
            self.lr_schedule = "step"
        choice("lr_schedule", LR_SCHEDULES)
        if self.task != "correspondence" and self.method is not None:
            raise ConfigError(f"method is an option of --task correspondence only (got {self.method!r} for {self.task})")
        if not isinstance(self.fmap_options, Mapping) or not all(isinstance(k, str) for k in self.fmap_options):
            raise ConfigError(f"fmap_options must map option names to values (got {self.fmap_options!r})")
        self.fmap_options = dict(self.fmap_options)
        self.augment = ",".join(parse_augment(self.augment))
        choice("readout", READOUTS)
        choice("log", LOGS)
        self.net_options = dict(self.net_options)
        if int(self.image_every) < 0:
            raise ConfigError(f"image_every must be 0 (no pictures) or a number of epochs (got {self.image_every!r})")
        for name in ("epochs", "batch_size", "width", "n_blocks", "k", "lr_step", "fmap_k", "fmap_dim", "n_descriptors"):
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
        if isinstance(self.normalize, str) and self.normalize.lower() == "none":  # the flag's spelling
            self.normalize = None
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
        """Every option as plain values (what checkpoints store)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str | None = None) -> "TrainConfig":
        """The config of ``d`` (option name -> value); options it lacks take their defaults.

        Values are checked against the options' types (an int where a float is expected is taken,
        a string such as ``"1e-3"`` for a float is parsed); ``source`` names the file in errors.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"{_where(source)}expected a mapping of option names to values (got {type(d).__name__})")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in d:
            if key not in fields:
                raise ConfigError(_unknown(str(key), sorted(fields), source))
        values = {k: _coerce(k, v, fields[k].type, source) for k, v in d.items()}
        if source is None:
            return cls(**values)
        try:
            return cls(**values)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> "TrainConfig":
        """Read a YAML run file; ``overrides`` (option name -> value, e.g. command-line flags)
        replace what the file says, and ``overrides["net_options"]`` is merged into its ``net:``.

        Raises ConfigError for a missing or unparsable file, an unknown option (naming the closest
        valid one) or a value of the wrong type.
        """
        import yaml

        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such run file") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the run file ({e})") from e
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from e
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of option names to values (got a YAML {type(raw).__name__})")
        valid = sorted([n for n in cls.field_names() if n != "net_options"] + [NET_SECTION])
        d: dict[str, Any] = {}
        for key, value in raw.items():
            if not isinstance(key, str) or key not in valid:
                raise ConfigError(_unknown(str(key), valid, str(path)))
            d["net_options" if key == NET_SECTION else key] = value
        if d.get("net_options") is None:
            d["net_options"] = {}
        if not isinstance(d["net_options"], dict):
            raise ConfigError(f"{path}: `{NET_SECTION}:` must be a mapping of the network's argument names to values "
                              f"(got {d['net_options']!r})")
        overrides = dict(overrides or {})
        if "net_options" in overrides:
            d["net_options"] = {**d["net_options"], **overrides.pop("net_options")}
        d.update(overrides)
        return cls.from_dict(d, source=str(path))

    def to_yaml(self) -> str:
        """Every option as a YAML run file (the network's arguments under ``net:``)."""
        import yaml

        d = self.to_dict()
        net = d.pop("net_options")
        d[NET_SECTION] = net
        buf = io.StringIO()
        buf.write("# meshlearn training run: `meshlearn train --config THIS_FILE` repeats it\n")
        yaml.safe_dump(d, buf, sort_keys=False, default_flow_style=False)
        return buf.getvalue()

    def to_file(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_yaml` to ``path`` atomically; returns the path."""
        from ..cache import atomic_write_bytes

        path = Path(path)
        atomic_write_bytes(path, self.to_yaml().encode())
        return path

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def model_defaults(model: str, task: str) -> dict[str, Any]:
    """What ``None`` stands for with ``model`` on ``task`` (``MODEL_DEFAULTS``: the model's, with the
    task's own entries over them); a KeyError for an unknown model."""
    entry = MODEL_DEFAULTS[model]
    out = {k: v for k, v in entry.items() if k not in TASKS}
    out.update(entry.get(task, {}))
    return out


def parse_net_options(items: list[str] | tuple[str, ...], flag: str = "--net-option") -> dict[str, Any]:
    """``["K=8", "band_limit=null"]`` -> ``{"K": 8, "band_limit": None}``: values are YAML scalars
    (ints, floats, true/false, null, strings; ``[1, 2]`` for a list); ``flag`` names the option in errors."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ConfigError(f"{flag} expects NAME=VALUE, e.g. {flag} K=8 (got {item!r})")
        try:
            out[name] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"{flag} {item!r}: the value is not a YAML scalar ({e})") from e
    return out


def parse_augment(text: str) -> tuple[str, ...]:
    """``"so3,aniso"`` -> ``("so3", "aniso")``: the augmentations named (see ``TrainConfig.augment``);
    ConfigError for an unknown name or two rotations."""
    parts = tuple(p.strip() for p in str(text).split(",") if p.strip())
    bad = [p for p in parts if p not in AUGMENT]
    if bad or not parts:
        raise ConfigError(f"augment must be one of {', '.join(AUGMENT)} or several joined by commas, e.g. so3,aniso "
                          f"(got {text!r})")
    rotations = [p for p in parts if p in ("y", "so3", "none")]
    if len(rotations) > 1:
        raise ConfigError(f"augment names two rotations ({', '.join(rotations)}); choose one of y, so3, none")
    return parts


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def _unknown(key: str, valid: list[str], source: str | None) -> str:
    close = [NET_SECTION] if key == "net_options" else difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{_where(source)}unknown training option {key!r}{hint}; valid options: {', '.join(valid)}"


_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def _coerce(name: str, value: Any, annotation: Any, source: str | None) -> Any:
    """``value`` as the type the field ``name`` declares (annotations are strings here)."""
    text = str(annotation).replace(" ", "")
    optional = text.endswith("|None")
    base = text.removesuffix("|None")
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{_where(source)}{name} needs a value (got null)")
    if base.startswith("dict"):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_where(source)}{name} must be a mapping (got {value!r})")
        return dict(value)
    kind = _TYPES.get(base)
    if kind is None:
        return value
    bad = ConfigError(f"{_where(source)}{name} must be {'an' if kind is int else 'a'} {base} (got {value!r})")
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if isinstance(value, bool):
        raise bad
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if kind is float:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad from None
        raise bad
    if isinstance(value, (str, os.PathLike)):
        return str(value)
    if isinstance(value, (int, float)):  # e.g. a folder named 2024; choices are checked afterwards
        return str(value)
    raise bad
