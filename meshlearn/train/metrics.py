"""Metrics: segmentation accuracy and IoU, geodesic correspondence error, PCK curves.

Letters: V vertices, F faces, K classes, N evaluated points.

Conventions
-----------
- Vertex accuracy is the plain fraction of vertices right; the area-weighted variants weigh each
  vertex by its lumped mass and each face by its area, so they do not depend on the sampling.
- IoU of class c is ``TP / (TP + FP + FN)`` over all vertices of all evaluated shapes; the mean
  is over the classes present in the ground truth or the predictions.
- A correspondence error is the geodesic distance on the target shape between the predicted and
  the true point, divided by the square root of the target's area (papers quote it times 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..labels import face_labels_from_vertices

__all__ = [
    "SegmentationScores",
    "face_labels_from_vertices",
    "geodesic_errors",
    "pck_curve",
    "plot_pck",
]


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
    ) -> float:
        """Add one shape: per-vertex predictions and truth (V,), optional vertex mass (V,), face
        predictions and truth (F,) with face areas (F,). Returns the shape's vertex accuracy."""
        pred, true = np.asarray(pred, dtype=np.int64), np.asarray(true, dtype=np.int64)
        k = self.n_classes
        np.add.at(self.confusion, (np.clip(true, 0, k - 1), np.clip(pred, 0, k - 1)), 1)
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
