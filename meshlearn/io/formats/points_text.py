"""XYZ and PTS point clouds (one point per line), read by meshlearn itself.

Why meshlearn's own: trimesh fails on a ``.pts`` file that starts with its point count, and open3d,
which reads both, is an optional dependency of meshlearn. The format is a few lines of numpy.
"""

from __future__ import annotations

from ...errors import InvalidMeshError
from ..polygons import Polygons
from .text import coordinate_rows, decode_text

__all__ = ["read_points_text"]


def read_points_text(data: bytes, source: str, *, count_line: bool) -> Polygons:
    """Points in file order: the first three numbers of each line are x y z.

    More columns (normals, intensity, colour) are ignored; commas count as spaces; lines starting
    with ``#`` or ``//`` are comments. With ``count_line`` (``.pts``) a first line holding a single
    number is the point count and is skipped.
    """
    rows = []
    for line in decode_text(data).splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("//"):
            continue
        parts = s.replace(",", " ").split()
        if count_line and not rows and len(parts) == 1:
            continue
        if len(parts) < 3:
            raise InvalidMeshError(f"{source}: a point line needs 3 coordinates (got {s[:60]!r}); write x y z per line")
        rows.append(parts[:3])
    return Polygons(coordinate_rows(rows, "point coordinates", source))
