"""Wavefront OBJ geometry, read by meshlearn itself.

Why not a library: trimesh (``process=False, maintain_order=True``) gives 7,716 vertices for
``trimesh__chair_model.obj``, whose file has 3,186 ``v`` lines (it splits vertices by texture
coordinate and object), so per-vertex labels would no longer line up; open3d reorders the vertices
of 10 of the 14 real OBJ files; meshio fails on 7 of them. See :mod:`meshlearn.io.formats`.
"""

from __future__ import annotations

import numpy as np

from ...errors import InvalidMeshError
from ..polygons import Polygons
from .text import coordinate_rows, decode_text

__all__ = ["read_obj"]


def read_obj(data: bytes, source: str) -> Polygons:
    """``v`` and ``f`` statements of an OBJ file, vertices in file order, polygons kept whole.

    Face corners may be ``i``, ``i/t``, ``i//n`` or ``i/t/n``; negative indices count back from the
    latest vertex; a trailing backslash continues a line. Other statements (``vt``, ``vn``, ``o``,
    ``g``, ``usemtl``, ``l`` ...) are ignored.
    """
    vrows: list[list[str]] = []
    corners: list[int] = []
    sizes: list[int] = []
    text = decode_text(data).replace("\\\r\n", " ").replace("\\\n", " ")  # joined continuation lines
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        head = parts[0]
        if head == "v":
            if len(parts) < 4:
                raise InvalidMeshError(
                    f"{source}: line {lineno}: a vertex needs 3 coordinates (got {line.strip()!r}); "
                    "fix that line or re-export the file"
                )
            vrows.append(parts[1:4])
        elif head == "f":
            nv = len(vrows)
            try:
                idx = [int(t.split("/", 1)[0]) for t in parts[1:]]
            except ValueError as e:
                raise InvalidMeshError(
                    f"{source}: line {lineno}: unreadable face {line.strip()!r}; fix that line or re-export the file"
                ) from e
            # 0 is no valid OBJ index: -1 makes it fail the range check with the file named
            corners.extend(i - 1 if i > 0 else (nv + i if i < 0 else -1) for i in idx)
            sizes.append(len(idx))
    verts = coordinate_rows(vrows, "vertex coordinates", source)
    if not sizes:
        return Polygons(verts)
    return Polygons(verts, np.array(corners, dtype=np.int64), np.array(sizes, dtype=np.int64))
