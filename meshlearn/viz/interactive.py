"""The interactive feature viewer: a shape coloured by one channel of a feature, a slider over the
channels, keys to switch features, and picking that reports a vertex's values.

Letters: V vertices, C channels.

Keys in the window: ``n`` / ``p`` next / previous feature; ``l`` labels on or off (when given);
left click on the surface picks the nearest vertex.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from .errors import FeatureError
from .features import channel as take_channel
from .features import check_length
from .labels import label_colors
from .render import as_shape, frame_camera, make_plotter, scalar_bar_args, surface_style, to_polydata
from .scalars import scalar_style

__all__ = ["FeatureViewer", "view"]

log = logging.getLogger(__name__)


class FeatureViewer:
    """A plotter showing ``features`` on ``shape``, one channel at a time.

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
    features : mapping of str to (V, C) float
        The features that can be shown (``n`` / ``p`` switch between them).
    feature : str, optional
        The one shown first. default: the first in ``features``
    channel : int
        The channel shown first. default: 0
    labels : (V,) int, optional
        Segmentation labels, drawn instead of the feature while ``l`` toggles them on.
    on_pick : callable(int, dict), optional
        Called with the picked vertex index and ``{feature name: (C,) values}`` (plus
        ``"labels"`` when given). default: log the values at INFO level
    cmap : str, optional
        default: "viridis", or "RdBu_r" for a field with both signs
    size : (width, height), optional
    off_screen : bool, optional
        Render off screen (for tests and screenshots); default: a window (needs a display).

    Attributes
    ----------
    plotter : pyvista.Plotter
    feature : str
        The feature shown.
    channel : int
        The channel shown.
    """

    def __init__(
        self,
        shape: Any,
        features: Mapping[str, Any],
        *,
        feature: str | None = None,
        channel: int = 0,
        labels: Any = None,
        on_pick: Callable[[int, dict[str, np.ndarray]], None] | None = None,
        cmap: str | None = None,
        size: Sequence[int] | None = None,
        off_screen: bool | None = None,
    ) -> None:
        self.shape = as_shape(shape)
        if not features and labels is None:
            raise ConfigError("nothing to show: give at least one feature or labels")
        self.features = {str(k): check_length(self.shape, v, name=str(k)) for k, v in features.items()}
        self.names = list(self.features)
        self.labels = None
        self._label_rgb = None
        if labels is not None:
            lab = np.asarray(labels)
            if lab.shape != (self.shape.n_verts,):
                raise FeatureError(
                    f"labels have {lab.shape[0] if lab.ndim else 0} entries but {self.shape.source or self.shape.name} "
                    f"has {self.shape.n_verts} vertices; the viewer needs one label per vertex"
                )
            self._label_rgb = label_colors(lab)[0]  # checks that the labels are whole numbers
            self.labels = lab.astype(np.int64)
        if feature is not None and feature not in self.features:
            raise FeatureError(f"feature {feature!r} is not among those given ({', '.join(self.names) or 'none'})")
        self.feature = feature or (self.names[0] if self.names else "")
        self.cmap = cmap
        self.on_pick = on_pick or self._log_pick
        self.show_labels = not self.names
        self.plotter = make_plotter(size=size, off_screen=off_screen)
        self.poly = to_polydata(self.shape)
        self.poly.point_data["value"] = np.zeros(self.shape.n_verts)
        self.channel = 0
        if self.names:
            C = self.features[self.feature].shape[1]
            take_channel(self.features[self.feature], channel, name=self.feature)  # range check
            self.channel = int(channel) % C
        self._build()

    # -- drawing ---------------------------------------------------------------------------
    def _values(self) -> np.ndarray:
        return self.features[self.feature][:, self.channel]

    def _style(self) -> tuple[str, tuple[float, float]]:
        return scalar_style(self._values(), cmap=self.cmap)

    def _title(self) -> str:
        C = self.features[self.feature].shape[1] if self.names else 0
        return f"{self.feature} [{self.channel}/{C - 1}]" if C > 1 else self.feature

    def _draw_surface(self) -> None:
        p = self.plotter
        p.remove_actor("surface", render=False)
        if p.scalar_bars:
            p.remove_scalar_bar()
        common: dict[str, Any] = {"name": "surface", "reset_camera": False, **surface_style(self.shape, p)}
        if self.show_labels and self._label_rgb is not None:
            self.poly.point_data["labels_rgb"] = self._label_rgb
            p.add_mesh(self.poly, scalars="labels_rgb", rgb=True, show_scalar_bar=False, **common)
            return
        self.poly.point_data["value"] = self._values()
        cmap, clim = self._style()
        p.add_mesh(
            self.poly, scalars="value", cmap=cmap, clim=list(clim), show_scalar_bar=True,
            scalar_bar_args=scalar_bar_args(self._title(), height=0.7),  # leaves the top free for the slider
            **common,
        )

    def _build(self) -> None:
        p = self.plotter
        self._draw_surface()
        frame_camera(p)
        if self.names:
            self._add_slider()
            p.add_key_event("n", lambda: self.set_feature(self.names[(self.names.index(self.feature) + 1) % len(self.names)]))
            p.add_key_event("p", lambda: self.set_feature(self.names[(self.names.index(self.feature) - 1) % len(self.names)]))
        if self.labels is not None and self.names:
            p.add_key_event("l", self.toggle_labels)
        help_text = "click: vertex values"
        if len(self.names) > 1:
            help_text += "   n/p: next/previous feature"
        if self.labels is not None and self.names:
            help_text += "   l: labels"
        p.add_text(help_text, position="lower_left", font_size=10, color="black", name="help")
        p.enable_point_picking(callback=self._picked, left_clicking=True, show_message=False, use_picker=False,
                               show_point=True, color="black", point_size=12)

    def _add_slider(self) -> None:
        p = self.plotter
        widgets = getattr(p, "widgets", p)  # pyvista >= 0.47 groups widget helpers under .widgets
        widgets.clear_slider_widgets()
        C = self.features[self.feature].shape[1]
        if C > 1:
            widgets.add_slider_widget(
                lambda value: self.set_channel(int(round(value))), [0, C - 1], value=self.channel,
                title=f"{self.feature} channel", fmt="%.0f", pointa=(0.08, 0.9), pointb=(0.62, 0.9),
                style="modern", color="black", title_color="black",
            )

    # -- interaction -----------------------------------------------------------------------
    @property
    def has_slider(self) -> bool:
        """True while a channel slider is shown (the current feature has several channels)."""
        widgets = getattr(self.plotter, "widgets", self.plotter)
        return bool(widgets.slider_widgets)

    def set_channel(self, channel: int) -> None:
        """Show channel ``channel`` of the current feature."""
        take_channel(self.features[self.feature], channel, name=self.feature)
        C = self.features[self.feature].shape[1]
        if int(channel) % C == self.channel and not self.show_labels:
            return
        self.channel = int(channel) % C
        self.show_labels = False
        self._draw_surface()
        self.plotter.render()

    def set_feature(self, name: str) -> None:
        """Show feature ``name`` (its first channel)."""
        if name not in self.features:
            raise FeatureError(f"feature {name!r} is not among those given ({', '.join(self.names)})")
        self.feature, self.channel, self.show_labels = name, 0, False
        self._draw_surface()
        self._add_slider()
        self.plotter.render()

    def toggle_labels(self) -> None:
        """Switch between the labels and the current feature."""
        if self._label_rgb is None:
            return
        self.show_labels = not self.show_labels or not self.names
        self._draw_surface()
        self.plotter.render()

    def values_at(self, vertex: int) -> dict[str, np.ndarray]:
        """``{feature: (C,) values}`` (and ``"labels"``) at one vertex."""
        out = {name: arr[int(vertex)] for name, arr in self.features.items()}
        if self.labels is not None:
            out["labels"] = self.labels[int(vertex) : int(vertex) + 1]
        return out

    def pick(self, point: Sequence[float]) -> int:
        """The vertex nearest ``point`` (3,): reports its values through ``on_pick`` and returns it."""
        d = np.linalg.norm(self.shape.verts - np.asarray(point, dtype=np.float64)[None, :3], axis=1)
        vertex = int(np.argmin(d))
        values = self.values_at(vertex)
        self.on_pick(vertex, values)
        shown = self._values()[vertex] if self.names else self.labels[vertex]
        self.plotter.add_text(f"vertex {vertex}: {self._title() or 'label'} = {shown:.4g}", position="upper_right",
                              font_size=11, color="black", name="picked")
        return vertex

    def _picked(self, point: Any, *args: Any) -> None:
        if point is None:
            return
        self.pick(np.asarray(point).ravel()[:3])

    @staticmethod
    def _log_pick(vertex: int, values: dict[str, np.ndarray]) -> None:
        log.info("vertex %d: %s", vertex, "; ".join(f"{k} = {np.array2string(np.asarray(v), precision=4)}" for k, v in values.items()))

    def show(self) -> None:
        """Open the window (blocks until it is closed)."""
        self.plotter.show()


def view(
    shape: Any,
    features: Mapping[str, Any] | None = None,
    *,
    feature: str | None = None,
    channel: int = 0,
    labels: Any = None,
    on_pick: Callable[[int, dict[str, np.ndarray]], None] | None = None,
    cmap: str | None = None,
    size: Sequence[int] | None = None,
    block: bool = True,
) -> FeatureViewer:
    """Open the interactive viewer (needs a display; see :class:`FeatureViewer`).

    With ``block=True`` (default) the call returns when the window is closed.
    """
    viewer = FeatureViewer(shape, features or {}, feature=feature, channel=channel, labels=labels,
                           on_pick=on_pick, cmap=cmap, size=size, off_screen=False)
    if block:
        viewer.show()
    return viewer
