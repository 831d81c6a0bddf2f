"""Loading meshes and point clouds into a :class:`~meshlearn.shape.Shape`, with cleaning and normalisation.

Letters used for array shapes: V vertices, F faces.

What :func:`load` accepts
-------------------------
- a path: ``.obj .ply .off .stl`` for meshes, ``.ply .pcd .xyz .pts`` for point clouds (a ``.ply``
  without faces is a point cloud);
- a ``trimesh.Trimesh`` / ``trimesh.PointCloud`` / ``trimesh.Scene``, an open3d ``TriangleMesh`` /
  ``PointCloud``, a pyvista ``PolyData``, or a :class:`Shape`;
- arrays: a ``(verts, faces)`` tuple, or ``verts`` alone for a point cloud.

Conventions
-----------
- The vertex order of a file is kept exactly (no merging, no reordering) unless ``clean=True``;
  datasets rely on it for per-vertex labels. Cleaning stores, in ``shape.meta["vertex_map"]``,
  the original index of every kept vertex, so labels follow with ``labels[shape.meta["vertex_map"]]``
  (and ``shape.meta["face_map"]`` for faces).
- Polygons (quads and larger) are split into triangles as a fan from their first corner (exact for
  convex polygons); their number is kept in ``shape.meta["non_triangle_faces"]``.
- ``shape.meta`` keys set here: ``non_triangle_faces`` (int), ``vertex_map`` and ``face_map``
  (with ``clean``), ``normalize``, ``offset`` (3 floats), ``scale`` (with ``normalize``).
- Files are read by numpy and pure-Python readers (trimesh's for PLY and STL, meshlearn's own for
  OBJ, OFF, XYZ, PTS, PCD and polygon PLY), never by a compiled reader that could crash on a broken
  file.
"""

from __future__ import annotations

import io as _io
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, InvalidMeshError, MeshlearnError, UnsupportedFormatError, WriteError, where
from .shape import Shape
from .validate import (
    degenerate_face_mask,
    duplicate_face_mask,
    duplicate_vertex_representatives,
    edge_topology,
    half_edges,
    face_components,
    inconsistent_winding_count,
    nonfinite_vertex_mask,
    out_of_range_face_mask,
    out_of_range_message,
    zero_area_face_mask,
)

__all__ = ["load", "save", "MESH_EXTENSIONS", "POINT_CLOUD_EXTENSIONS", "NORMALIZE_KINDS"]

log = logging.getLogger(__name__)

MESH_EXTENSIONS = (".obj", ".ply", ".off", ".stl")
POINT_CLOUD_EXTENSIONS = (".ply", ".pcd", ".xyz", ".pts")
NORMALIZE_KINDS = ("area", "radius")
_ALL_EXTENSIONS = tuple(sorted(set(MESH_EXTENSIONS + POINT_CLOUD_EXTENSIONS)))


# --------------------------------------------------------------------------------------------
# polygons -> triangles
# --------------------------------------------------------------------------------------------


def _triangulate(flat: np.ndarray, sizes: np.ndarray, source: str | None) -> tuple[np.ndarray, int]:
    """Fan-triangulate polygons given as concatenated corner indices ``flat`` and corner counts ``sizes``.

    Returns the (F, 3) int64 triangles and the number of polygons that were not triangles.
    """
    flat = np.asarray(flat, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    if len(sizes) == 0:
        return np.zeros((0, 3), dtype=np.int64), 0
    if (sizes < 3).any():
        n = int((sizes < 3).sum())
        raise InvalidMeshError(
            f"{where(source)}{n} faces have fewer than 3 corners; remove those lines (points and edges are "
            "not faces) or re-export the mesh as triangles"
        )
    if int(sizes.sum()) != len(flat):
        raise InvalidMeshError(f"{where(source)}face list is truncated; re-export the file")
    if (sizes == 3).all():
        return flat.reshape(-1, 3), 0
    starts = np.cumsum(sizes) - sizes
    n_tri = sizes - 2
    poly = np.repeat(np.arange(len(sizes)), n_tri)
    j = np.arange(int(n_tri.sum())) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri)
    s = starts[poly]
    tris = np.stack([flat[s], flat[s + j + 1], flat[s + j + 2]], axis=1)
    return tris, int((sizes > 3).sum())


# --------------------------------------------------------------------------------------------
# file readers: each returns (verts (V, 3) float64, flat corner indices or None, sizes or None)
# --------------------------------------------------------------------------------------------


