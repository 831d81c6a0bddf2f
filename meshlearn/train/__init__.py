"""Training and evaluation: fit, evaluate, metrics, checkpoints, multi-process training."""

from .config import MODELS, TASKS, TrainConfig
from .loop import FitResult, fit

__all__ = ["MODELS", "TASKS", "FitResult", "TrainConfig", "fit"]
