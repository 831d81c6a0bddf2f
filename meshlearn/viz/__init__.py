"""Looking at shapes and what meshlearn computes on them, with pyvista.

Every ``plot_*`` function takes the shape first and keyword-only options, and returns a
:class:`pyvista.Plotter` (call ``.show()`` for a window, or ``export_html(plotter, "x.html")``),
or, when ``screenshot="out.png"`` is given, renders off screen (no display needed) and returns
the PNG's path. Point clouds are drawn as points, meshes as smooth-shaded surfaces.

==========================  ===============================================================
:func:`plot_scalars`        one per-vertex or per-face field, colormap and colour bar
:func:`plot_labels`         categorical labels with a legend
:func:`plot_vectors`        a vector field as arrows
:func:`plot_frames`         tangent frames (x red, y green, normal blue)
:func:`plot_isolines`       a field with its isolines (geodesic distance)
:func:`plot_shapes`         several shapes side by side, linked cameras
:func:`plot_correspondence` colour transfer from a template to a target through a map
:class:`FeatureViewer`      interactive window: channel slider, picking
:func:`export_mesh`         .vtp (ParaView) / .ply (MeshLab) with every array
:func:`export_html`         a self-contained interactive web page
==========================  ===============================================================
"""

from .compare import plot_shapes
from .correspondence import plot_correspondence, position_colors, transfer_colors
from .errors import DisplayError, FeatureError
from .export import EXPORT_FORMATS, export_html, export_mesh, scalar_colors
from .features import FEATURE_NAMES, compute_feature, operator_features
from .glyphs import plot_frames, plot_vectors, spread_subset
from .interactive import FeatureViewer, view
from .isolines import isolines, plot_isolines
from .labels import label_colors, label_palette, plot_labels
from .predictions import Prediction, read_labels, read_predictions
from .render import DEFAULT_SIZE, has_display, to_polydata
from .scalars import plot_scalars

__all__ = [
    "DEFAULT_SIZE",
    "DisplayError",
    "EXPORT_FORMATS",
    "FEATURE_NAMES",
    "FeatureError",
    "FeatureViewer",
    "Prediction",
    "compute_feature",
    "export_html",
    "export_mesh",
    "has_display",
    "isolines",
    "label_colors",
    "label_palette",
    "operator_features",
    "plot_correspondence",
    "plot_frames",
    "plot_isolines",
    "plot_labels",
    "plot_scalars",
    "plot_shapes",
    "plot_vectors",
    "position_colors",
    "read_labels",
    "read_predictions",
    "scalar_colors",
    "spread_subset",
    "to_polydata",
    "transfer_colors",
    "view",
]
