"""Experiment logs beside ``metrics.jsonl``: TensorBoard event files in the run folder.

``open_run_log(config, out)`` returns a :class:`TensorBoardLog` (``config.log`` is
``"tensorboard"``, or ``"auto"`` with the ``tb`` extra installed) or a :class:`RunLog` that
writes nothing. :func:`meshlearn.train.fit` calls ``log_epoch`` after every epoch; watch a run
with ``tensorboard --logdir RUN_DIR`` (or the folder of several runs).

Scalars: every number of the epoch's metrics record, ``train_x`` as ``train/x`` and ``val_x`` as
``val/x`` (the losses, the accuracies; for functional maps each loss term, e.g.
``train/coupling``, and ``val/error``), and ``lr``. Pictures, every ``config.image_every``
epochs: one validation shape (the first held out; the first training shape when none is) drawn
with its true and predicted part labels (segmentation), or with the vertices whose template point
is predicted right and wrong (correspondence), rendered off screen with meshlearn.viz.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..errors import ConfigError
from .config import TrainConfig
from .model import input_features

__all__ = ["RunLog", "TensorBoardLog", "open_run_log", "tensorboard_available", "scalar_tag"]

log = logging.getLogger(__name__)


def tensorboard_available() -> bool:
    """True when the ``tensorboard`` package (the ``[tb]`` extra) is installed."""
    from importlib.util import find_spec

    return find_spec("tensorboard") is not None


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a metrics key: ``train_loss`` -> ``train/loss``, ``lr`` -> ``lr``."""
    for prefix in ("train_", "val_"):
        if key.startswith(prefix):
            return prefix[:-1] + "/" + key[len(prefix):]
    return key


class RunLog:
    """A run log that writes nothing (``--log none``); the interface of :class:`TensorBoardLog`."""

    def log_epoch(self, epoch: int, record: Mapping[str, Any], net: torch.nn.Module | None = None,
                  sample: tuple[Any, torch.Tensor, str] | None = None) -> None:
        """Log the metrics ``record`` of ``epoch`` (counted from 1); ``sample`` = (torch
        operators, targets (V,), name) of the shape to picture with ``net``'s predictions."""

    def close(self) -> None:
        pass


class TensorBoardLog(RunLog):
    """Scalars and pictures of a run as TensorBoard event files in ``out``.

    ``start`` (epochs already done, when resuming) drops what a killed run logged after it.
    """

    def __init__(self, out: str | Path, config: TrainConfig, *, start: int = 0,
                 part_names: list[str] | None = None) -> None:
        from ..optional import require

        tb = require("torch.utils.tensorboard", "--log tensorboard")
        # steps are epochs counted from 1: a resumed run drops what was logged after epoch `start`
        self.writer = tb.SummaryWriter(log_dir=str(out), purge_step=start + 1 if start > 0 else None)
        self.config = config
        self.part_names = list(part_names or [])
        self.images = int(config.image_every) > 0
        self._truth_logged = False

    def log_epoch(self, epoch: int, record: Mapping[str, Any], net: torch.nn.Module | None = None,
                  sample: tuple[Any, torch.Tensor, str] | None = None) -> None:
        for key, value in record.items():
            if key == "epoch" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self.writer.add_scalar(scalar_tag(key), float(value), epoch)
        if self.images and net is not None and sample is not None and epoch % int(self.config.image_every) == 0:
            self._log_picture(epoch, net, sample)
        self.writer.flush()

    def _log_picture(self, epoch: int, net: torch.nn.Module, sample: tuple[Any, torch.Tensor, str]) -> None:
        ops, y, name = sample
        try:
            image = self.picture(net, ops, y)
        except Exception as e:  # noqa: BLE001 - a missing renderer must not stop training
            log.warning("no prediction pictures in TensorBoard: rendering failed (%s)", e)
            self.images = False
            return
        self.writer.add_image(f"predictions/{name}", image, epoch, dataformats="HWC")

    def picture(self, net: torch.nn.Module, ops: Any, y: torch.Tensor) -> np.ndarray:
        """(H, W, 3) uint8: the shape of ``ops`` coloured by truth and ``net``'s prediction."""
        from ..optional import require

        require("pyvista", "pictures of predictions in TensorBoard")
        from ..shape import Shape
        from ..viz import plot_shapes

        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                pred = net(input_features(ops, self.config.inputs), ops).argmax(1)
        finally:
            net.train(was_training)
        truth = y.detach().cpu().numpy()
        pred = pred.cpu().numpy()
        verts = ops.verts.detach().cpu().double().numpy()
        faces = None if ops.faces is None else ops.faces.detach().cpu().numpy()
        shape = Shape(verts, faces)
        if self.config.task == "segmentation":
            n = max(len(self.part_names), int(max(truth.max(), pred.max())) + 1)
            kw: dict[str, Any] = dict(shapes=[shape, shape], labels=[truth, pred], n_classes=n,
                                      titles=["truth", f"predicted: {100 * np.mean(pred == truth):.0f} %"],
                                      legend=False)
        else:
            right = np.where(truth < 0, -1, (pred == truth).astype(np.int64))
            kw = dict(shapes=[shape], labels=[right], n_classes=2, names=["wrong", "right"],
                      titles=[f"template point right: {100 * np.mean(right[truth >= 0] == 1):.0f} %"])
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "picture.png"
            plot_shapes(size=(320 * len(kw["shapes"]), 320), screenshot=png, **kw)
            image_lib = require("PIL.Image", "pictures of predictions in TensorBoard")
            with image_lib.open(png) as im:
                return np.asarray(im.convert("RGB"))

    def close(self) -> None:
        self.writer.close()


def open_run_log(config: TrainConfig, out: str | Path, *, start: int = 0,
                 part_names: list[str] | None = None) -> RunLog:
    """The run log ``config.log`` asks for (see the module docstring)."""
    if config.log == "none" or (config.log == "auto" and not tensorboard_available()):
        return RunLog()
    if config.log not in ("auto", "tensorboard"):
        raise ConfigError(f"log must be auto, tensorboard or none (got {config.log!r})")
    return TensorBoardLog(out, config, start=start, part_names=part_names)
