"""Binary PLY files with variable-length lists, read by meshlearn itself.

Why not a library: trimesh's PLY reader rejects a binary file whose face lists differ in length
(triangles mixed with polygons, as in ``potpourri3d__bunny_poly.ply``) and one with several triangle
strips; open3d reads the polygons but splits them itself, so their number is lost, and it is a
compiled reader that is optional in meshlearn. This reader walks the header, reads fixed-size
elements in one block and list elements record by record.
"""

from __future__ import annotations

import numpy as np

from ...errors import InvalidMeshError

__all__ = ["PLY_TYPES", "read_binary_ply_lists"]

#: PLY scalar type -> numpy type code (without byte order)
PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
             "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
             "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def _np_type(name: str, order: str, source: str) -> np.dtype:
    try:
        return np.dtype(order + PLY_TYPES[name])
    except KeyError:
        raise InvalidMeshError(f"{source}: unknown PLY property type {name!r}; re-export the file") from None


def read_binary_ply_lists(data: bytes, source: str) -> tuple[np.ndarray, dict[str, dict[str, list[np.ndarray]]]]:
    """Vertices and every list property of a binary PLY file.

    Returns
    -------
    verts : (V, 3) float64
        x, y, z of the ``vertex`` element, in file order.
    lists : dict
        ``lists[element][property]`` is the list of that property's arrays, one per record (for
        instance ``lists["face"]["vertex_indices"]`` or ``lists["tristrips"]["vertex_indices"]``).
    """
    end = data.find(b"end_header")
    if end < 0:
        raise InvalidMeshError(f"{source}: PLY header has no end_header; the file is truncated or damaged: re-export it")
    lines = data[:end].decode("ascii", errors="replace").splitlines()
    pos = data.find(b"\n", end) + 1
    fmt = None
    elements: list[tuple[str, int, list[tuple[str, ...]]]] = []
    try:
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
    except (IndexError, ValueError) as e:
        raise InvalidMeshError(f"{source}: unreadable PLY header line ({e}); re-export the file") from e
    if fmt not in ("binary_little_endian", "binary_big_endian"):
        raise InvalidMeshError(f"{source}: PLY format {fmt!r} could not be read; re-export the file")
    order = "<" if fmt == "binary_little_endian" else ">"
    verts = None
    lists: dict[str, dict[str, list[np.ndarray]]] = {}
    buf = memoryview(data)
    for name, count, props in elements:
        if count < 0:
            raise InvalidMeshError(f"{source}: PLY element {name} has a negative count; re-export the file")
        if any(len(p) < 2 or (p[0] == "list" and len(p) < 4) for p in props):
            raise InvalidMeshError(f"{source}: PLY element {name} has an incomplete property line; re-export the file")
        if all(p[0] != "list" for p in props):
            dtype = np.dtype([(p[1], _np_type(p[0], order, source)) for p in props])
            if len(data) - pos < count * dtype.itemsize:
                raise InvalidMeshError(f"{source}: PLY element {name} is truncated; re-export the file")
            rec = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
            pos += count * dtype.itemsize
            if name == "vertex":
                if {"x", "y", "z"} - set(rec.dtype.names or ()):
                    raise InvalidMeshError(f"{source}: PLY vertex element has no x, y, z; re-export the file")
                verts = np.stack([rec[c].astype(np.float64) for c in ("x", "y", "z")], axis=1)
            continue
        parts = []
        for p in props:
            if p[0] == "list":
                parts.append((_np_type(p[1], order, source), _np_type(p[2], order, source), p[3]))
            else:
                parts.append((None, _np_type(p[0], order, source), p[1]))
        out = lists.setdefault(name, {})
        for cnt_t, _, pname in parts:
            if cnt_t is not None:
                out[pname] = []
        for _ in range(count):
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
                out[pname].append(np.frombuffer(buf[pos : pos + k * item_t.itemsize], dtype=item_t))
                pos += k * item_t.itemsize
    if verts is None:
        raise InvalidMeshError(f"{source}: PLY file has no vertex element with x, y, z; re-export the file")
    return verts, lists