def _floats(rows: list[list[str]], what: str, source: str) -> np.ndarray:
    try:
        arr = np.array(rows, dtype=np.float64)
    except (ValueError, OverflowError) as e:
        raise InvalidMeshError(f"{source}: unreadable {what} ({e}); check the file is not corrupted") from e
    return arr.reshape(-1, 3)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _read_obj(data: bytes, source: str):
    """Wavefront OBJ geometry: ``v`` lines and ``f`` lines (``i``, ``i/t``, ``i//n``, ``i/t/n``;
    negative indices count back from the latest vertex; a trailing backslash continues a line).
    Other statements are ignored."""
    vrows: list[list[str]] = []
    flat: list[int] = []
    sizes: list[int] = []
    text = _text(data).replace("\\\r\n", " ").replace("\\\n", " ")  # joined continuation lines
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        head = parts[0]
        if head == "v":
            if len(parts) < 4:
                raise InvalidMeshError(f"{source}: line {lineno}: a vertex needs 3 coordinates (got {line.strip()!r}); "
                    "fix that line or re-export the file")
            vrows.append(parts[1:4])
        elif head == "f":
            nv = len(vrows)
            try:
                idx = [int(t.split("/", 1)[0]) for t in parts[1:]]
            except ValueError as e:
                raise InvalidMeshError(f"{source}: line {lineno}: unreadable face {line.strip()!r}; "
                    "fix that line or re-export the file") from e
            flat.extend(i - 1 if i > 0 else (nv + i if i < 0 else -1) for i in idx)
            sizes.append(len(idx))
    verts = _floats(vrows, "vertex coordinates", source)
    if not sizes:
        return verts, None, None
    return verts, np.array(flat, dtype=np.int64), np.array(sizes, dtype=np.int64)


def _read_off(data: bytes, source: str):
    """Object File Format (OFF, COFF, NOFF ...): header, counts, vertex lines, then ``k i1 .. ik``
    face lines (extra values such as colours are ignored)."""
    lines = []
    for line in _text(data).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    if not lines or not re.match(r"^[A-Z]*OFF", lines[0]):
        raise UnsupportedFormatError(f"{source}: not an OFF file (the first line must be OFF)")
    if "BINARY" in lines[0].upper():
        raise UnsupportedFormatError(f"{source}: binary OFF is not supported; save it as ASCII OFF, OBJ or PLY")
    rest = lines[0].split()[1:]
    body = lines[1:]
    if len(rest) < 2:
        if not body:
            raise InvalidMeshError(f"{source}: OFF file has no vertex/face count line; re-export the file")
        rest = body[0].split()
        body = body[1:]
    try:
        nv, nf = int(rest[0]), int(rest[1])
    except (ValueError, IndexError) as e:
        raise InvalidMeshError(f"{source}: OFF count line is unreadable ({' '.join(rest)!r}); re-export the file") from e
    if nv < 0 or nf < 0 or nv + nf > len(body):
        raise InvalidMeshError(
            f"{source}: OFF header announces {nv} vertices and {nf} faces but the file has {len(body)} data "
            "lines; the file is truncated or corrupted"
        )
    vrows = [ln.split()[:3] for ln in body[:nv]]
    if any(len(r) < 3 for r in vrows):
        raise InvalidMeshError(f"{source}: an OFF vertex line has fewer than 3 coordinates; re-export the file")
    verts = _floats(vrows, "vertex coordinates", source)
    if nf == 0:
        return verts, None, None
    flat: list[int] = []
    sizes: list[int] = []
    try:
        for ln in body[nv : nv + nf]:
            toks = ln.split()
            k = int(toks[0])
            if k < 0 or len(toks) < k + 1:
                raise ValueError(f"face line {ln!r} is shorter than its count")
            flat.extend(int(t) for t in toks[1 : k + 1])
            sizes.append(k)
    except ValueError as e:
        raise InvalidMeshError(f"{source}: unreadable OFF face ({e}); re-export the file") from e
    return verts, np.array(flat, dtype=np.int64), np.array(sizes, dtype=np.int64)


def _read_points_text(data: bytes, source: str, pts: bool):
    """XYZ / PTS point clouds: one point per line, the first three numbers are x y z (more columns,
    e.g. normals, intensity or colour, are ignored). A PTS file may start with a count line."""
    rows = []
    for line in _text(data).splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("//"):
            continue
        parts = s.replace(",", " ").split()
        if pts and not rows and len(parts) == 1:
            continue  # the optional point-count line of a .pts file
        if len(parts) < 3:
            raise InvalidMeshError(f"{source}: a point line needs 3 coordinates (got {s[:60]!r}); write x y z per line")
        rows.append(parts[:3])
    return _floats(rows, "point coordinates", source), None, None


_PCD_TYPES = {("F", 4): "<f4", ("F", 8): "<f8", ("I", 1): "<i1", ("I", 2): "<i2", ("I", 4): "<i4",
              ("I", 8): "<i8", ("U", 1): "<u1", ("U", 2): "<u2", ("U", 4): "<u4", ("U", 8): "<u8"}


