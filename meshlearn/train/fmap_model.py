"""From a TrainConfig to a deep functional-map model, and back from a run's checkpoint.

A correspondence run of method ``fmap-unsupervised`` or ``fmap-supervised`` trains a
:class:`~meshlearn.correspondence.DeepFunctionalMap`: the network of ``--model`` with
``config.fmap_dim`` descriptor channels out, the functional-map solver on ``config.fmap_k``
eigenpairs and the soft pointwise maps. Its checkpoint holds that whole module's state; its
``meta`` holds ``n_in`` (input channels), ``n_out`` (= ``fmap_dim``) and the operator spec, as for
every run. :func:`load_fmap_run` rebuilds it for evaluation and ``meshlearn match``.

``config.fmap_options`` (the ``fmap_options:`` mapping of a run file) sets the model and the loss:

==================  ==================================================================  ==============
key                 meaning                                                             default
==================  ==================================================================  ==============
``mask``            the solver's regulariser: ``resolvent`` (Ren et al. 2019) or        ``resolvent``
                    ``laplacian`` commutativity
``lam``             its weight (scale-free: relative to the descriptors' energy,        ``1``
                    ``mean(diag(A A^T))`` of the pair)
``gamma``           the resolvent mask's exponent                                       ``0.5``
``tau``             temperature of the soft pointwise maps                              ``0.07``
``sinkhorn``        Sinkhorn iterations of the soft maps (0: a row softmax)             ``0``
``soft_points``     in training, the coupling's soft maps summed over this many         ``1000``
                    farthest-point samples of each target shape (weighted by their
                    Voronoi cells' area) instead of every vertex; 0: every vertex
                    (so do validation and Sinkhorn soft maps)
``bijectivity``,    weights of the unsupervised loss terms                              ``1, 1, 0, 1``
``orthogonality``,
``laplacian``,
``coupling``
``supervised``      weight of the supervised functional-map term (fmap-supervised)      ``1``
==================  ==================================================================  ==============

The run's network is ``--model`` (DiffusionNet by default) of ``--width`` channels (128 for these
methods) on WKS of 128 energies, with ``fmap_dim = 256`` descriptors out: ULRSSM's sizes. On the
synthetic bodies they did about as well as width 64 with 128 descriptors (better with one seed,
worse with another) at twice the cost; ``--width 64 --fmap-dim 128`` is the cheaper choice on CPU.

``soft_points = 1000``: the coupling's soft maps are most of a training step (2.95 s of CPU of a
step on two bodies of 4.8k and 3.9k vertices, 0.80 s without them; 1.07 s with 1000 points), and
on 40 training bodies of the synthetic FAUST-like family (3k to 8k vertices, 6 epochs) the run with
1000 points reached the same validation error as the exact one (0.2533 against 0.2539 over
sqrt(area)) and about the same test error (29.74 against 29.39 x100 on its 90 ordered test pairs)
in 8.3 instead of 14.7 minutes. Shapes of at most 1000 vertices are summed exactly.

``lam = 1`` was chosen on held-out pairs of synthetic bodies (``meshlearn data synthetic``): the
error of the trained maps fell from ``lam = 1e-3`` (the solver's own default, which leaves the
maps ill-conditioned at the start of training) up to 1 and changed little from 1 to 100.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ..errors import ConfigError
from .config import FMAP_METHODS, TrainConfig
from .model import build_model

__all__ = ["FMAP_METHODS", "FMAP_DEFAULTS", "is_fmap_run", "fmap_settings", "build_fmap_model", "fmap_loss", "load_fmap_run"]

#: ``fmap_options`` keys and their defaults
FMAP_DEFAULTS: dict[str, Any] = {
    "mask": "resolvent",
    "lam": 1.0,
    "gamma": 0.5,
    "tau": 0.07,
    "sinkhorn": 0,
    "soft_points": 1000,
    "bijectivity": 1.0,
    "orthogonality": 1.0,
    "laplacian": 0.0,
    "coupling": 1.0,
    "supervised": 1.0,
}

#: how an error names the kind of value each option's default has
_KIND_NAMES = {int: "an integer", float: "a number", str: "a string"}


def is_fmap_run(config: TrainConfig) -> bool:
    """Whether ``config`` trains a deep functional map (rather than a per-vertex net)."""
    return config.task == "correspondence" and config.method in FMAP_METHODS


def fmap_settings(config: TrainConfig) -> dict[str, Any]:
    """``FMAP_DEFAULTS`` updated by ``config.fmap_options``, each value of its default's type;
    ConfigError on an unknown key or a value of the wrong kind."""
    unknown = sorted(set(config.fmap_options) - set(FMAP_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown functional-map option(s) {', '.join(unknown)}; known: {', '.join(FMAP_DEFAULTS)}"
        )
    out = dict(FMAP_DEFAULTS)
    for name, value in config.fmap_options.items():
        kind = type(FMAP_DEFAULTS[name])
        try:
            out[name] = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"functional-map option {name} must be {_KIND_NAMES[kind]} (got {value!r}), "
                f"e.g. --fmap-option {name}={FMAP_DEFAULTS[name]}"
            ) from None
    return out


def build_fmap_model(config: TrainConfig, n_in: int, device: Any = "cpu"):
    """The DeepFunctionalMap of ``config``: its ``--model`` net with ``n_in`` input channels and
    ``config.fmap_dim`` descriptor channels, the solver and the soft maps of ``fmap_options``."""
    from ..correspondence import DeepFunctionalMap, FunctionalMapSolver

    s = fmap_settings(config)
    net = build_model(config, n_in, config.fmap_dim, device)
    solver = FunctionalMapSolver(lam=float(s["lam"]), mask=str(s["mask"]), gamma=float(s["gamma"]), bidirectional=True)
    return DeepFunctionalMap(
        net, k=config.fmap_k, solver=solver, tau=float(s["tau"]), sinkhorn=int(s["sinkhorn"]), soft_points=int(s["soft_points"])
    ).to(device)


def fmap_loss(config: TrainConfig):
    """The training loss of ``config.method``: ULRSSM's unsupervised terms, plus the supervised
    functional-map term for ``fmap-supervised``."""
    from ..correspondence import CombinedLoss

    s = fmap_settings(config)
    weights = {"bijectivity": float(s["bijectivity"]), "orthogonality": float(s["orthogonality"]),
               "laplacian_commutativity": float(s["laplacian"]), "coupling": float(s["coupling"])}
    if config.method == "fmap-supervised":
        weights["fmap_supervised"] = float(s["supervised"])
    return CombinedLoss.from_weights({n: w for n, w in weights.items() if w})


def load_fmap_run(run_dir: str | os.PathLike, checkpoint: str | None = None, device: Any = "cpu"):
    """(config, meta, DeepFunctionalMap in eval mode) of a functional-map run: ``best.pt`` when the
    run has one, else ``last.pt``; ``checkpoint`` = "best", "last" or a file."""
    from .checkpoint import checkpoint_path, config_of, load_checkpoint, load_model_state

    path = checkpoint_path(run_dir, checkpoint)
    state = load_checkpoint(path, map_location=device)
    config = config_of(state, path)
    if not is_fmap_run(config):
        raise ConfigError(f"{path}: a {config.task} run (method {config.method}), not a functional-map run")
    meta = state["meta"]
    model = build_fmap_model(config, int(meta["n_in"]), device)
    load_model_state(model, state["model"], path, state.get("meshlearn_version"))
    model.eval()
    return config, meta, model
