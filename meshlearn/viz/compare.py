"""Several shapes side by side in one window, with linked cameras.

Letters: V vertices (of each shape), F faces.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from .errors import FeatureError
from .labels import add_label_legend, label_colors
from .render import add_shape, as_shape, finish, frame_camera, make_plotter, per_element
from .scalars import scalar_style

__all__ = ["plot_shapes"]


def plot_shapes(
    shapes: Sequence[Any],
    *,
    scalars: Sequence[Any] | None = None,
    labels: Sequence[Any] | None = None,
    colors: Sequence[Any] | None = None,
    titles: Sequence[str] | None = None,
    cmap: str | None = None,
    clim: Sequence[float] | None = None,
    n_classes: int | None = None,
    names: Sequence[str] | None = None,
    legend: bool = True,
    link_cameras: bool = True,
    colorbar: bool = True,
    colorbar_title: str = "",
    view: str | None = None,
    zoom: float = 1.0,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
) -> Any:
    """Draw shapes in a row of subplots; turning one turns them all (``link_cameras``).

    Give at most one of ``scalars``, ``labels`` and ``colors`` (each a list with one entry per
    shape; an entry may be None for a plain grey shape).

    Parameters
    ----------
    shapes : list of Shape (or paths or (verts, faces))
    scalars : list of (V_i,) or (F_i,) float, optional
        One field per shape, drawn with one shared colour range (``clim``) so colours compare.
    labels : list of (V_i,) or (F_i,) int, optional
        Classes per shape, one palette for all.
    colors : list of (V_i, 3) uint8, optional
        Explicit RGB colours per vertex (or face).
    titles : list of str, optional
        A caption above each subplot.
    cmap : str, optional
        default: "viridis" ("RdBu_r" when the fields take both signs)
    clim : (low, high), optional
        default: the 1st to 99th percentile over all shapes.
    n_classes : int, optional
        Number of classes for ``labels``. default: the largest label + 1 over all shapes
    names : sequence of str, optional
        Class names for the legend. default: "class 0", "class 1", ...
    legend : bool
        With ``labels``: a legend of the classes present, in a narrow column on the right. default: True
    link_cameras : bool
        One camera for every subplot; each shape is then drawn with its bounding box centred at the
        origin, so shapes stored at different places still fill their subplots. default: True
    colorbar : bool
        One colour bar (in the last subplot) for ``scalars``. default: True
    colorbar_title : str
    view, zoom, size, screenshot
        As in :func:`meshlearn.viz.plot_scalars`. default size: 400 x 400 pixels per shape

    Returns
    -------
    pyvista.Plotter, or the PNG's Path when ``screenshot`` is given.
    """
    shapes = [as_shape(s) for s in shapes]
    n = len(shapes)
    if n == 0:
        raise ConfigError("plot_shapes needs at least one shape")
    given = [x is not None for x in (scalars, labels, colors)]
    if sum(given) > 1:
        raise ConfigError("give at most one of scalars, labels and colors")
    for name, seq in (("scalars", scalars), ("labels", labels), ("colors", colors), ("titles", titles)):
        if seq is not None and len(seq) != n:
            raise ConfigError(f"{name} has {len(seq)} entries for {n} shapes; give one per shape (None for none)")
    fields: list[tuple[np.ndarray | None, str]] = [(None, "vertex")] * n
    if scalars is not None:
        fields = [(None, "vertex") if s is None else per_element(sh, s, what=f"scalars[{i}]")
                  for i, (sh, s) in enumerate(zip(shapes, scalars))]
        pooled = np.concatenate([f.astype(np.float64).ravel() for f, _ in fields if f is not None] or [np.zeros(1)])
        cmap, clim = scalar_style(pooled, cmap=cmap, clim=clim or None)
    elif labels is not None:
        checked = [(None, "vertex") if s is None else per_element(sh, s, what=f"labels[{i}]")
                   for i, (sh, s) in enumerate(zip(shapes, labels))]
        k = n_classes or 1 + max((int(np.max(f)) for f, _ in checked if f is not None and f.size), default=0)
        fields = [(None, loc) if f is None else (label_colors(f, n_classes=k)[0], loc) for f, loc in checked]
        present = np.unique(np.concatenate([f for f, _ in checked if f is not None] or [np.zeros(0, int)]))
        present = present[present >= 0]
    elif colors is not None:
        fields = []
        for i, (sh, c) in enumerate(zip(shapes, colors)):
            if c is None:
                fields.append((None, "vertex"))
                continue
            arr, loc = per_element(sh, c, what=f"colors[{i}]")
            if arr.ndim != 2 or arr.shape[1] != 3:
                raise FeatureError(f"colors[{i}] must be (N, 3) RGB (got {arr.shape})")
            fields.append((np.asarray(arr, dtype=np.uint8), loc))
    legend_column = False
    if labels is not None and legend and present.size:
        legend_column = True
    if size is None:
        size = (400 * n + (220 if legend_column else 0), 400)
    if link_cameras and n > 1:
        shapes = [sh.with_(verts=sh.verts - 0.5 * (sh.verts.min(0) + sh.verts.max(0))) if sh.n_verts else sh for sh in shapes]
    weights = [1.0] * n + [0.55] if legend_column else None
    plotter = make_plotter(size=size, screenshot=screenshot, grid=(1, n + legend_column), col_weights=weights)
    rgb = scalars is None
    for i, (shape, (field, loc)) in enumerate(zip(shapes, fields)):
        plotter.subplot(0, i)
        add_shape(
            plotter, shape, scalars=field, location=loc, rgb=rgb and field is not None, cmap=cmap, clim=clim,
            name=colorbar_title or "value", colorbar=colorbar and not rgb and i == n - 1, colorbar_title=colorbar_title,
        )
        if titles is not None and titles[i]:
            plotter.add_text(str(titles[i]), position="upper_edge", font_size=12, color="black")
        frame_camera(plotter, view=view, zoom=zoom * (0.92 if titles is not None else 1.0))
    if legend_column:
        plotter.subplot(0, n)
        rows = min(int(present.size), 24)
        add_label_legend(plotter, present, n_classes=k, names=names, loc="center left",
                         size=(0.95, min(0.07 * rows, 0.95)))
    if link_cameras and n > 1:
        plotter.link_views(list(range(n)))
        plotter.subplot(0, 0)
        frame_camera(plotter, view=view, zoom=zoom * (0.92 if titles is not None else 1.0))
    return finish(plotter, screenshot)
