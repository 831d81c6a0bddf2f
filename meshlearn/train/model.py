"""From a TrainConfig to a network, its operator spec and its input features.

Letters: V vertices, C channels.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..geometry.rotations import random_rotation
from ..geometry.operators import OperatorSpec
from .config import FMAP_METHODS, MODELS, TrainConfig, parse_augment

__all__ = [
    "net_class",
    "net_option_names",
    "check_net_options",
    "operator_spec",
    "build_model",
    "input_features",
    "in_channels",
]

#: constructor arguments the trainer sets itself (from TrainConfig options or the task)
RESERVED = {
    "in_channels": "the input features (--inputs)",
    "out_channels": "the task and the dataset",
    "width": "--width",
    "n_blocks": "--blocks",
    "n_layers": "--blocks",
    "dropout": "--dropout",
    "seed": "--seed",
    "device": "--device",
    "outputs": "the task (per-vertex outputs; for classification --readout)",
    "last_activation": "the loss",
}


def net_class(model: str) -> type:
    """The meshlearn.nets class behind a CLI model name (``diffusionnet``, ``gem``, ``cheb``, ``patch``)."""
    import importlib

    name = MODELS.get(model)
    if name is None:
        raise ConfigError(f"model must be one of {', '.join(MODELS)} (got {model!r})")
    nets = importlib.import_module("meshlearn.nets")
    cls = getattr(nets, name, None)
    if cls is None and model == "gem":
        cls = getattr(importlib.import_module("meshlearn.nets.gem"), name, None)
    if cls is None:
        raise ConfigError(f"meshlearn.nets has no {name} in this version; choose another --model")
    return cls


def net_option_names(cls: type) -> list[str]:
    """The constructor arguments of ``cls`` that ``TrainConfig.net_options`` may set."""
    params = inspect.signature(cls.__init__).parameters
    return sorted(
        n for n, p in params.items()
        if n != "self" and n not in RESERVED and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )


def check_net_options(config: TrainConfig) -> None:
    """ConfigError for a ``net_options`` name that the model's constructor does not take (listing
    those it does) or that the trainer sets itself (naming the option that sets it)."""
    cls = net_class(config.model)
    valid = net_option_names(cls)
    for name in config.net_options:
        if name in RESERVED:
            raise ConfigError(
                f"network option {name!r} of {cls.__name__} is set by {RESERVED[name]}, not by --net-option / net:"
            )
        if name not in valid:
            lower = {v.lower(): v for v in valid}
            close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=1)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{cls.__name__} (--model {config.model}) takes no argument {name!r}{hint}; "
                f"its options: {', '.join(valid) or 'none'}"
            )


def operator_spec(config: TrainConfig) -> OperatorSpec:
    """The operators a run needs: the net's, HKS / WKS (``n_descriptors`` channels) for
    ``inputs="hks"`` / ``"wks"``, and the eigenbasis for correspondence (the functional maps and
    their refinement at evaluation): ``max(k, fmap_k)`` eigenpairs for the functional-map methods.

    With ``net_options`` the net's ``requires`` is read from an instance (e.g. DiffusionNet with
    ``diffusion="implicit"`` reads the Laplacian instead of the eigenbasis).
    """
    k = config.k
    if config.task == "correspondence" and config.method in FMAP_METHODS:
        k = max(k, config.fmap_k)  # the functional maps' eigenpairs, and evaluation refines up to k
    params: dict[str, Any] = dict(k=k, eigen_coarse=config.eigen_coarse)
    if config.inputs in ("hks", "wks"):
        params[f"n_{config.inputs}"] = int(config.n_descriptors)
    net: Any = net_class(config.model)
    if config.net_options:
        with torch.random.fork_rng(devices=[]):  # the throwaway instance leaves the global RNG as it was
            net = build_model(config, 3, 2, "cpu")
    spec = OperatorSpec.for_net(net, inputs=config.inputs, **params)
    if config.task == "correspondence" and "spectral" not in spec.operators:
        spec = spec.union(OperatorSpec(operators=frozenset({"spectral"}), **params))
    return spec


def in_channels(config: TrainConfig, spec: OperatorSpec) -> int:
    return {"xyz": 3, "hks": int(spec.n_hks), "wks": int(spec.n_wks)}[config.inputs]


def build_model(config: TrainConfig, n_in: int, n_out: int, device: Any = "cpu") -> torch.nn.Module:
    """The network of ``config`` with ``n_in`` input and ``n_out`` output channels per vertex.

    ``width``, the depth (``n_blocks`` or ``n_layers``, whichever the class takes) and ``dropout``
    are passed when the class accepts them, and ``net_options`` as further keyword arguments
    (checked by :func:`check_net_options`).
    """
    check_net_options(config)
    cls = net_class(config.model)
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    if "width" in params:
        kwargs["width"] = config.width
    for depth in ("n_blocks", "n_layers"):
        if depth in params:
            kwargs[depth] = config.n_blocks
    if "dropout" in params:
        kwargs["dropout"] = config.dropout
    if "seed" in params:
        kwargs["seed"] = config.seed
    if config.task == "classification":
        if "outputs" not in params:
            raise ConfigError(f"{cls.__name__} has no global readout (no `outputs` argument); choose another --model")
        kwargs["outputs"] = "global_max" if config.readout == "max" else "global"
    kwargs.update(config.net_options)
    torch.manual_seed(config.seed)
    try:
        net = cls(n_in, n_out, **kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{cls.__name__} rejects the network options {config.net_options} ({e})") from e
    return net.to(device)


def _rotation(rng: np.random.Generator, mode: str) -> np.ndarray:
    if mode == "none":
        return np.eye(3)
    if mode == "aniso":  # each axis of a random frame scaled by a factor in [0.8, 1.25]
        Q = random_rotation(rng)
        return Q @ np.diag(np.exp(rng.uniform(np.log(0.8), np.log(1.25), 3))) @ Q.T
    if mode == "y":
        a = rng.uniform(0.0, 2.0 * np.pi)
        c, s = np.cos(a), np.sin(a)
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return random_rotation(rng)


def input_features(
    ops: Any, inputs: str, *, augment: str = "none", rng: np.random.Generator | None = None
) -> torch.Tensor:
    """Per-vertex input features ``(V, C)`` from torch operators ``ops``.

    ``xyz``: the (normalised) vertex positions, with ``rng`` given rotated per ``augment`` (``y``,
    ``so3`` or ``none``), with ``aniso`` in it also stretched along three random orthogonal axes,
    and scaled by a random factor in [0.9, 1.1]; ``hks`` / ``wks``: the heat or wave kernel
    signature (intrinsic, so never augmented).
    """
    if inputs in ("hks", "wks"):
        value = getattr(ops, inputs)
        if value is None:
            raise ConfigError(f"inputs={inputs!r} needs operators computed with the {inputs!r} kind")
        return value.float()
    x = ops.verts.float()
    if rng is not None:
        parts = parse_augment(augment)
        rotation = next((p for p in parts if p != "aniso"), "none")
        A = _rotation(rng, rotation)
        if "aniso" in parts:
            A = _rotation(rng, "aniso") @ A
        R = torch.as_tensor(A, dtype=x.dtype, device=x.device)
        x = float(rng.uniform(0.9, 1.1)) * (x @ R.T)
    return x
