"""Reading files into :class:`~meshlearn.io.polygons.Polygons`: which reader serves which format, and why.

:func:`read_file` picks the reader by extension. Libraries read what they read right; meshlearn
has its own reader only for a kind of file on which the libraries were measured to fail (wrong
vertex order or count, lost or wrong faces, an error on a valid file). Every reader keeps the
file's vertex order exactly: labels and correspondence files index it.

========  =================================  ===============================================
format    reader                             why
========  =================================  ===============================================
``.stl``  trimesh                            right on every file measured
``.ply``  trimesh; :mod:`.ply_lists` and     trimesh rejects binary polygon PLYs and returns
          :mod:`.tristrips` (own)            no faces for strips; its raw face lists keep
                                             polygons whole and in file order
``.obj``  :mod:`.obj` (own)                  trimesh changes the vertex count of a real file
``.off``  :mod:`.off` (own)                  trimesh drops wrapped faces, open3d and meshio
                                             reject ``OFF8 6 12``, meshio COFF / NOFF
``.xyz``  :mod:`.points_text` (own)          trimesh fails on ``.pts``; open3d is optional
``.pts``
``.pcd``  :mod:`.pcd` (own header, ASCII     open3d invents or drops points of truncated
          and binary), open3d for            files without an error
          ``binary_compressed``
========  =================================  ===============================================

Measured with ``benchmarks/io_readers.py`` (trimesh 5.2.0 with ``process=False,
maintain_order=True``; meshio 5.3.5; open3d 0.20.0; plyfile 1.1.5) on the 29 files of
``shared/meshes`` and 25 synthetic files of the awkward kinds; a reader is right for a file when it
returns the file's vertices in the file's order and its faces (polygons whole, or their fan
triangles):

======================  =====  =======  ======  ======  =======  =========
kind of file            files  trimesh  meshio  open3d  plyfile  meshlearn
======================  =====  =======  ======  ======  =======  =========
OBJ, real               16     15       10      0       n/a      16
OBJ, synthetic          2      2        0       0       n/a      2
OFF, real               1      1        1       1       n/a      1
OFF, synthetic          9      7        1       6       n/a      9
PLY, real               9      8        9       9       9        9
PLY, synthetic          7      4        3       6       6        7
STL, real + synthetic   4      4        2       3       n/a      4
XYZ / PTS               3      2        0       3       n/a      3
PCD (3 DATA modes)      3      0        0       3       n/a      3
======================  =====  =======  ======  ======  =======  =========

What went wrong: trimesh gives 7,716 vertices for ``trimesh__chair_model.obj`` (3,186 ``v``
lines), no faces at all for wrapped OFF faces and for a tristrip PLY, a TypeError for an OFF
hexagon, and rejects binary PLYs that mix triangles and polygons (``potpourri3d__bunny_poly.ply``);
it also splits OFF and PLY polygons itself, so their number is lost. open3d reorders or duplicates
the vertices of every real OBJ (``order`` or a wrong count), rejects ``OFF8 6 12`` and wrapped
faces, and returns no faces for strips. meshio rejects COFF, NOFF and counts on the header line
(its ``read`` then calls ``sys.exit(1)``), and 6 real OBJs. plyfile reads every PLY right but returns the raw
lists (strips undecoded), and is GPL-licensed, so meshlearn (MIT) does not depend on it. The
per-file table is ``benchmarks/results/io_readers.md``.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InvalidMeshError, MeshlearnError, UnsupportedFormatError
from ..polygons import Polygons
from .obj import read_obj
from .off import read_off
from .pcd import read_pcd
from .ply import read_ply
from .points_text import read_points_text
from .stl import read_stl

__all__ = ["FILE_EXTENSIONS", "MESH_EXTENSIONS", "POINT_CLOUD_EXTENSIONS", "read_file"]

MESH_EXTENSIONS = (".obj", ".ply", ".off", ".stl")
POINT_CLOUD_EXTENSIONS = (".ply", ".pcd", ".xyz", ".pts")
FILE_EXTENSIONS = tuple(sorted(set(MESH_EXTENSIONS + POINT_CLOUD_EXTENSIONS)))


def read_file(path: str | Path) -> Polygons:
    """Read a mesh or point cloud file: vertices in file order, faces as the file's polygons.

    Parameters
    ----------
    path : str or Path
        ``.obj .ply .off .stl`` meshes, ``.ply .pcd .xyz .pts`` point clouds (a ``.ply`` without
        faces is a point cloud).

    Returns
    -------
    Polygons
        ``verts`` (V, 3) float64; ``corners`` and ``sizes`` of the polygons, or None for a point cloud.

    Raises
    ------
    UnsupportedFormatError
        An extension meshlearn does not read, or a variant of a format it does not support.
    InvalidMeshError
        A missing, unreadable, empty, truncated or corrupted file; the message names the file.
    """
    path = Path(path)
    source = str(path)
    ext = path.suffix.lower()
    if ext not in FILE_EXTENSIONS:
        raise UnsupportedFormatError(
            f"{source}: unsupported file type {ext or '(no extension)'!r}; meshlearn reads meshes "
            f"({' '.join(MESH_EXTENSIONS)}) and point clouds ({' '.join(POINT_CLOUD_EXTENSIONS)}); "
            "convert the file to one of those"
        )
    if not path.exists():
        raise InvalidMeshError(f"{source}: no such file; check the path")
    if path.is_dir():
        raise InvalidMeshError(f"{source}: is a folder, not a file; give the path of a mesh file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InvalidMeshError(f"{source}: cannot read the file ({e.strerror}); check its permissions") from e
    if not data.strip():
        raise InvalidMeshError(f"{source}: the file is empty; re-export it")
    try:
        if ext == ".obj":
            return read_obj(data, source)
        if ext == ".off":
            return read_off(data, source)
        if ext == ".ply":
            return read_ply(data, source)
        if ext == ".stl":
            return read_stl(data, source)
        if ext == ".pcd":
            return read_pcd(data, source, path)
        return read_points_text(data, source, count_line=ext == ".pts")
    except MeshlearnError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, MemoryError, RuntimeError, AttributeError) as e:
        raise InvalidMeshError(
            f"{source}: cannot read this {ext} file ({type(e).__name__}: {e}); check that it is not truncated or corrupted"
        ) from e
