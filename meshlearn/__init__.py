"""meshlearn: geometric deep learning on surfaces.

The pipeline: ``load`` -> ``compute_operators`` (cached) -> datasets -> nets -> train -> viz.
"""

from . import geometry
from .errors import (
    CacheError,
    ConfigError,
    DatasetError,
    InvalidMeshError,
    MeshlearnError,
    SolverError,
    UnsupportedFormatError,
)
from .geometry.operators import OperatorSpec, Operators, compute_operators
from .preprocess import preprocess
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
