"""Content-hashed, atomically written operator files: one ``.npz`` file per shape.

A file is named after the shape's content hash (SHA-256 of its vertex and face bytes). It stores
the operators, the :class:`~meshlearn.OperatorSpec` they were computed with and the geometry
version. A stored file is reused when its spec covers the one asked for (same parameters, a
superset of operator kinds, at least as many eigenpairs) and its stored vertices equal the shape's;
otherwise the union of both specs is computed and the file replaced. A corrupt or truncated file is
recomputed with a warning. Writes go to a temporary file in the same folder and are renamed into
place, so a killed process never leaves a partial file under the final name.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from .errors import CacheError
from .geometry.types import GEOMETRY_VERSION, GaugeData, OperatorSpec, Operators, PatchData
from .shape import Shape

__all__ = ["OperatorCache", "save_operators", "load_operators", "atomic_write_bytes"]

log = logging.getLogger(__name__)

_SPARSE = ("L", "grad_x", "grad_y")
_DENSE = ("verts", "faces", "mass", "evals", "evecs", "hks", "wks", "frames", "geodesics")


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # as an ordinary new file, not mkstemp's owner-only 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _pack(ops: Operators) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name in _DENSE:
        value = getattr(ops, name)
        if value is not None:
            arrays[name] = np.asarray(value)
    for name in _SPARSE:
        value = getattr(ops, name)
        if value is not None:
            csr = sp.csr_matrix(value)
            arrays[f"{name}.data"] = csr.data
            arrays[f"{name}.indices"] = csr.indices
            arrays[f"{name}.indptr"] = csr.indptr
            arrays[f"{name}.shape"] = np.asarray(csr.shape, dtype=np.int64)
    if ops.gauge is not None:
        arrays["gauge.edge_index"] = np.asarray(ops.gauge.edge_index)
        arrays["gauge.angle"] = np.asarray(ops.gauge.angle)
        arrays["gauge.transport"] = np.asarray(ops.gauge.transport)
    if ops.patches is not None:
        arrays["patches.edge_index"] = np.asarray(ops.patches.edge_index)
        arrays["patches.radius"] = np.asarray(ops.patches.radius)
        arrays["patches.angle"] = np.asarray(ops.patches.angle)
        arrays["patches.max_radius"] = np.asarray(ops.patches.max_radius)
    meta = {
        "spec": ops.spec.to_dict() if ops.spec else None,
        "shape_hash": ops.shape_hash,
        "version": GEOMETRY_VERSION,
    }
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays


def save_operators(path: str | os.PathLike, ops: Operators) -> None:
    """Write ``ops`` to ``path`` (``.npz``) atomically."""
    buf = io.BytesIO()
    np.savez(buf, **_pack(ops))
    atomic_write_bytes(path, buf.getvalue())


#: What a damaged, truncated or foreign file makes the reading below raise.
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile)


def load_operators(path: str | os.PathLike) -> tuple[Operators, dict[str, Any]]:
    """Read a file written by :func:`save_operators`; returns the operators and the metadata dict.

    Raises
    ------
    CacheError
        A missing, truncated, damaged or foreign file (the message names the file).
    """
    try:
        return _load_operators(path)
    except CacheError:
        raise
    except _READ_ERRORS as e:
        raise CacheError(
            f"{path}: not a readable operator cache file ({type(e).__name__}: {e}); delete it or recompute it"
        ) from e


def _load_operators(path: str | os.PathLike) -> tuple[Operators, dict[str, Any]]:
    with np.load(path, allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    kwargs: dict[str, Any] = {name: arrays[name] for name in _DENSE if name in arrays}
    for name in _SPARSE:
        if f"{name}.data" in arrays:
            kwargs[name] = sp.csr_matrix(
                (arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]),
                shape=tuple(arrays[f"{name}.shape"]),
            )
    if "gauge.edge_index" in arrays:
        kwargs["gauge"] = GaugeData(arrays["gauge.edge_index"], arrays["gauge.angle"], arrays["gauge.transport"])
    if "patches.edge_index" in arrays:
        kwargs["patches"] = PatchData(
            arrays["patches.edge_index"],
            arrays["patches.radius"],
            arrays["patches.angle"],
            float(arrays["patches.max_radius"]),
        )
    spec = OperatorSpec.from_dict(meta["spec"]) if meta.get("spec") else None
    ops = Operators(spec=spec, shape_hash=meta.get("shape_hash", ""), **kwargs)
    return ops, meta


class OperatorCache:
    """A folder of operator files, one per shape, named by content hash.

    Parameters
    ----------
    root : str or Path
        The folder; created if missing.

    Examples
    --------
    >>> cache = OperatorCache("cache/")                       # doctest: +SKIP
    >>> ops = meshlearn.compute_operators(shape, OperatorSpec(k=64), cache=cache)  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CacheError(f"{self.root}: cannot create the cache folder ({e}); choose a writable path") from e
        self.hits = 0
        self.misses = 0

    def path_for(self, shape: Shape) -> Path:
        """The file that holds (or will hold) ``shape``'s operators."""
        return self.root / f"{shape.content_hash()[:32]}.npz"

    def lookup(self, shape: Shape, spec: OperatorSpec) -> Operators | None:
        """The cached operators answering ``spec``, or ``None`` (missing, stale or corrupt)."""
        ops, _ = self._read(shape)
        if ops is None or ops.spec is None or not ops.spec.covers(spec):
            return None
        return ops.restrict(spec)

    def _read(self, shape: Shape) -> tuple[Operators | None, dict[str, Any]]:
        path = self.path_for(shape)
        if not path.exists():
            return None, {}
        try:
            ops, meta = load_operators(path)
        except CacheError as e:
            log.warning("%s: unreadable cache file (%s); recomputing", path, e.__cause__ or e)
            return None, {}
        if meta.get("version") != GEOMETRY_VERSION or ops.shape_hash != shape.content_hash():
            log.info("%s: written by another geometry version or for another shape; recomputing", path)
            return None, {}
        if ops.verts is None or not np.array_equal(ops.verts, shape.verts):
            log.warning("%s: stored vertices differ from the shape's; recomputing", path)
            return None, {}
        return ops, meta

    def get_or_compute(
        self,
        shape: Shape,
        spec: OperatorSpec,
        compute: Callable[..., Operators],
        *,
        progress: Callable[[str], None] | None = None,
    ) -> Operators:
        """Cached operators for ``shape`` under ``spec``; on a miss ``compute(shape, spec,
        progress=progress)`` computes them (uncached) and they are stored."""
        stored, _ = self._read(shape)
        if stored is not None and stored.spec is not None and stored.spec.covers(spec):
            self.hits += 1
            return stored.restrict(spec)
        self.misses += 1
        full = spec
        if stored is not None and stored.spec is not None and stored.spec.same_params(spec):
            full = stored.spec.union(spec)  # keep what was stored, add what is asked
            if not full.covers(spec):  # descriptors asked with another k: replace the file
                full = spec
        ops = compute(shape, full, progress=progress)
        try:
            save_operators(self.path_for(shape), ops)
        except OSError as e:
            raise CacheError(f"{self.path_for(shape)}: cannot write the cache file ({e}); check space and permissions") from e
        return ops.restrict(spec)

    def contains(self, shape: Shape, spec: OperatorSpec) -> bool:
        """True when a valid file answering ``spec`` is stored for ``shape``."""
        return self.lookup(shape, spec) is not None
