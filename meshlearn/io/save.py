"""Writing a :class:`Shape` to a file, atomically and in full precision."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InvalidMeshError, UnsupportedFormatError, WriteError
from ..shape import Shape
from .formats import MESH_EXTENSIONS

__all__ = ["save"]


def _text_rows(prefix: str, arr: np.ndarray, fmt: str) -> str:
    """``arr`` (N, k) as text lines, each ``prefix`` followed by the values in ``fmt``."""
    buf = io.StringIO()
    np.savetxt(buf, arr, fmt=fmt, delimiter=" ")
    if not prefix:
        return buf.getvalue()
    return "".join(prefix + line + "\n" for line in buf.getvalue().splitlines())


def _obj_bytes(shape: Shape) -> bytes:
    text = _text_rows("v ", shape.verts, "%.17g")
    if shape.is_mesh:
        text += _text_rows("f ", shape.faces + 1, "%d")
    return text.encode()


def _off_bytes(shape: Shape) -> bytes:
    head = f"OFF\n{shape.n_verts} {shape.n_faces} 0\n"
    faces = np.hstack([np.full((shape.n_faces, 1), 3, np.int64), shape.faces])
    return (head + _text_rows("", shape.verts, "%.17g") + _text_rows("", faces, "%d")).encode()


def _ply_bytes(shape: Shape) -> bytes:
    """Binary little-endian PLY with double coordinates (and int32 triangle lists for a mesh)."""
    head = ["ply", "format binary_little_endian 1.0", f"element vertex {shape.n_verts}",
            "property double x", "property double y", "property double z"]
    body = np.ascontiguousarray(shape.verts, dtype="<f8").tobytes()
    if shape.is_mesh:
        head += [f"element face {shape.n_faces}", "property list uchar int vertex_indices"]
        rec = np.zeros(shape.n_faces, dtype=[("n", "u1"), ("idx", "<i4", (3,))])
        rec["n"] = 3
        rec["idx"] = shape.faces
        body += rec.tobytes()
    return ("\n".join(head + ["end_header"]) + "\n").encode() + body


def save(shape: Shape, path: str | os.PathLike) -> Path:
    """Write a shape to a file, atomically (a temporary file in the same folder, then a rename).

    Coordinates are written in full float64 precision (``.obj .off .xyz .pts`` as shortest exact
    decimals, ``.ply`` as binary doubles), so :func:`load` gives back the same numbers; ``.stl``
    stores float32 by definition. Missing parent folders are created.

    Parameters
    ----------
    shape : Shape
        A mesh is written as ``.obj .ply .off .stl``; a point cloud as ``.ply .xyz .pts``.
    path : str or os.PathLike
        The file; its extension picks the format.

    Returns
    -------
    Path
        The written file. Reading it back with :func:`load` gives the same vertices (in the same
        order, except ``.stl``, which stores a triangle soup) and faces.

    Raises
    ------
    UnsupportedFormatError
        An extension that does not fit the shape (a point cloud as ``.obj``, for instance).
    InvalidMeshError
        A shape with no vertices, or a mesh with no faces.
    WriteError
        The folder or file cannot be written.
    """
    from ..cache import atomic_write_bytes

    if not isinstance(shape, Shape):
        raise ConfigError(f"expected a meshlearn.Shape (got {type(shape).__name__}); make one with meshlearn.load(...)")
    path = Path(path)
    ext = path.suffix.lower()
    if shape.n_verts == 0:
        raise InvalidMeshError(f"{path}: the shape has no vertices; there is nothing to save")
    if shape.is_mesh:
        if ext not in MESH_EXTENSIONS:
            raise UnsupportedFormatError(f"{path}: a mesh is saved as one of {MESH_EXTENSIONS} (got {ext!r})")
        if shape.n_faces == 0:
            raise InvalidMeshError(
                f"{path}: the mesh has no faces; save it as a point cloud (Shape(verts)) to .ply, .xyz or .pts"
            )
        if ext == ".stl":
            import trimesh

            data = trimesh.Trimesh(shape.verts, shape.faces, process=False, validate=False).export(file_type="stl")
        else:
            data = {".obj": _obj_bytes, ".off": _off_bytes, ".ply": _ply_bytes}[ext](shape)
    else:
        if ext == ".ply":
            data = _ply_bytes(shape)
        elif ext in (".xyz", ".pts"):
            data = _text_rows("", shape.verts, "%.17g").encode()
        else:
            raise UnsupportedFormatError(f"{path}: a point cloud is saved as .ply, .xyz or .pts (got {ext!r})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as e:
        raise WriteError(f"{path}: cannot write the file ({e.strerror or e}); check the folder and its permissions") from e
    return path