def _read_pcd(data: bytes, source: str, path: Path | None):
    """Point Cloud Data (PCL): ASCII and binary read here; ``binary_compressed`` through open3d once
    the header has been checked."""
    header: dict[str, list[str]] = {}
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            raise InvalidMeshError(f"{source}: PCD header has no DATA line; the file is truncated or not PCD")
        line = data[pos:end].decode("ascii", errors="replace").strip()
        pos = end + 1
        if not line or line.startswith("#"):
            continue
        key, *vals = line.split()
        header[key.upper()] = vals
        if key.upper() == "DATA":
            break
        if pos > 4096 or len(header) > 32:
            raise InvalidMeshError(f"{source}: no PCD header found; is this a .pcd file?")
    try:
        fields = header["FIELDS"]
        n = int(header.get("POINTS", [0])[0]) or int(header["WIDTH"][0]) * int(header.get("HEIGHT", ["1"])[0])
        sizes = [int(s) for s in header.get("SIZE", ["4"] * len(fields))]
        types = header.get("TYPE", ["F"] * len(fields))
        counts = [int(c) for c in header.get("COUNT", ["1"] * len(fields))]
        mode = header["DATA"][0].lower()
        cols = [fields.index(c) for c in ("x", "y", "z")]
    except (KeyError, ValueError, IndexError) as e:
        raise InvalidMeshError(f"{source}: PCD header is incomplete or has no x y z fields ({e}); re-export the file") from e
    if not (len(fields) == len(sizes) == len(types) == len(counts)) or n < 0 or min(counts, default=1) < 1:
        raise InvalidMeshError(f"{source}: PCD header fields, sizes, types and counts disagree; re-export the file")
    if mode == "ascii":
        rows = [ln.split() for ln in _text(data[pos:]).splitlines() if ln.strip()]
        starts = np.cumsum([0] + counts)[:-1]
        want = sum(counts)
        if len(rows) < n or any(len(r) < want for r in rows[:n]):
            raise InvalidMeshError(f"{source}: PCD data is shorter than its {n} points; the file is truncated")
        return _floats([[r[starts[c]] for c in cols] for r in rows[:n]], "point coordinates", source), None, None
    try:
        columns = enumerate(zip(types, sizes, counts))
        dtype = np.dtype([(f"f{i}", _PCD_TYPES[(t.upper(), s)], (c,)) for i, (t, s, c) in columns])
    except KeyError as e:
        raise InvalidMeshError(f"{source}: PCD header has an unknown TYPE/SIZE pair {e}; re-export the file") from e
    if mode == "binary":
        if len(data) - pos < n * dtype.itemsize:
            raise InvalidMeshError(f"{source}: PCD data is shorter than its {n} points; the file is truncated")
        rec = np.frombuffer(data, dtype=dtype, count=n, offset=pos)
        return np.stack([rec[f"f{c}"][:, 0].astype(np.float64) for c in cols], axis=1), None, None
    if mode == "binary_compressed" and path is not None:
        raw_size = np.frombuffer(data[pos : pos + 8], dtype="<u4") if len(data) >= pos + 8 else np.zeros(2)
        if len(raw_size) != 2 or raw_size[1] != n * dtype.itemsize or raw_size[0] > len(data) - pos - 8:
            raise InvalidMeshError(f"{source}: compressed PCD data does not match its header; the file is corrupted")
        import open3d as o3d

        with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
            pcd = o3d.io.read_point_cloud(str(path), format="pcd")
        return np.asarray(pcd.points, dtype=np.float64), None, None
    raise UnsupportedFormatError(f"{source}: PCD DATA mode {mode!r} is not supported; save as ascii or binary")


_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def _ply_lists_binary(data: bytes, source: str):
    """Binary PLY whose face lists vary in length (mixed triangles and polygons), which trimesh's
    reader rejects. Reads the header, the vertex block in one go, and the faces record by record."""
    end = data.find(b"end_header")
    if end < 0:
        raise InvalidMeshError(f"{source}: PLY header has no end_header; the file is truncated or damaged: re-export it")
    lines = data[:end].decode("ascii", errors="replace").splitlines()
    pos = data.find(b"\n", end) + 1
    fmt = None
    elements: list[tuple[str, int, list[tuple[str, ...]]]] = []
    for ln in lines:
        t = ln.split()
        if not t:
            continue
        if t[0] == "format":
            fmt = t[1]
        elif t[0] == "element":
            elements.append((t[1], int(t[2]), []))
        elif t[0] == "property" and elements:
            elements[-1][2].append(tuple(t[1:]))
    if fmt not in ("binary_little_endian", "binary_big_endian"):
        raise InvalidMeshError(f"{source}: PLY format {fmt!r} could not be read; re-export the file")
    bo = "<" if fmt == "binary_little_endian" else ">"
    verts = flat = sizes = None
    for name, count, props in elements:
        if count < 0:
            raise InvalidMeshError(f"{source}: PLY element {name} has a negative count; re-export the file")
        if all(p[0] != "list" for p in props):
            dtype = np.dtype([(p[1], bo + _PLY_TYPES[p[0]]) for p in props])
            if len(data) - pos < count * dtype.itemsize:
                raise InvalidMeshError(f"{source}: PLY element {name} is truncated; re-export the file")
            rec = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
            pos += count * dtype.itemsize
            if name == "vertex":
                verts = np.stack([rec[c].astype(np.float64) for c in ("x", "y", "z")], axis=1)
            continue
        # element with list properties: walk record by record
        parts = []
        for p in props:
            if p[0] == "list":
                parts.append((np.dtype(bo + _PLY_TYPES[p[1]]), np.dtype(bo + _PLY_TYPES[p[2]]), p[3]))
            else:
                parts.append((None, np.dtype(bo + _PLY_TYPES[p[0]]), p[1]))
        buf = memoryview(data)
        out_flat: list[np.ndarray] = []
        out_sizes = np.zeros(count, dtype=np.int64)
        for i in range(count):
            for cnt_t, item_t, pname in parts:
                if cnt_t is None:
                    pos += item_t.itemsize
                    continue
                if pos + cnt_t.itemsize > len(data):
                    raise InvalidMeshError(f"{source}: PLY element {name} is truncated; re-export the file")
                k = int(np.frombuffer(buf[pos : pos + cnt_t.itemsize], dtype=cnt_t)[0])
                pos += cnt_t.itemsize
                if k < 0 or pos + k * item_t.itemsize > len(data):
                    raise InvalidMeshError(f"{source}: PLY element {name} is truncated; re-export the file")
                if name == "face" and pname in ("vertex_indices", "vertex_index"):
                    out_flat.append(np.frombuffer(buf[pos : pos + k * item_t.itemsize], dtype=item_t))
                    out_sizes[i] = k
                pos += k * item_t.itemsize
        if name == "face":
            flat = np.concatenate(out_flat).astype(np.int64) if out_flat else np.zeros(0, np.int64)
            sizes = out_sizes
    if verts is None or set(("x", "y", "z")) - {p[-1] for e in elements if e[0] == "vertex" for p in e[2]}:
        raise InvalidMeshError(f"{source}: PLY file has no vertex element with x, y, z; re-export the file")
    return verts, flat, sizes


