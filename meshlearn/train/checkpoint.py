"""Checkpoints: model, optimiser, scheduler, RNG states and the full config, written atomically.

A run folder holds ``last.pt`` (after every epoch) and ``best.pt`` (the epoch with the best
validation score); each is a dict with keys ``config`` (TrainConfig.to_dict()), ``meta`` (what the
model was built for: channels, labels, template size, operator spec), ``model``, ``optimizer``,
``scheduler``, ``epoch`` (epochs completed), ``best`` (best score so far), ``rng`` and
``meshlearn_version``.

Everything inside is a tensor, a plain container (dict, list, tuple) or a plain value (str, int,
float, bool, None), so a checkpoint is read with ``torch.load(weights_only=True)``: opening one
never runs code from the file. A file that holds any other pickled object is refused with a
:class:`~meshlearn.errors.CheckpointError`.
"""

from __future__ import annotations

import inspect
import io
import os
import pickle
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..cache import atomic_write_bytes
from ..errors import CheckpointError, ConfigError

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "load_model_state",
    "config_of",
    "rng_state",
    "set_rng_state",
    "plain_state",
    "checkpoint_path",
]


def _version() -> str:
    from .. import __version__

    return __version__


def plain_state(value: Any, where: str = "state") -> Any:
    """``value`` with numpy arrays and scalars turned into tensors and Python numbers; TypeError
    naming the key for anything that is not a tensor, plain container or plain value."""
    if isinstance(value, torch.Tensor) or value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: plain_state(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain_state(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{where} is a {type(value).__name__}; a checkpoint holds only tensors, containers and plain values")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` with torch.save to ``path`` through a temporary file and a rename.

    ``state`` may hold only tensors, dicts, lists, tuples and plain values (numpy arrays become
    tensors); the meshlearn version is added as ``meshlearn_version``.
    """
    state = plain_state({**state, "meshlearn_version": _version()})
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` with ``torch.load(weights_only=True)``.

    Raises
    ------
    CheckpointError
        The file is missing, unreadable, not a meshlearn checkpoint, or holds pickled objects
        (which weights-only loading refuses to run).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint; train first (meshlearn train ... --out {path.parent})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        detail = next((s.strip() for s in first if "GLOBAL" in s or "Unsupported" in s), first[0] if first else "")
        raise CheckpointError(
            f"{path}: refused: the file holds pickled Python objects, not only tensors and plain values "
            f"({detail}); loading it would run code from the file. meshlearn {_version()} writes checkpoints of "
            f"tensors and plain values only (older ones held numpy RNG states): retrain, or, if you trust the "
            f"file, load it yourself with state = torch.load(path, weights_only=False) and write it again with "
            f"meshlearn.train.checkpoint.save_checkpoint(path, state), which keeps only tensors and plain values"
        ) from e
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file
        raise CheckpointError(f"{path}: not a readable meshlearn checkpoint ({e}); delete it and train again") from e
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(f"{path}: not a meshlearn checkpoint (no model or config inside)")
    return state


def _with_constructor_defaults(stored: Any) -> Any:
    """``stored`` with the network options that ``MODEL_DEFAULTS`` now sets but it lacks taken at the
    constructor's defaults: a run saved before the per-model defaults built its net without them
    (every later run records them), so it is rebuilt as it was trained."""
    from .config import MODELS, model_defaults
    from .model import net_class

    if not isinstance(stored, Mapping) or stored.get("model", "diffusionnet") not in MODELS:
        return stored
    model, task = stored.get("model", "diffusionnet"), stored.get("task", "segmentation")
    net = stored.get("net_options") or {}
    if not isinstance(net, Mapping):
        return stored
    try:
        wanted = model_defaults(model, task).get("net_options", {})
    except KeyError:
        return stored
    missing = [name for name in wanted if name not in net]
    if not missing:
        return stored
    params = inspect.signature(net_class(model).__init__).parameters
    filled = {name: params[name].default for name in missing
              if name in params and params[name].default is not inspect.Parameter.empty}
    return {**stored, "net_options": {**net, **filled}}


def config_of(state: Mapping[str, Any], path: str | os.PathLike):
    """The TrainConfig stored in checkpoint ``state`` read from ``path``; CheckpointError naming the
    file and both versions when this meshlearn no longer understands it."""
    from .config import TrainConfig

    try:
        return TrainConfig.from_dict(_with_constructor_defaults(state["config"]))
    except ConfigError as e:
        raise CheckpointError(
            f"{path}: its training options do not fit meshlearn {_version()} (written by "
            f"{state.get('meshlearn_version', 'an older version')}): {e}. Retrain with this version, "
            f"or evaluate it with the meshlearn version that wrote it"
        ) from e


def load_model_state(net: torch.nn.Module, state_dict: Mapping[str, Any], path: str | os.PathLike,
                     version: str | None = None) -> None:
    """``net.load_state_dict(state_dict)`` with a CheckpointError naming the file and the missing,
    unexpected and wrongly shaped parameters when the checkpoint does not fit ``net``."""
    own = net.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and isinstance(state_dict[k], torch.Tensor) and state_dict[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape (file vs model)", shapes)):
            if keys:
                more = f" and {len(keys) - 8} more" if len(keys) > 8 else ""
                parts.append(f"{label}: {', '.join(keys[:8])}{more}")
        raise CheckpointError(
            f"{path}: the weights do not fit {type(net).__name__} as meshlearn {_version()} builds it (file written "
            f"by {version or 'an older version'}); {'; '.join(parts)}. Retrain, or load it with the meshlearn "
            f"version that wrote it"
        )
    net.load_state_dict(state_dict)


def rng_state() -> dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators (CUDA's too when present),
    as tensors and plain values."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (or the tuples of ``random.getstate()`` and
    ``np.random.get_state()`` that older checkpoints held)."""
    py, npy = state["python"], state["numpy"]
    if isinstance(py, Mapping):
        py = (py["version"], py["state"], py["gauss"])
    if isinstance(npy, Mapping):
        npy = (npy["kind"], npy["keys"], npy["pos"], npy["has_gauss"], npy["cached_gaussian"])
    version, internal, gauss = py
    internal = internal.tolist() if isinstance(internal, torch.Tensor) else internal
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    kind, keys, pos, has_gauss, cached = npy
    keys = keys.cpu().numpy() if isinstance(keys, torch.Tensor) else keys
    np.random.set_state((str(kind), np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def checkpoint_path(run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None) -> Path:
    """The checkpoint file of a run: ``None`` -> ``best.pt`` when the run has one, else ``last.pt``;
    ``"best"`` / ``"last"`` -> that file; anything else is a path to a ``.pt`` file."""
    run_dir = Path(run_dir)
    if checkpoint is None or checkpoint == "auto":
        best = run_dir / "best.pt"
        return best if best.exists() else run_dir / "last.pt"
    if checkpoint in ("best", "last"):
        return run_dir / f"{checkpoint}.pt"
    path = Path(checkpoint)
    if path.suffix != ".pt":
        raise CheckpointError(f"--checkpoint must be best, last or a .pt file (got {str(checkpoint)!r})")
    return path
