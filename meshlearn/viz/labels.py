"""Draw categorical labels (segmentations) with distinct colours and a legend.

Letters: V vertices, F faces, K classes.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from ..optional import require
from .errors import FeatureError
from .render import add_shape, as_shape, finish, frame_camera, make_plotter, per_element

__all__ = ["label_palette", "label_colors", "plot_labels", "add_label_legend"]


def label_palette(n: int) -> np.ndarray:
    """``n`` distinct colours, (n, 3) uint8: matplotlib's tab10 / tab20, then evenly spaced hues.

    Colour ``i`` is the same whatever ``n`` is (up to 10, and up to 20), so label 3 keeps its colour
    between a ground truth with 4 classes and a prediction with 5.
    """
    matplotlib = require("matplotlib", "label colours (meshlearn.viz)")

    if n <= 10:
        base = matplotlib.colormaps["tab10"].colors
    elif n <= 20:
        t20 = matplotlib.colormaps["tab20"].colors
        base = list(t20[0::2]) + list(t20[1::2])  # the 10 strong colours first, then their pale twins
    else:
        return _hue_colors(np.arange(n))
    return np.round(np.asarray(base[:n], dtype=np.float64) * 255).astype(np.uint8)


def _hue_colors(classes: np.ndarray) -> np.ndarray:
    """(len(classes), 3) uint8 colours of classes in a palette of more than 20: golden-ratio hues,
    each depending on its class alone (so only the classes present need computing)."""
    import colorsys

    golden = 0.618033988749895
    rgb = [colorsys.hsv_to_rgb((i * golden) % 1.0, 0.65 + 0.3 * (i % 2), 0.9 - 0.25 * (i % 3 == 2)) for i in classes.tolist()]
    return np.round(np.asarray(rgb, dtype=np.float64).reshape(-1, 3) * 255).astype(np.uint8)


def label_colors(labels: Any, *, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Colour per element for integer labels.

    Parameters
    ----------
    labels : (N,) int
        Class of each vertex or face; negative values mean "unlabelled" and are drawn grey.
    n_classes : int, optional
        Number of classes K (for a palette that does not depend on which classes occur).
        default: max(labels) + 1

    Returns
    -------
    colors : (N, 3) uint8
    classes : (K',) int
        The classes present, ascending (negative ones excluded).
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or not (np.issubdtype(lab.dtype, np.integer) or np.all(np.mod(lab, 1) == 0)):
        raise FeatureError(f"labels must be one integer per vertex or face (got dtype {lab.dtype}, shape {lab.shape})")
    lab = lab.astype(np.int64)
    k = int(n_classes if n_classes is not None else (lab.max() + 1 if lab.size else 0))
    if lab.size and lab.max() >= k:
        raise FeatureError(f"label {int(lab.max())} is out of range for n_classes={k}; raise n_classes")
    colors = np.full((lab.size, 3), 150, dtype=np.uint8)
    ok = lab >= 0
    classes, index = np.unique(lab[ok], return_inverse=True)
    colors[ok] = _class_colors(classes, k)[index.ravel()]
    return colors, classes


def _class_colors(classes: np.ndarray, n_classes: int) -> np.ndarray:
    """(K', 3) uint8: ``label_palette(n_classes)[classes]``, computed for the classes given only
    (a stray label 10**9 costs nothing)."""
    classes = np.asarray(classes, dtype=np.int64)
    return label_palette(n_classes)[classes] if n_classes <= 20 else _hue_colors(classes)


def plot_labels(
    shape: Any,
    labels: Any,
    *,
    names: Sequence[str] | Mapping[int, str] | None = None,
    n_classes: int | None = None,
    legend: bool = True,
    location: str = "auto",
    view: str | None = None,
    zoom: float = 1.0,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    point_size: float | None = None,
) -> Any:
    """Colour a mesh or point cloud by class, one flat colour per class, with a legend.

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
    labels : (V,) or (F,) int
        Class per vertex or per face; negative = unlabelled (grey).
    names : sequence or mapping of str, optional
        Class names for the legend (index -> name). default: "class 0", "class 1", ...
    n_classes : int, optional
        Number of classes (fixes the palette). default: max(labels) + 1
    legend : bool
        Show a legend of the classes present. default: True
    location, view, zoom, size, screenshot, point_size
        As in :func:`meshlearn.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter, or the PNG's Path when ``screenshot`` is given.
    """
    shape = as_shape(shape)
    lab, location = per_element(shape, labels, what="labels", location=location)
    colors, classes = label_colors(lab, n_classes=n_classes)
    plotter = make_plotter(size=size, screenshot=screenshot)
    add_shape(plotter, shape, scalars=colors, location=location, rgb=True, name="labels", point_size=point_size)
    if legend and classes.size:
        add_label_legend(plotter, classes, n_classes=n_classes, names=names)
    frame_camera(plotter, view=view, zoom=zoom)
    return finish(plotter, screenshot)


def add_label_legend(
    plotter: Any,
    classes: Any,
    *,
    n_classes: int | None = None,
    names: Sequence[str] | Mapping[int, str] | None = None,
    max_entries: int = 24,
    loc: str = "upper right",
    size: tuple[float, float] | None = None,
) -> None:
    """Add a legend (at ``loc`` in the current subplot) for ``classes`` (K',) int, coloured as
    :func:`label_colors` colours them; ``size`` (width, height) as fractions of the subplot.
    default: sized to the number of entries and the longest name"""
    classes = np.asarray(classes, dtype=np.int64)
    shown = classes[:max_entries]
    colors = _class_colors(shown, max(int(n_classes or classes.max() + 1), 1))
    entries = [[_name(names, int(c)), (rgb / 255.0).tolist()] for c, rgb in zip(shown, colors)]
    longest = max(len(e[0]) for e in entries)
    width = float(np.clip(0.05 + 0.022 * longest, 0.15, 0.4))
    if size is None:
        size = (width, min(0.06 * len(entries), 0.8))
    plotter.add_legend(entries, bcolor="white", border=False, face="rectangle", size=size, loc=loc)


def _name(names: Sequence[str] | Mapping[int, str] | None, c: int) -> str:
    if names is None:
        return f"class {c}"
    try:
        return str(names[c])
    except (IndexError, KeyError):
        return f"class {c}"