def _read_ply(data: bytes, source: str):
    """PLY (ASCII or binary) through trimesh's reader, keeping vertex order and the polygon sizes;
    binary polygon PLY (which trimesh rejects) through :func:`_ply_lists_binary`."""
    from trimesh.exchange.ply import load_ply

    if not data.startswith(b"ply"):
        raise UnsupportedFormatError(f"{source}: not a PLY file (it must start with 'ply')")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kw = load_ply(_io.BytesIO(data), skip_materials=True)
    except Exception as e:  # noqa: BLE001 - any failure of the reader means a file we cannot read this way
        if b"binary" in data[:200] and b"list" in data[: data.find(b"end_header") + 1]:
            return _ply_lists_binary(data, source)
        raise InvalidMeshError(f"{source}: cannot read this PLY file ({e}); check it is not truncated") from e
    verts = np.asarray(kw.get("vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    raw = kw.get("metadata", {}).get("_ply_raw", {}).get("face", {})
    rdata = raw.get("data") if isinstance(raw, dict) else None
    lists = None
    if isinstance(rdata, dict):
        lists = rdata.get("vertex_indices", rdata.get("vertex_index"))
    elif isinstance(rdata, np.ndarray) and rdata.dtype.names:
        key = next((k for k in ("vertex_indices", "vertex_index") if k in rdata.dtype.names), None)
        lists = rdata[key] if key else None
    if lists is None:
        faces = kw.get("faces")
        if faces is None or len(faces) == 0:
            return verts, None, None
        faces = np.asarray(faces, dtype=np.int64)
        return verts, faces.ravel(), np.full(len(faces), faces.shape[1])
    if lists.dtype.names:  # binary fixed-size lists: (count, indices)
        idx = np.asarray(lists[lists.dtype.names[1]], dtype=np.int64)
        idx = idx.reshape(len(idx), -1)
        return verts, idx.ravel(), np.full(len(idx), idx.shape[1])
    if lists.dtype == object:
        sizes = np.array([len(x) for x in lists], dtype=np.int64)
        flat = np.concatenate([np.asarray(x, dtype=np.int64).ravel() for x in lists]) if len(lists) else np.zeros(0)
        return verts, flat, sizes
    idx = np.asarray(lists, dtype=np.int64)
    idx = idx.reshape(len(idx), -1)
    return verts, idx.ravel(), np.full(len(idx), idx.shape[1])


def _read_stl(data: bytes, source: str):
    """STL (ASCII or binary, one or several solids) through trimesh: a triangle soup, three vertices
    per face, in file order."""
    import trimesh

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = trimesh.load(_io.BytesIO(data), file_type="stl", process=False, force="mesh")
    except Exception as e:  # noqa: BLE001
        raise InvalidMeshError(f"{source}: cannot read this STL file ({e}); check it is not truncated") from e
    faces = np.asarray(getattr(m, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    verts = np.asarray(getattr(m, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    return verts, faces.ravel(), np.full(len(faces), 3)


def _read_path(path: Path):
    """Read a file into (verts, flat, sizes); raise a MeshlearnError for anything unreadable."""
    source = str(path)
    ext = path.suffix.lower()
    if ext not in _ALL_EXTENSIONS:
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
    readers = {
        ".obj": lambda: _read_obj(data, source),
        ".off": lambda: _read_off(data, source),
        ".ply": lambda: _read_ply(data, source),
        ".stl": lambda: _read_stl(data, source),
        ".xyz": lambda: _read_points_text(data, source, pts=False),
        ".pts": lambda: _read_points_text(data, source, pts=True),
        ".pcd": lambda: _read_pcd(data, source, path),
    }
    try:
        return readers[ext]()
    except MeshlearnError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, MemoryError, RuntimeError, AttributeError) as e:
        raise InvalidMeshError(f"{source}: cannot read this {ext} file ({type(e).__name__}: {e}); "
                               "check that it is not truncated or corrupted") from e


# --------------------------------------------------------------------------------------------
# in-memory objects and arrays
# --------------------------------------------------------------------------------------------


def _coerce_verts(verts: Any, source: str | None) -> np.ndarray:
    try:
        arr = np.asarray(verts)
    except (ValueError, TypeError) as e:
        raise InvalidMeshError(
            f"{where(source)}vertices are not a numeric array ({e}); pass a (V, 3) float array"
        ) from e
    if arr.dtype.kind not in "iuf":
        raise InvalidMeshError(
            f"{where(source)}expected vertices as a (V, 3) float array (got dtype {arr.dtype}); convert them with "
            "np.asarray(verts, dtype=float)"
        )
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InvalidMeshError(f"{where(source)}expected vertices of shape (V, 3) (got {arr.shape}); pass x y z columns")
    return np.asarray(arr, dtype=np.float64)


def _coerce_faces(faces: Any, source: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(F, k) integer-valued faces -> flat corner indices and sizes (k >= 3)."""
    try:
        arr = np.asarray(faces)
    except (ValueError, TypeError) as e:
        raise InvalidMeshError(f"{where(source)}faces are not a rectangular array ({e}); pass (F, 3) int64") from e
    if arr.dtype.kind not in "iuf" or arr.ndim != 2:
        raise InvalidMeshError(
            f"{where(source)}expected faces as an (F, 3) integer array (got dtype {arr.dtype}, shape {arr.shape})"
        )
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
                raise InvalidMeshError(f"{where(source)}face indices must be whole numbers; pass (F, 3) int64")
    if arr.size and (arr.max() > np.iinfo(np.int64).max or arr.min() < np.iinfo(np.int64).min):
        raise InvalidMeshError(f"{where(source)}face indices do not fit in int64; pass (F, 3) int64 indices below V")
    arr = arr.astype(np.int64)
    if arr.shape[1] < 3 and arr.shape[0] > 0:
        raise InvalidMeshError(f"{where(source)}expected faces of shape (F, 3) (got {arr.shape}); pass triangles or polygons")
    if arr.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return arr.ravel(), np.full(len(arr), arr.shape[1], dtype=np.int64)


def _from_pyvista(obj: Any):
    import pyvista as pv

    if not isinstance(obj, pv.PolyData):
        raise InvalidMeshError(
            f"expected a pyvista PolyData surface (got {type(obj).__name__}); call .extract_surface() first"
        )
    verts = np.asarray(obj.points, dtype=np.float64).reshape(-1, 3)
    if obj.n_strips:
        obj = obj.triangulate()
    if obj.GetNumberOfPolys() == 0:
        return verts, None, None
    cells = obj.GetPolys()
    offsets = pv.convert_array(cells.GetOffsetsArray()).astype(np.int64)
    flat = pv.convert_array(cells.GetConnectivityArray()).astype(np.int64)
    return verts, flat, np.diff(offsets)


def _from_object(obj: Any):
    """(verts, flat, sizes, source, name) of a trimesh / open3d / pyvista object, or None."""
    mod = type(obj).__module__ or ""
    cls = type(obj).__name__
    if mod.startswith("trimesh"):
        import trimesh

        name = str(getattr(obj, "metadata", {}).get("file_name", "shape")).rsplit(".", 1)[0] or "shape"
        if isinstance(obj, trimesh.Scene):
            obj = obj.to_mesh() if hasattr(obj, "to_mesh") else obj.dump(concatenate=True)
        if isinstance(obj, trimesh.Trimesh):
            f = np.asarray(obj.faces, dtype=np.int64).reshape(-1, 3)
            return np.asarray(obj.vertices), f.ravel(), np.full(len(f), 3), "trimesh.Trimesh", name
        if isinstance(obj, trimesh.PointCloud):
            return np.asarray(obj.vertices), None, None, "trimesh.PointCloud", name
    if mod.startswith("open3d"):
        if hasattr(obj, "to_legacy"):
            obj = obj.to_legacy()
            cls = type(obj).__name__
        if cls == "TriangleMesh":
            f = np.asarray(obj.triangles, dtype=np.int64).reshape(-1, 3)
            return np.asarray(obj.vertices), f.ravel(), np.full(len(f), 3), "open3d.TriangleMesh", "shape"
        if cls == "PointCloud":
            return np.asarray(obj.points), None, None, "open3d.PointCloud", "shape"
    if mod.startswith("pyvista") or mod.startswith("vtk"):
        v, flat, sizes = _from_pyvista(obj)
        return v, flat, sizes, f"pyvista.{cls}", "shape"
    return None


# --------------------------------------------------------------------------------------------
# cleaning
# --------------------------------------------------------------------------------------------


def _compact(verts: np.ndarray, faces: np.ndarray | None, keep: np.ndarray, vmap: np.ndarray):
    """Keep the vertices in mask ``keep`` and renumber faces (which must use only kept vertices)."""
    new_index = np.cumsum(keep) - 1
    faces = None if faces is None else new_index[faces]
    return verts[keep], faces, vmap[keep]


def _fix_winding(faces: np.ndarray) -> np.ndarray:
    """Flip faces so that neighbours across manifold edges agree, one spanning tree per component.

    Each face is compared with its parent in a breadth-first tree of the face graph (faces linked
    through edges with exactly two faces) and reversed when the two traverse their shared edge the
    same way. On an orientable component every edge then agrees; on a non-orientable one (a Moebius
    strip) the disagreement is left on the edges that close the tree's cycles.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    F = len(faces)
    _, counts, half_to_edge = edge_topology(faces)
    half = half_edges(faces)
    manifold = np.flatnonzero(counts[half_to_edge] == 2)
    pairs = manifold[np.argsort(half_to_edge[manifold], kind="stable")].reshape(-1, 2)
    fa, fb = pairs[:, 0] // 3, pairs[:, 1] // 3
    disagree = half[pairs[:, 0], 0] == half[pairs[:, 1], 0]
    graph = coo_matrix((np.ones(len(fa)), (fa, fb)), shape=(F, F))
    _, labels = connected_components(graph, directed=False)
    _, roots = np.unique(labels, return_index=True)
    # one breadth-first search from a virtual node F linked to one face of every component
    rows = np.concatenate([fa, np.full(len(roots), F)])
    cols = np.concatenate([fb, roots])
    tree_graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(F + 1, F + 1)).tocsr()
    order, pred = breadth_first_order(tree_graph, F, directed=False, return_predecessors=True)
    # relation of each face with its parent: look the pair up among the manifold-edge pairs
    key = np.minimum(fa, fb) * (F + 1) + np.maximum(fa, fb)
    srt = np.argsort(key)
    key_s, dis_s = key[srt], disagree[srt]
    child = order[1:]
    parent = pred[child]
    rel = np.zeros(F + 1, dtype=bool)
    inner = parent != F
    c, p = child[inner], parent[inner]
    q = np.minimum(c, p) * (F + 1) + np.maximum(c, p)
    rel[c] = dis_s[np.searchsorted(key_s, q)]
    flip = [False] * (F + 1)
    pred_l, rel_l = pred.tolist(), rel.tolist()
    for f in child.tolist():
        flip[f] = flip[pred_l[f]] ^ rel_l[f]
    flip_arr = np.array(flip[:F], dtype=bool)
    out = faces.copy()
    out[flip_arr] = out[flip_arr][:, ::-1]
    return out


def _orient_outward(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, int]:
    """Reverse every closed, consistently wound component whose signed volume is negative."""
    edges, counts, half_to_edge = edge_topology(faces)
    _, flab = face_components(len(faces), half_to_edge, counts)
    half = half_edges(faces)
    _, inv, dir_counts = np.unique(half[:, 0] * len(verts) + half[:, 1], return_inverse=True, return_counts=True)
    # a face is unusable for orientation if it has a boundary or non-manifold edge, or disagrees with
    # a neighbour (its component is then open or non-orientable, and has no inside)
    bad_half = (counts[half_to_edge] != 2) | (dir_counts[inv.ravel()] > 1)
    bad_face = bad_half.reshape(-1, 3).any(axis=1)
    n_lab = int(flab.max()) + 1
    is_open = np.bincount(flab, weights=bad_face, minlength=n_lab) > 0
    t = verts[faces] / (float(np.abs(verts).max()) or 1.0)  # scaled: only the sign matters
    vol = np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])) / 6.0
    comp_vol = np.bincount(flab, weights=vol, minlength=n_lab)
    flip_comp = (~is_open) & (comp_vol < 0)
    flip = flip_comp[flab]
    if flip.any():
        faces = faces.copy()
        faces[flip] = faces[flip][:, ::-1]
    return faces, int(flip_comp.sum())


def _clean(verts: np.ndarray, faces: np.ndarray | None, source: str | None):
    """Repair what can be repaired safely; returns (verts, faces, repairs, vertex_map, face_map)."""
    repairs: list[str] = []
    vmap = np.arange(len(verts), dtype=np.int64)
    fmap = None if faces is None else np.arange(len(faces), dtype=np.int64)

    bad = nonfinite_vertex_mask(verts)
    if bad.any():
        n_bad_faces = 0
        if faces is not None:
            uses_bad = bad[faces].any(axis=1)
            n_bad_faces = int(uses_bad.sum())
            faces, fmap = faces[~uses_bad], fmap[~uses_bad]
        verts, faces, vmap = _compact(verts, faces, ~bad, vmap)
        repairs.append(
            f"dropped {int(bad.sum())} vertices with NaN/inf coordinates"
            + (f" and the {n_bad_faces} faces using them" if faces is not None else "")
        )
        if len(verts) == 0:
            raise InvalidMeshError(
                f"{where(source)}every vertex has NaN or infinite coordinates; nothing is left to load. "
                "Re-export the file from its source"
            )

    rep = duplicate_vertex_representatives(verts)
    dup = rep != np.arange(len(verts))
    if dup.any():
        keep = ~dup
        if faces is not None:
            faces = rep[faces]
        verts, faces, vmap = _compact(verts, faces, keep, vmap)
        repairs.append(f"welded {int(dup.sum())} duplicate vertices (same coordinates) into their first copy")

    if faces is None:
        return verts, None, repairs, vmap, None

    degenerate = degenerate_face_mask(faces)
    if degenerate.any():
        faces, fmap = faces[~degenerate], fmap[~degenerate]
        repairs.append(f"removed {int(degenerate.sum())} degenerate faces (a vertex named twice)")
    zero = zero_area_face_mask(verts, faces)
    if zero.any():
        faces, fmap = faces[~zero], fmap[~zero]
        repairs.append(f"removed {int(zero.sum())} zero-area faces")
    dupf = duplicate_face_mask(faces)
    if dupf.any():
        faces, fmap = faces[~dupf], fmap[~dupf]
        repairs.append(f"removed {int(dupf.sum())} duplicate faces (same three vertices)")
    if len(faces) == 0:
        raise InvalidMeshError(
            f"{where(source)}no usable face is left after removing degenerate, zero-area and duplicate faces; "
            "the file holds no surface (load it as a point cloud from its vertices instead)"
        )
    used = np.zeros(len(verts), dtype=bool)
    used[faces.ravel()] = True
    if not used.all():
        n_unused = int((~used).sum())
        verts, faces, vmap = _compact(verts, faces, used, vmap)
        repairs.append(f"removed {n_unused} vertices that no face uses")

    n_bad = inconsistent_winding_count(faces)
    if n_bad:
        fixed = _fix_winding(faces)
        left = inconsistent_winding_count(fixed)
        if left < n_bad:
            faces = fixed
            repairs.append(
                f"flipped faces to make the winding consistent ({n_bad} disagreeing edges before, {left} after"
                + ("; the rest is non-orientable or non-manifold" if left else "")
                + ")"
            )
    faces, n_flipped = _orient_outward(verts, faces)
    if n_flipped:
        repairs.append(f"reversed {n_flipped} closed component(s) whose normals pointed inwards")
    return verts, faces, repairs, vmap, fmap


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------


def _normalize(verts: np.ndarray, faces: np.ndarray | None, kind: str, source: str | None):
    """Centre and scale; returns (new verts, meta entries) with ``new = (old - offset) * scale``.

    The work is done on ``verts / m`` (m the largest absolute coordinate), so that coordinates near
    the float64 limit neither overflow nor lose the result.
    """
    m = float(np.abs(verts).max())
    if not m > 0:
        raise InvalidMeshError(
            f"{where(source)}cannot normalise: every vertex is at the origin; load it with normalize=None"
        )
    u = verts / m
    if faces is not None and len(faces):
        t = u[faces]
        areas = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
        total = float(areas.sum())
        if not total > 0:
            raise InvalidMeshError(f"{where(source)}cannot normalise a mesh of zero area; load it with clean=True")
        centre = (areas[:, None] * t.mean(axis=1)).sum(0) / total
    else:
        total = 0.0
        centre = u.mean(axis=0)
    centred = u - centre
    if kind == "area" and total > 0:
        scale = 1.0 / np.sqrt(total)
    else:  # "radius", and "area" for a point cloud (which has no area)
        r = float(np.linalg.norm(centred, axis=1).max())
        if not r > 0:
            raise InvalidMeshError(
                f"{where(source)}cannot normalise: every point is at the same position; load it with normalize=None"
            )
        scale = 1.0 / r
    meta = {"normalize": kind, "offset": (centre * m).tolist(), "scale": float(scale / m)}
    if kind == "area" and total == 0:
        meta["normalize_note"] = "a point cloud has no area: scaled to unit radius instead"
    return centred * scale, meta


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------


def load(
    source: Any,
    clean: bool = False,
    normalize: str | None = None,
    *,
    check: bool = True,
) -> Shape:
    """Load a mesh or point cloud into a :class:`Shape`, optionally repaired and normalised.

    Parameters
    ----------
    source : str, os.PathLike, Shape, trimesh / open3d / pyvista object, tuple or array
        A file (``.obj .ply .off .stl`` meshes; ``.ply .pcd .xyz .pts`` point clouds), an object of
        those libraries, a ``(verts, faces)`` tuple with verts (V, 3) float and faces (F, 3) int (or
        (F, k) polygons), or verts (V, 3) alone for a point cloud.
    clean : bool, default: False
        Repair what can be repaired safely, recording each repair in ``shape.repairs``: drop vertices
        with NaN/inf coordinates (and their faces), weld vertices with identical coordinates, remove
        degenerate, zero-area and duplicate faces and unused vertices, make the winding consistent
        where the surface is orientable, and turn closed components outwards. Components are all
        kept. ``shape.meta["vertex_map"]`` (V,) int64 gives the original index of each kept vertex,
        and for a mesh ``shape.meta["face_map"]`` (F,) int64 that of each kept face (counted in
        the triangulated face list).
    normalize : {None, "area", "radius"}, default: None
        ``"area"``: centre on the area-weighted centroid and scale to unit total area (point clouds:
        centre on the mean and scale to unit radius, as they have no area). ``"radius"``: centre
        the same way and scale so the farthest vertex is at distance 1. The transform
        ``new = (old - offset) * scale`` is kept in ``shape.meta`` (``"offset"``, ``"scale"``).
    check : bool, default: True
        Raise on what nothing downstream survives (no vertices, NaN/inf coordinates without
        ``clean``, out-of-range face indices). :func:`meshlearn.validate` loads with ``False`` to
        report such defects instead; with ``clean`` or ``normalize`` the first two are always
        checked.

    Returns
    -------
    Shape
        verts (V, 3) float64; faces (F, 3) int64, or None for a point cloud. For a file,
        ``source`` is the path and ``name`` its stem. Without ``clean`` the vertex order is the
        file's.

    Raises
    ------
    UnsupportedFormatError
        An unknown file type, or a variant of a format that is not supported.
    InvalidMeshError
        An unreadable or corrupted file, no vertices, NaN/inf coordinates (without ``clean``),
        face indices outside ``0..V-1`` (never repaired: the faces would be guesses), or nothing left
        after cleaning. The message names the file, the problem and the fix.
    ConfigError
        An unknown ``normalize`` value.

    Examples
    --------
    >>> import numpy as np
    >>> shape = load((np.eye(3), np.array([[0, 1, 2]])))
    >>> shape.n_verts, shape.n_faces
    (3, 1)
    """
    if normalize is not None and normalize not in NORMALIZE_KINDS:
        raise ConfigError(f"normalize must be one of {NORMALIZE_KINDS} or None (got {normalize!r})")

    name, meta, repairs = "shape", {}, ()
    if isinstance(source, Shape):
        verts, faces, src, name = source.verts, source.faces, source.source, source.name
        meta, repairs = dict(source.meta), tuple(source.repairs)
        if faces is not None and (faces.ndim != 2 or faces.shape[1] != 3):
            raise InvalidMeshError(f"{where(src)}expected faces of shape (F, 3) (got {faces.shape})")
        if verts.ndim != 2 or verts.shape[1] != 3:
            raise InvalidMeshError(f"{where(src)}expected vertices of shape (V, 3) (got {verts.shape})")
    else:
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            verts, flat, sizes = _read_path(path)
            src, name = str(path), path.stem
        elif isinstance(source, tuple):
            if len(source) != 2:
                raise InvalidMeshError(
                    f"expected a (verts, faces) tuple (got a tuple of {len(source)} items); "
                    "pass verts alone as an array for a point cloud"
                )
            src, name = "arrays", "arrays"
            verts = _coerce_verts(source[0], src)
            flat, sizes = (None, None) if source[1] is None else _coerce_faces(source[1], src)
        else:
            got = _from_object(source)
            if got is not None:
                verts, flat, sizes, src, name = got
                verts = _coerce_verts(verts, src)
            elif isinstance(source, (np.ndarray, list)):
                src, name = "arrays", "arrays"
                verts, flat, sizes = _coerce_verts(source, src), None, None
            else:
                raise InvalidMeshError(
                    f"cannot load an object of type {type(source).__name__}; pass a path, a (verts, faces) tuple, "
                    "verts alone, a Shape, or a trimesh / open3d / pyvista mesh or point cloud"
                )
        if flat is None or len(sizes) == 0:
            faces, non_tri = None, 0
        else:
            faces, non_tri = _triangulate(flat, sizes, src)
        if non_tri:
            meta["non_triangle_faces"] = non_tri
            log.info("%s%d polygon faces split into triangles", where(src), non_tri)

    if check or clean or normalize is not None:  # cleaning and normalising need sound indices
        if len(verts) == 0:
            raise InvalidMeshError(f"{where(src)}the shape has no vertices; check the file is a mesh or point cloud")
        if faces is not None and len(faces) and out_of_range_face_mask(faces, len(verts)).any():
            raise InvalidMeshError(
                f"{where(src)}{out_of_range_message(faces, len(verts))}. The faces cannot be repaired safely; "
                "re-export the mesh (an OBJ counts vertices from 1, other formats from 0)"
            )
        if check and not clean and nonfinite_vertex_mask(verts).any():
            n = int(nonfinite_vertex_mask(verts).sum())
            raise InvalidMeshError(
                f"{where(src)}{n} vertices have NaN or infinite coordinates; load with clean=True to drop them "
                "(and the faces that use them)"
            )
    if faces is not None and len(faces) == 0:
        faces = None  # a face list with no faces: the vertices are a point cloud

    if clean:
        n_in_v, n_in_f = len(verts), 0 if faces is None else len(faces)
        verts, faces, new_repairs, vmap, fmap = _clean(verts, faces, src)
        # a shape cleaned before keeps pointing at its original file, if its maps still fit
        old_map = meta.get("vertex_map")
        fits = old_map is not None and len(old_map) == n_in_v
        meta["vertex_map"] = np.asarray(old_map)[vmap] if fits else vmap
        old_fmap = meta.pop("face_map", None)
        if fmap is not None:
            fits = old_fmap is not None and len(old_fmap) == n_in_f
            meta["face_map"] = np.asarray(old_fmap)[fmap] if fits else fmap
        repairs = tuple(repairs) + tuple(new_repairs)
        for r in new_repairs:
            log.info("%s%s", where(src), r)

    if normalize is not None:
        finite = len(verts) > 0 and np.isfinite(verts).all()
        if not finite:
            raise InvalidMeshError(f"{where(src)}cannot normalise a shape with no finite vertices; use clean=True")
        verts, norm_meta = _normalize(verts, faces, normalize, src)
        meta.update(norm_meta)

    return Shape(verts, faces, source=src, name=name, repairs=tuple(repairs), meta=meta)


def _text_rows(prefix: str, arr: np.ndarray, fmt: str) -> str:
    """``arr`` (N, k) as text lines, each ``prefix`` followed by the values in ``fmt``."""
    buf = _io.StringIO()
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
    from .cache import atomic_write_bytes

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
