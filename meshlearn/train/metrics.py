"""Metrics: segmentation accuracy and IoU, shape classification, geodesic correspondence error, PCK curves.

Letters: V vertices, F faces, K classes, N evaluated points.

Conventions
-----------
- Vertex accuracy is the plain fraction of vertices right; the area-weighted variants weigh each
  vertex by its lumped mass and each face by its area, so they do not depend on the sampling.
- IoU of class c is ``TP / (TP + FP + FN)`` over all vertices of all evaluated shapes; the mean
  is over the classes present in the ground truth or the predictions.
- Classification accuracy is the fraction of shapes whose predicted class is right; the mean
  class accuracy averages the per-class recall over the classes present in the ground truth
  (so a rare class counts as much as a common one). ``confusion[i, j]`` counts shapes of true
  class i predicted as j.
- A label outside ``0 .. n_classes - 1`` is an error (naming its file when given), never clipped.
- A correspondence error is the geodesic distance on the target shape between the predicted and
  the true point, divided by the square root of the target's area (papers quote it times 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DatasetError
from ..labels import face_labels_from_vertices

__all__ = [
    "SegmentationScores",
    "ClassificationScores",
    "check_labels",
    "plot_confusion",
    "face_labels_from_vertices",
    "geodesic_errors",
    "pck_curve",
    "plot_pck",
]


def check_labels(
    labels: np.ndarray, n_classes: int, source: str | None = None, what: str = "label", unknown_ok: bool = False
) -> None:
    """DatasetError when a label lies outside ``0 .. n_classes - 1`` (naming ``source``);
    ``unknown_ok`` lets negative labels (unknown, e.g. a vertex on no labelled face) pass."""
    labels = np.asarray(labels)
    if unknown_ok:
        labels = labels[labels >= 0]
    if labels.size == 0:
        return
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= n_classes:
        bad = hi if hi >= n_classes else lo
        raise DatasetError(
            f"{source or 'labels'}: {what} {bad} is outside the {n_classes} classes the model predicts "
            f"(0..{n_classes - 1}); give the run a dataset whose labels it was trained for, or retrain with "
            "every class present in some split (or named in the dataset's class list)"
        )


@dataclass
class SegmentationScores:
    """Accumulates segmentation results over shapes; read the scores with :meth:`summary`."""

    n_classes: int
    confusion: np.ndarray = field(init=False)
    vertex_right: float = 0.0
    vertex_total: float = 0.0
    mass_right: float = 0.0
    mass_total: float = 0.0
    face_right: float = 0.0
    face_total: float = 0.0

    def __post_init__(self) -> None:
        self.confusion = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)

    def add(
        self,
        pred: np.ndarray,
        true: np.ndarray,
        *,
        mass: np.ndarray | None = None,
        pred_faces: np.ndarray | None = None,
        true_faces: np.ndarray | None = None,
        face_area: np.ndarray | None = None,
        source: str | None = None,
    ) -> float:
        """Add one shape: per-vertex predictions and truth (V,), optional vertex mass (V,), face
        predictions and truth (F,) with face areas (F,). Returns the shape's vertex accuracy.

        A true label of ``n_classes`` or more, or a predicted one outside ``0 .. n_classes - 1``,
        is a DatasetError naming ``source`` (the shape's file); vertices whose true label is
        negative (unknown) are left out of every score."""
        pred, true = np.asarray(pred, dtype=np.int64), np.asarray(true, dtype=np.int64)
        check_labels(true, self.n_classes, source, unknown_ok=True)
        check_labels(pred, self.n_classes, source, what="predicted label")
        known = true >= 0
        if not known.all():
            pred, true = pred[known], true[known]
            mass = None if mass is None else np.asarray(mass)[known]
        np.add.at(self.confusion, (true, pred), 1)
        right = pred == true
        self.vertex_right += float(right.sum())
        self.vertex_total += float(right.size)
        if mass is not None:
            self.mass_right += float(mass[right].sum())
            self.mass_total += float(mass.sum())
        if pred_faces is not None and true_faces is not None and face_area is not None:
            fr = pred_faces == true_faces
            self.face_right += float(face_area[fr].sum())
            self.face_total += float(face_area.sum())
        return float(right.mean()) if right.size else 0.0

    def iou(self) -> np.ndarray:
        """(K,) IoU per class; NaN for a class absent from both truth and predictions."""
        tp = np.diag(self.confusion).astype(np.float64)
        denom = self.confusion.sum(0) + self.confusion.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, tp / denom, np.nan)

    def summary(self) -> dict:
        iou = self.iou()
        out = {
            "accuracy": self.vertex_right / max(self.vertex_total, 1.0),
            "mean_iou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
            "per_class_iou": [None if np.isnan(v) else float(v) for v in iou],
        }
        if self.mass_total > 0:
            out["accuracy_area_weighted"] = self.mass_right / self.mass_total
        if self.face_total > 0:
            out["face_accuracy_area_weighted"] = self.face_right / self.face_total
        return out


@dataclass
class ClassificationScores:
    """Accumulates one predicted class per shape; read the scores with :meth:`summary`.

    Parameters
    ----------
    class_names : sequence of str
        K names, class i first.
    """

    class_names: tuple[str, ...]
    confusion: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.class_names = tuple(self.class_names)
        k = len(self.class_names)
        self.confusion = np.zeros((k, k), dtype=np.int64)

    def add(self, pred: int, true: int, *, source: str | None = None) -> bool:
        """Add one shape's predicted and true class; True when right. A class outside
        ``0 .. K - 1`` is a DatasetError naming ``source``."""
        k = len(self.class_names)
        check_labels(np.array([true]), k, source, what="class")
        check_labels(np.array([pred]), k, source, what="predicted class")
        self.confusion[int(true), int(pred)] += 1
        return int(pred) == int(true)

    def summary(self) -> dict:
        """``accuracy``, ``mean_class_accuracy``, ``per_class_accuracy`` (None for a class with
        no shapes), ``confusion`` (K lists of K counts, rows true, columns predicted),
        ``class_names``, ``n_shapes``."""
        c = self.confusion
        n = int(c.sum())
        support = c.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(support > 0, np.diag(c) / np.maximum(support, 1), np.nan)
        return {
            "accuracy": float(np.trace(c)) / max(n, 1),
            "mean_class_accuracy": float(np.nanmean(recall)) if np.isfinite(recall).any() else float("nan"),
            "per_class_accuracy": [None if np.isnan(v) else float(v) for v in recall],
            "confusion": c.tolist(),
            "class_names": list(self.class_names),
            "n_shapes": n,
        }


def plot_confusion(confusion, class_names, path, title: str = "classification") -> None:
    """Write a confusion matrix (rows true, columns predicted; counts) to a PNG with matplotlib's
    Agg backend, each row shaded by its share of the true class."""
    from ..optional import require

    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "plot_confusion").FigureCanvasAgg
    Figure = require("matplotlib.figure", "plot_confusion").Figure

    c = np.asarray(confusion, dtype=np.int64)
    k = c.shape[0]
    share = c / np.maximum(c.sum(1, keepdims=True), 1)
    size = 2.5 + 0.45 * k
    fig = Figure(figsize=(size + 1.0, size), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            if c[i, j]:
                ax.text(j, i, str(c[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticklabels(class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    n = int(c.sum())
    ax.set_title(f"{title}: {np.trace(c)} of {n} right ({100.0 * np.trace(c) / max(n, 1):.1f}%)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    fig.savefig(str(path))


def geodesic_errors(
    dist_from_true: np.ndarray, pred: np.ndarray, area: float
) -> np.ndarray:
    """Normalised geodesic errors of predicted points.

    Parameters
    ----------
    dist_from_true : (N, V) float
        Row n: geodesic distance on the target from the true point of evaluation point n to every
        target vertex.
    pred : (N,) int
        Predicted target vertex of each evaluation point.
    area : float
        Target surface area.

    Returns
    -------
    (N,) float64 errors ``d(pred, true) / sqrt(area)``.
    """
    d = dist_from_true[np.arange(len(pred)), np.asarray(pred, dtype=np.int64)]
    return np.asarray(d, dtype=np.float64) / np.sqrt(area)


def pck_curve(errors: np.ndarray, thresholds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of errors at or below each threshold (the percentage of correct keypoints).

    Returns ``(thresholds, fractions)``; default thresholds 0 to 0.25 in 101 steps.
    """
    thresholds = np.linspace(0.0, 0.25, 101) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    errors = np.sort(np.asarray(errors, dtype=np.float64).ravel())
    if errors.size == 0:
        return thresholds, np.zeros_like(thresholds)
    return thresholds, np.searchsorted(errors, thresholds, side="right") / errors.size


def plot_pck(curves: dict[str, tuple[np.ndarray, np.ndarray]], path, title: str = "correspondence") -> None:
    """Write PCK curves (label -> (thresholds, fractions)) to a PNG with matplotlib's Agg backend."""
    from ..optional import require

    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "plot_pck").FigureCanvasAgg
    Figure = require("matplotlib.figure", "plot_pck").Figure

    fig = Figure(figsize=(5, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for label, (t, f) in curves.items():
        ax.plot(t, 100 * f, label=label)
    ax.set_xlabel("geodesic error / sqrt(area)")
    ax.set_ylabel("% correspondences")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, float(max(t.max() for t, _ in curves.values())))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(str(path))
