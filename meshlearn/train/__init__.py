"""Training and evaluation: fit, evaluate, metrics, checkpoints, multi-process training."""

from .config import MODELS, TASKS, TrainConfig

__all__ = ["MODELS", "TASKS", "FitResult", "TrainConfig", "fit"]


def __getattr__(name: str):
    # the training loop imports torch: loaded on first use, so that reading the options (the
    # command line's help, run files) stays light
    if name in ("fit", "FitResult"):
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
