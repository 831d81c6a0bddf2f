"""Point Cloud Data (PCL's ``.pcd``): ASCII and binary read by meshlearn, ``binary_compressed`` by open3d.

Why not open3d for all of it: on a truncated ASCII file open3d returns as many points as the header
announces, inventing the missing ones, and on a truncated binary file an empty cloud, without an
error either time. Here the header is read and checked first, ASCII and binary data are read with
numpy, and only compressed data (checked against the header) goes to open3d, which is optional
(``pip install "meshlearn[io]"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InvalidMeshError, UnsupportedFormatError
from ...optional import require
from ..polygons import Polygons
from .text import coordinate_rows, decode_text

__all__ = ["read_pcd"]

_PCD_TYPES = {("F", 4): "<f4", ("F", 8): "<f8", ("I", 1): "<i1", ("I", 2): "<i2", ("I", 4): "<i4",
              ("I", 8): "<i8", ("U", 1): "<u1", ("U", 2): "<u2", ("U", 4): "<u4", ("U", 8): "<u8"}


def _header(data: bytes, source: str) -> tuple[dict[str, list[str]], int]:
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
            return header, pos
        if pos > 4096 or len(header) > 32:
            raise InvalidMeshError(f"{source}: no PCD header found; is this a .pcd file?")


def read_pcd(data: bytes, source: str, path: Path) -> Polygons:
    """The x y z fields of every point, in file order."""
    header, pos = _header(data, source)
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
        rows = [ln.split() for ln in decode_text(data[pos:]).splitlines() if ln.strip()]
        starts = np.cumsum([0] + counts)[:-1]
        want = sum(counts)
        if len(rows) < n or any(len(r) < want for r in rows[:n]):
            raise InvalidMeshError(f"{source}: PCD data is shorter than its {n} points; the file is truncated")
        return Polygons(coordinate_rows([[r[starts[c]] for c in cols] for r in rows[:n]], "point coordinates", source))
    try:
        dtype = np.dtype([(f"f{i}", _PCD_TYPES[(t.upper(), s)], (c,)) for i, (t, s, c) in enumerate(zip(types, sizes, counts))])
    except KeyError as e:
        raise InvalidMeshError(f"{source}: PCD header has an unknown TYPE/SIZE pair {e}; re-export the file") from e
    if mode == "binary":
        if len(data) - pos < n * dtype.itemsize:
            raise InvalidMeshError(f"{source}: PCD data is shorter than its {n} points; the file is truncated")
        rec = np.frombuffer(data, dtype=dtype, count=n, offset=pos)
        return Polygons(np.stack([rec[f"f{c}"][:, 0].astype(np.float64) for c in cols], axis=1))
    if mode == "binary_compressed":
        raw_size = np.frombuffer(data[pos : pos + 8], dtype="<u4") if len(data) >= pos + 8 else np.zeros(2)
        if len(raw_size) != 2 or raw_size[1] != n * dtype.itemsize or raw_size[0] > len(data) - pos - 8:
            raise InvalidMeshError(f"{source}: compressed PCD data does not match its header; the file is corrupted")
        o3d = require("open3d", "reading .pcd files")
        with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
            pcd = o3d.io.read_point_cloud(str(path), format="pcd")
        verts = np.asarray(pcd.points, dtype=np.float64).reshape(-1, 3)
        if len(verts) != n:
            raise InvalidMeshError(
                f"{source}: compressed PCD data holds {len(verts)} readable points but the header announces {n}; "
                "the file is corrupted: re-export it"
            )
        return Polygons(verts)
    raise UnsupportedFormatError(f"{source}: PCD DATA mode {mode!r} is not supported; save as ascii or binary")
