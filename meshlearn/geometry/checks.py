"""Input checks shared by the per-vertex operators: the public boundary of :mod:`meshlearn.geometry`.

Each function takes what a user passed, raises a :class:`~meshlearn.errors.MeshlearnError`
subclass that names the file, the problem and the fix, and returns the value coerced where it
coerces one. Letters: V vertices, F faces.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InvalidMeshError, where
from ..shape import Shape
from ..validate import out_of_range_message

__all__ = ["CLOUD_MIN_POINTS", "check_cloud_size", "check_frames", "check_knn", "check_shape"]

#: potpourri3d's point-cloud solvers build 30-point neighbourhoods: they need at least 31 points.
CLOUD_MIN_POINTS = 31


def check_cloud_size(shape: Shape) -> None:
    """Refuse a point cloud smaller than the heat-method solvers of potpourri3d accept."""
    if not shape.is_mesh and shape.n_verts < CLOUD_MIN_POINTS:
        raise InvalidMeshError(
            f"{where(shape.source)}the heat method on a point cloud needs at least {CLOUD_MIN_POINTS} points "
            f"(got {shape.n_verts}); sample the surface more densely"
        )


def check_shape(shape: Shape) -> None:
    """A :class:`Shape` with at least one vertex, finite (V, 3) vertices and (F, 3) faces in range."""
    if not isinstance(shape, Shape):
        raise ConfigError(f"expected a meshlearn.Shape (got {type(shape).__name__}); use meshlearn.load(path)")
    if shape.verts.ndim != 2 or shape.verts.shape[1] != 3:
        raise InvalidMeshError(
            f"{where(shape.source)}expected verts of shape (V, 3) (got {shape.verts.shape}); load the shape with "
            "meshlearn.load"
        )
    if shape.n_verts == 0:
        raise InvalidMeshError(f"{where(shape.source)}the shape has no vertices; load a non-empty file")
    if not np.all(np.isfinite(shape.verts)):
        raise InvalidMeshError(
            f"{where(shape.source)}{int((~np.isfinite(shape.verts)).any(1).sum())} vertices have NaN or "
            "infinite coordinates; load with clean=True to drop them"
        )
    if shape.is_mesh and shape.n_faces:
        f = shape.faces
        if f.ndim != 2 or f.shape[1] != 3:
            raise InvalidMeshError(f"{where(shape.source)}faces must be (F, 3) triangles (got shape {f.shape})")
        if f.min() < 0 or f.max() >= shape.n_verts:
            raise InvalidMeshError(
                f"{where(shape.source)}{out_of_range_message(f, shape.n_verts)}; the faces cannot be repaired "
                "safely: re-export the mesh"
            )


def check_knn(knn: int) -> int:
    """``knn`` as an int, at least 2."""
    if int(knn) < 2:
        raise ConfigError(f"knn must be an integer >= 2 (got {knn!r})")
    return int(knn)


def check_frames(shape: Shape, frames: np.ndarray) -> np.ndarray:
    """``frames`` as (V, 3, 3) float64 for ``shape``."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.shape != (shape.n_verts, 3, 3):
        raise ConfigError(
            f"{where(shape.source)}frames must be (V, 3, 3) = ({shape.n_verts}, 3, 3) (got {frames.shape}); "
            "compute them with tangent_frames(shape)"
        )
    return frames
