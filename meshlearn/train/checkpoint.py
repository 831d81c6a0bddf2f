"""Checkpoints: model, optimiser, scheduler, RNG states and the full config, written atomically.

A run folder holds ``last.pt`` (after every epoch) and ``best.pt`` (the epoch with the best
validation score); each is a dict with keys ``config`` (TrainConfig.to_dict()), ``meta`` (what the
model was built for: channels, labels, template size, operator spec), ``model``, ``optimizer``,
``scheduler``, ``epoch`` (epochs completed), ``best`` (best score so far), ``rng``.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cache import atomic_write_bytes
from ..errors import ConfigError

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state"]


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` with torch.save to ``path`` through a temporary file and a rename."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; ConfigError if missing or unreadable."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no checkpoint; train first (meshlearn train ... --out {path.parent})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file
        raise ConfigError(f"{path}: not a readable meshlearn checkpoint ({e}); delete it and train again") from e
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise ConfigError(f"{path}: not a meshlearn checkpoint (no model or config inside)")
    return state


def rng_state() -> dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators (CUDA's too when present)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
