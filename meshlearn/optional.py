"""Optional dependencies: import them on first use, or say which extra installs them.

The core install (``pip install meshlearn``) is what the geometry and the nets need. Viewers,
some file formats, distributed preprocessing and logging live in extras::

    pip install "meshlearn[viz]"    # pyvista, matplotlib: pictures, the viewer, exports
    pip install "meshlearn[io]"     # open3d: point-cloud formats (.pcd), closest-point queries
    pip install "meshlearn[dist]"   # dask[distributed]: preprocessing on a cluster
    pip install "meshlearn[html]"   # trame: self-contained interactive HTML pages
    pip install "meshlearn[tb]"     # tensorboard: training logs
    pip install "meshlearn[all]"    # everything above

Call :func:`require` where a feature first needs the module, never at import time of a
meshlearn module that the core uses.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["EXTRAS", "require"]

#: Python module -> (extra that installs it, distribution name on PyPI)
EXTRAS: dict[str, tuple[str, str]] = {
    "pyvista": ("viz", "pyvista"),
    "vtk": ("viz", "pyvista"),
    "vtkmodules": ("viz", "pyvista"),
    "matplotlib": ("viz", "matplotlib"),
    "open3d": ("io", "open3d"),
    "dask": ("dist", "dask[distributed]"),
    "distributed": ("dist", "dask[distributed]"),
    "trame": ("html", "trame"),
    "trame_vtk": ("html", "trame-vtk"),
    "trame_vuetify": ("html", "trame-vuetify"),
    "trame_pyvista": ("html", "trame-pyvista"),
    "nest_asyncio2": ("html", "nest_asyncio2"),
    "tensorboard": ("tb", "tensorboard"),
    "torch.utils.tensorboard": ("tb", "tensorboard"),
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingDependencyError` naming the fix.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"pyvista"``.
    feature : str
        What needs it, in words, for the message (e.g. ``"meshlearn view"``).

    Examples
    --------
    >>> np = require("numpy", "the geometry")
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        extra, dist = EXTRAS.get(module, EXTRAS.get(top, (None, top)))
        fix = f'pip install "meshlearn[{extra}]"' if extra else f"pip install {dist}"
        raise MissingDependencyError(
            f"{feature} needs {dist}, which is not installed ({e}); install it with: {fix}"
        ) from e
