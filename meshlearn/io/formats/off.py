"""Object File Format (OFF and its COFF / NOFF / STOFF variants), read by meshlearn itself.

Why not a library: trimesh silently drops every face of an OFF file whose faces wrap over several
lines and fails on faces of more than four corners; open3d rejects a header with the counts on it
(``OFF8 6 12``) and wrapped faces; meshio rejects COFF, NOFF and counts on the header line, and
ends the process (``exit()``) on some of them. See :mod:`meshlearn.io.formats`.

The layout read here: a header keyword (``OFF``, optionally prefixed by ``ST``, ``C``, ``N``),
the counts ``V F [E]`` either on the header line (``OFF 8 6 12``, or glued to it as ``OFF8 6 12``)
or on the next line, then V vertices and F faces. A vertex is one line, its first three numbers (colour,
normal or texture values after them are ignored); a face is ``k i1 .. ik`` and may
continue over several lines (values after its k indices on its last line, such as a colour, are
ignored). ``#`` starts a comment.
"""

from __future__ import annotations

import re

import numpy as np

from ...errors import InvalidMeshError, UnsupportedFormatError
from ..polygons import Polygons
from .text import coordinate_rows, decode_text

__all__ = ["read_off"]

_HEADER = re.compile(r"^(ST)?C?N?(4|n)?OFF(.*)$")


def _records(lines: list[list[str]], start: int, count: int, record_length, what: str, source: str):
    """Read ``count`` records from the token lines starting at ``start``.

    ``record_length(tokens)`` is the number of tokens of the record that starts with ``tokens``.
    A record may run over several lines; what is left of its last line is ignored. Returns
    (records, next line index).
    """
    out = []
    i = start
    for _ in range(count):
        toks: list[str] = []
        need = None
        while need is None or len(toks) < need:
            if i >= len(lines):
                raise InvalidMeshError(
                    f"{source}: the OFF file ends inside its {what} ({len(out)} read); the file is truncated "
                    "or its counts are wrong: re-export it"
                )
            toks.extend(lines[i])
            i += 1
            need = record_length(toks)
        out.append(toks[:need])
    return out, i


def _face_length(toks: list[str]) -> int:
    k = int(toks[0])
    if k < 1:
        raise ValueError(f"a face with {k} corners")
    return k + 1


def read_off(data: bytes, source: str) -> Polygons:
    """Vertices in file order and polygons kept whole; see the module docstring for the layout."""
    lines: list[list[str]] = []
    for line in decode_text(data).splitlines():
        toks = line.split("#", 1)[0].split()
        if toks:
            lines.append(toks)
    m = _HEADER.match(lines[0][0]) if lines else None
    if m is None:
        raise UnsupportedFormatError(f"{source}: not an OFF file (the first line must be OFF)")
    rest = m.group(3)
    if "BINARY" in " ".join(lines[0]).upper():
        raise UnsupportedFormatError(f"{source}: binary OFF is not supported; save it as ASCII OFF, OBJ or PLY")
    if m.group(2) or (rest and not rest.isdigit()):
        raise UnsupportedFormatError(
            f"{source}: OFF variant {lines[0][0]!r} (not three-dimensional) is not supported; save it as OFF, OBJ or PLY"
        )
    lines[0] = ([rest] if rest else []) + lines[0][1:]  # "OFF8 6 12" -> counts "8 6 12"
    if not lines[0]:
        lines = lines[1:]
    if not lines:
        raise InvalidMeshError(f"{source}: OFF file has no vertex/face count line; re-export the file")
    counts = lines[0]
    try:
        nv, nf = int(counts[0]), int(counts[1])
    except (ValueError, IndexError) as e:
        raise InvalidMeshError(
            f"{source}: OFF count line is unreadable ({' '.join(counts)!r}); it must be 'V F E': re-export the file"
        ) from e
    if nv < 0 or nf < 0 or nv + nf > len(lines) - 1:
        raise InvalidMeshError(
            f"{source}: OFF header announces {nv} vertices and {nf} faces but the file has {len(lines) - 1} data "
            "lines; the file is truncated or corrupted: re-export it"
        )
    vrows = [toks[:3] for toks in lines[1 : 1 + nv]]
    if any(len(r) < 3 for r in vrows):
        raise InvalidMeshError(f"{source}: an OFF vertex line has fewer than 3 coordinates; re-export the file")
    verts = coordinate_rows(vrows, "vertex coordinates", source)
    if nf == 0:
        return Polygons(verts)
    try:
        frows, _ = _records(lines, 1 + nv, nf, _face_length, "faces", source)
        sizes = np.array([len(r) - 1 for r in frows], dtype=np.int64)
        corners = np.array([int(t) for r in frows for t in r[1:]], dtype=np.int64)
    except (ValueError, OverflowError) as e:
        raise InvalidMeshError(f"{source}: unreadable OFF face ({e}); re-export the file") from e
    return Polygons(verts, corners, sizes)
