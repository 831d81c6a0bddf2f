"""Loading shapes (first version: paths through trimesh, and arrays). Validation lives in validate.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InvalidMeshError, UnsupportedFormatError
from .shape import Shape

__all__ = ["load"]


def load(source, clean: bool = False, normalize: str | None = None) -> Shape:
    if isinstance(source, Shape):
        return source
    if isinstance(source, (str, Path)):
        import trimesh

        path = Path(source)
        if not path.exists():
            raise InvalidMeshError(f"{path}: no such file")
        try:
            obj = trimesh.load(path, process=False, force="mesh")
        except Exception as e:  # noqa: BLE001
            raise UnsupportedFormatError(f"{path}: cannot read ({e})") from e
        return Shape(np.asarray(obj.vertices), np.asarray(obj.faces), source=str(path), name=path.stem)
    verts, faces = source if isinstance(source, tuple) else (source, None)
    return Shape(np.asarray(verts), None if faces is None else np.asarray(faces), source="arrays", name="arrays")
