"""meshlearn: geometric deep learning on surfaces.

The pipeline: ``load`` -> ``compute_operators`` (cached) -> datasets -> nets -> train -> viz.

``import meshlearn`` loads the geometry and the file readers only. The subpackages that need
torch or the optional viewers (``meshlearn.nets``, ``meshlearn.viz``, ``meshlearn.train``, ...)
are imported the first time one of their names is looked up (PEP 562), so ``meshlearn.nets.DiffusionNet``
works without an explicit ``import meshlearn.nets`` and a script that never touches them never
pays for torch, pyvista or open3d.
"""

import importlib as _importlib
from importlib.util import find_spec as _find_spec
from types import ModuleType as _ModuleType

from . import geometry
from .errors import (
    CacheError,
    ConfigError,
    DatasetError,
    InvalidMeshError,
    MeshlearnError,
    MissingDependencyError,
    SolverError,
    UnsupportedFormatError,
)
from .geometry.operators import OperatorSpec, Operators, compute_operators
from .preprocess import preprocess  # the function: cheap (numpy, scipy), and it shadows the subpackage
from .shape import Shape
from .validate import ValidationReport

# last, so that ``meshlearn.validate`` is the function (which loads paths and arrays) and not the
# module of the same name
from .io import load, save, validate  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "CacheError",
    "ConfigError",
    "DatasetError",
    "InvalidMeshError",
    "MeshlearnError",
    "MissingDependencyError",
    "OperatorSpec",
    "Operators",
    "Shape",
    "SolverError",
    "UnsupportedFormatError",
    "ValidationReport",
    "compute_operators",
    "geometry",
    "load",
    "preprocess",
    "save",
    "validate",
]

#: Subpackages and modules imported on first attribute access (``meshlearn.nets``, ...). A name
#: listed here whose module is not part of this installation is simply absent.
LAZY_SUBMODULES: tuple[str, ...] = (
    "cache",
    "cli",
    "correspondence",
    "datasets",
    "errors",
    "gauge",
    "io",
    "learn",
    "nets",
    "optional",
    "shape",
    "testing",
    "train",
    "viz",
)


def __getattr__(name: str) -> _ModuleType:
    """Import ``meshlearn.<name>`` on first access (PEP 562); later lookups find it in the namespace."""
    if name in LAZY_SUBMODULES:
        try:
            module = _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise  # the subpackage exists but one of its own imports is missing
        else:
            globals()[name] = module
            return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The namespace plus the subpackages that can be imported lazily."""
    lazy = [n for n in LAZY_SUBMODULES if n in globals() or _find_spec(f"{__name__}.{n}") is not None]
    return sorted(n for n in set(globals()) | set(lazy) if not n.startswith("_") or n == "__version__")
