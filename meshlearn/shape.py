"""The Shape: a triangle mesh or a point cloud, as meshlearn passes it between stages.

Letters used for array shapes: V vertices, F faces.

Conventions
-----------
verts : (V, 3) float64
faces : (F, 3) int64, counter-clockwise seen from outside, or ``None`` for a point cloud.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import InvalidMeshError, where

__all__ = ["Shape"]


@dataclass(frozen=True, eq=False)
class Shape:
    """A triangle mesh (``faces`` given) or a point cloud (``faces is None``).

    Parameters
    ----------
    verts : (V, 3) float64
        Vertex positions.
    faces : (F, 3) int64 or None
        Triangles as vertex indices, counter-clockwise seen from outside; ``None`` for a point cloud.
    source : str or None
        Where the shape came from (a path, or a short description such as ``"trimesh.Trimesh"``).
    name : str
        A short name (the file stem by default).
    repairs : tuple of str
        What :func:`meshlearn.load` with ``clean=True`` changed, in words.
    meta : dict
        Free-form extra data (e.g. the normalisation applied).
    """

    verts: np.ndarray
    faces: np.ndarray | None = None
    source: str | None = None
    name: str = "shape"
    repairs: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        verts = np.ascontiguousarray(self.verts, dtype=np.float64)
        object.__setattr__(self, "verts", verts)
        if self.faces is not None:
            raw = np.asarray(self.faces)
            if raw.dtype.kind == "f" and not (np.isfinite(raw).all() and np.array_equal(raw, np.round(raw))):
                raise InvalidMeshError(
                    f"{where(self.source)}face indices must be whole numbers (got {raw.dtype} values such as "
                    "fractions, NaN or inf); pass (F, 3) int64 vertex indices"
                )
            object.__setattr__(self, "faces", np.ascontiguousarray(raw, dtype=np.int64))

    @property
    def is_mesh(self) -> bool:
        """True for a triangle mesh, False for a point cloud."""
        return self.faces is not None

    @property
    def n_verts(self) -> int:
        return int(self.verts.shape[0])

    @property
    def n_faces(self) -> int:
        return 0 if self.faces is None else int(self.faces.shape[0])

    def content_hash(self) -> str:
        """SHA-256 hex digest of the vertex and face bytes (the cache key's shape part)."""
        h = hashlib.sha256()
        h.update(b"verts")
        h.update(np.ascontiguousarray(self.verts, dtype="<f8").tobytes())
        if self.faces is not None:
            h.update(b"faces")
            h.update(np.ascontiguousarray(self.faces, dtype="<i8").tobytes())
        return h.hexdigest()

    def face_areas(self) -> np.ndarray:
        """(F,) float64 triangle areas; empty for a point cloud."""
        if self.faces is None:
            return np.zeros(0)
        tri = self.verts[self.faces]
        return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)

    def area(self) -> float:
        """Total surface area of a mesh (0.0 for a point cloud)."""
        return float(self.face_areas().sum())

    def diameter(self) -> float:
        """Length of the bounding-box diagonal, a cheap size scale for points and meshes."""
        if self.n_verts == 0:
            return 0.0
        return float(np.linalg.norm(self.verts.max(0) - self.verts.min(0)))

    def with_(self, **changes: Any) -> "Shape":
        """A copy with some fields replaced (the shape itself is never modified)."""
        return replace(self, **changes)

    def to_trimesh(self):
        """This mesh as a ``trimesh.Trimesh`` (no processing, no merging)."""
        import trimesh

        if self.faces is None:
            return trimesh.PointCloud(self.verts)
        return trimesh.Trimesh(self.verts, self.faces, process=False)

    def __repr__(self) -> str:
        kind = f"F={self.n_faces}" if self.is_mesh else "point cloud"
        return f"Shape(name={self.name!r}, V={self.n_verts}, {kind})"
