"""Content-hashed, atomically written operator entries: one ``.npz`` file per (shape, spec).

Layout: ``ROOT/<shape>.<spec>.npz``, where ``<shape>`` is the first 32 hex digits of the shape's
content hash (SHA-256 of its vertex and face bytes) and ``<spec>`` is
:meth:`~meshlearn.OperatorSpec.key` of the spec the entry was computed with. Each entry stores the
operators, that spec and the geometry version. Two specs for the same shape therefore never write
the same file: asking alternately for ``k=64`` and ``k=128`` with HKS computes each once.

Lookup. Every entry of the shape is a candidate; the smallest file whose spec covers the one asked
for (:meth:`~meshlearn.OperatorSpec.covers`: same parameters, a superset of kinds, at least as
many eigenpairs, exactly as many when HKS or WKS are asked) and whose stored vertices equal the
shape's answers it. Only the members the asked spec needs are read: the metadata first, then the
vertices (to check the hit), then the asked fields; the arrays of other kinds are never read. The
members are stored uncompressed (``np.savez``).

Writing. On a miss, when a stored entry has the same parameters and the union of both specs covers
both (e.g. stored ``spectral k=64``, asked ``hks k=128``), the union is stored instead: only the
kinds the stored entry cannot supply are computed, the others are copied from it. Otherwise exactly
the asked spec is computed and stored beside the other entries. After the new entry is safely in
place, the entries it covers (and damaged or stale ones of the shape) are deleted; an entry is never
deleted before one answering everything it answered has been written. Writes go to a temporary file
in the same folder and are renamed into place, so a killed process never leaves a partial file
under a final name, and concurrent writers of different specs for one shape each keep their entry.

A damaged entry is ignored with a warning (and recomputed if no other entry answers); one written
by another geometry version or for another shape is ignored. Files of the earlier one-file-per-shape
layout (``ROOT/<shape>.npz``, same contents) are read as entries like any other, and deleted once a
new entry covering them has been written.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import scipy.sparse as sp

from .errors import CacheError, ConfigError
from .geometry.types import GEOMETRY_VERSION, OPERATOR_FIELDS, GaugeData, GaugePoolData, OperatorSpec, Operators, PatchData
from .shape import Shape

__all__ = ["OperatorCache", "save_operators", "load_operators", "atomic_write_bytes"]

log = logging.getLogger(__name__)

_SPARSE = ("L", "grad_x", "grad_y")
_DENSE = ("verts", "faces", "mass", "evals", "evecs", "hks", "wks", "frames", "geodesics")
_GAUGE = ("edge_index", "angle", "transport")
_PATCHES = ("edge_index", "radius", "angle", "max_radius")
_POOL = tuple(f.name for f in dataclasses.fields(GaugePoolData))
_META = "__meta__"
#: Kinds whose arrays depend on the number of eigenpairs.
_K_DEPENDENT = frozenset({"spectral", "hks", "wks"})


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


def _members(name: str) -> tuple[str, ...]:
    """The file members that hold the :class:`Operators` field ``name``."""
    if name in _SPARSE:
        return tuple(f"{name}.{part}" for part in ("data", "indices", "indptr", "shape"))
    if name == "gauge":
        return tuple(f"gauge.{part}" for part in _GAUGE)
    if name == "patches":
        return tuple(f"patches.{part}" for part in _PATCHES)
    if name == "pool":
        return tuple(f"pool.{part}" for part in _POOL)
    return (name,)


def _members_for(spec: OperatorSpec) -> list[str]:
    """The members an entry must be read for to answer ``spec`` (besides metadata and vertices)."""
    names = ["faces"]
    for kind in sorted(spec.operators):
        for field in OPERATOR_FIELDS[kind]:
            names.extend(_members(field))
    return names


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
        for part in _GAUGE:
            arrays[f"gauge.{part}"] = np.asarray(getattr(ops.gauge, part))
    if ops.patches is not None:
        for part in _PATCHES:
            arrays[f"patches.{part}"] = np.asarray(getattr(ops.patches, part))
    if ops.pool is not None:
        for part in _POOL:
            arrays[f"pool.{part}"] = np.asarray(getattr(ops.pool, part))
    meta = {
        "spec": ops.spec.to_dict() if ops.spec else None,
        "shape_hash": ops.shape_hash,
        "version": GEOMETRY_VERSION,
    }
    arrays[_META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays


def _unpack(arrays: dict[str, np.ndarray], meta: dict[str, Any], spec: OperatorSpec | None) -> Operators:
    """Operators from the members read (a subset of a file's), with ``spec`` as their spec."""
    kwargs: dict[str, Any] = {name: arrays[name] for name in _DENSE if name in arrays}
    for name in _SPARSE:
        if f"{name}.data" in arrays:
            kwargs[name] = sp.csr_matrix(
                (arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]),
                shape=tuple(int(n) for n in arrays[f"{name}.shape"]),
            )
    if "gauge.edge_index" in arrays:
        kwargs["gauge"] = GaugeData(*(arrays[f"gauge.{part}"] for part in _GAUGE))
    if "pool.n_verts" in arrays:
        kwargs["pool"] = GaugePoolData(*(arrays[f"pool.{part}"] for part in _POOL))
    if "patches.edge_index" in arrays:
        kwargs["patches"] = PatchData(
            arrays["patches.edge_index"],
            arrays["patches.radius"],
            arrays["patches.angle"],
            float(arrays["patches.max_radius"]),
        )
    return Operators(spec=spec, shape_hash=meta.get("shape_hash", ""), **kwargs)


def save_operators(path: str | os.PathLike, ops: Operators) -> None:
    """Write ``ops`` to ``path`` (``.npz``, members stored uncompressed) atomically."""
    buf = io.BytesIO()
    np.savez(buf, **_pack(ops))
    atomic_write_bytes(path, buf.getvalue())


#: What a damaged, truncated or foreign file makes the reading below raise.
_READ_ERRORS = (
    OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile, ConfigError,
)


def _unreadable(path: str | os.PathLike, e: BaseException) -> CacheError:
    return CacheError(
        f"{path}: not a readable operator cache file ({type(e).__name__}: {e}); delete it or recompute it"
    )


def _read_meta(z: Any) -> tuple[dict[str, Any], OperatorSpec | None]:
    """The metadata member of an open ``.npz`` and the spec it records."""
    meta = json.loads(z[_META].tobytes().decode())
    if not isinstance(meta, dict):
        raise ValueError(f"metadata is a {type(meta).__name__}, not an object")
    raw = meta.get("spec")
    if raw is not None and not isinstance(raw, dict):
        raise ValueError(f"the stored spec is a {type(raw).__name__}, not an object")
    return meta, OperatorSpec.from_dict(raw) if raw else None


def _read_members(z: Any, names: Iterable[str]) -> dict[str, np.ndarray]:
    present = set(z.files)
    return {name: z[name] for name in names if name in present}


def load_operators(path: str | os.PathLike, spec: OperatorSpec | None = None) -> tuple[Operators, dict[str, Any]]:
    """Read a file written by :func:`save_operators`; returns the operators and the metadata dict.

    Parameters
    ----------
    path : str or Path
        The file.
    spec : OperatorSpec, optional
        Read only what ``spec`` needs (the arrays of other kinds are not read) and return the
        operators trimmed to it. default: every stored field, with the stored spec

    Raises
    ------
    CacheError
        A missing, truncated, damaged or foreign file, or one whose spec does not cover ``spec``
        (the message names the file).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            meta, stored = _read_meta(z)
            if spec is None:
                return _unpack(_read_members(z, z.files), meta, stored), meta
            if stored is None or not stored.covers(spec):
                raise CacheError(
                    f"{path}: holds {stored!r}, which does not answer {spec!r}; compute the operators for it"
                )
            arrays = _read_members(z, ["verts", *_members_for(spec)])
            return _unpack(arrays, meta, stored).restrict(spec), meta
    except CacheError:
        raise
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from e


@dataclass
class _Entry:
    """One stored file of a shape, as far as its metadata tell."""

    path: Path
    size: int
    spec: OperatorSpec | None = None  # set when the metadata are valid for the shape
    stale: bool = False  # damaged, foreign or of another geometry version: to be replaced


def _merge_spec(stored: OperatorSpec, asked: OperatorSpec) -> OperatorSpec | None:
    """The spec of one entry that answers both ``stored`` and ``asked``, or ``None`` when there is
    none (other parameters, or descriptors at different k)."""
    if not stored.same_params(asked):
        return None
    ks = [s.k for s in (stored, asked) if "spectral" in s.operators]
    union = dataclasses.replace(
        asked, operators=stored.operators | asked.operators, k=max(ks) if ks else asked.k
    )
    return union if union.covers(stored) and union.covers(asked) else None


class OperatorCache:
    """A folder of operator entries, one file per (shape content hash, spec) (see the module docstring).

    Parameters
    ----------
    root : str or Path
        The folder; created if missing.

    Attributes
    ----------
    hits, misses : int
        :meth:`get_or_compute` calls answered from a stored entry / computed.

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

    def entry_path(self, shape: Shape, spec: OperatorSpec) -> Path:
        """The file an entry computed with exactly ``spec`` for ``shape`` is written to."""
        return self.root / f"{shape.content_hash()[:32]}.{spec.key()}.npz"

    def path_for(self, shape: Shape, spec: OperatorSpec) -> Path:
        """The file that answers ``spec`` for ``shape``: the smallest stored entry covering it, or,
        when none does, the file an entry for exactly ``spec`` would be written to."""
        for entry in self._entries(shape):
            if entry.spec is not None and entry.spec.covers(spec):
                return entry.path
        return self.entry_path(shape, spec)

    def _entries(self, shape: Shape) -> list[_Entry]:
        """The shape's stored files, smallest first, with the spec of each valid one (reads only
        each file's metadata member)."""
        digest = shape.content_hash()
        prefix = digest[:32]
        paths = list(self.root.glob(f"{prefix}.*.npz"))
        legacy = self.root / f"{prefix}.npz"  # the earlier one-file-per-shape layout
        if legacy.exists():
            paths.append(legacy)
        entries = []
        for path in paths:
            try:
                entries.append(_Entry(path, path.stat().st_size))
            except FileNotFoundError:  # deleted meanwhile by a writer that superseded it
                continue
        entries.sort(key=lambda e: (e.size, e.path.name))
        found = []
        for entry in entries:
            try:
                with np.load(entry.path, allow_pickle=False) as z:
                    meta, spec = _read_meta(z)
            except FileNotFoundError:
                continue
            except OSError as e:  # perhaps passing (permissions, I/O): skip it, but keep it
                log.warning("%s: cannot read the cache file (%s); recomputing", entry.path, e)
                continue
            except _READ_ERRORS as e:
                log.warning("%s: unreadable cache file (%s: %s); recomputing", entry.path, type(e).__name__, e)
                entry.stale = True
            else:
                if meta.get("version") != GEOMETRY_VERSION or meta.get("shape_hash") != digest:
                    log.info("%s: written by another geometry version or for another shape; recomputing", entry.path)
                    entry.stale = True
                elif spec is None:
                    log.warning("%s: the cache file records no spec; recomputing", entry.path)
                    entry.stale = True
                else:
                    entry.spec = spec
            found.append(entry)
        return found

    def _read(self, entry: _Entry, shape: Shape, spec: OperatorSpec | None) -> Operators | None:
        """The operators of ``entry`` trimmed to ``spec`` (every stored field when ``None``), read
        member by member after checking the stored vertices; ``None`` when it cannot be used."""
        try:
            with np.load(entry.path, allow_pickle=False) as z:
                meta, stored = _read_meta(z)
                if stored is None or stored != entry.spec:  # replaced since its metadata were read
                    return None
                verts = z["verts"] if "verts" in z.files else None
                if verts is None or not np.array_equal(verts, shape.verts):
                    log.warning("%s: stored vertices differ from the shape's; recomputing", entry.path)
                    entry.stale = True
                    return None
                names = [n for n in z.files if n not in ("verts", _META)] if spec is None else _members_for(spec)
                arrays = _read_members(z, names)
        except FileNotFoundError:
            return None
        except _READ_ERRORS as e:
            log.warning("%s: unreadable cache file (%s: %s); recomputing", entry.path, type(e).__name__, e)
            entry.stale = not isinstance(e, OSError)
            return None
        arrays["verts"] = verts
        ops = _unpack(arrays, meta, stored)
        return ops if spec is None else ops.restrict(spec)

    def _find(self, shape: Shape, spec: OperatorSpec, entries: list[_Entry]) -> Operators | None:
        for entry in entries:
            if entry.spec is not None and entry.spec.covers(spec):
                ops = self._read(entry, shape, spec)
                if ops is not None:
                    return ops
        return None

    def lookup(self, shape: Shape, spec: OperatorSpec) -> Operators | None:
        """The cached operators answering ``spec``, or ``None`` (missing, stale or corrupt)."""
        return self._find(shape, spec, self._entries(shape))

    def contains(self, shape: Shape, spec: OperatorSpec) -> bool:
        """True when a valid entry answering ``spec`` is stored for ``shape``."""
        return self.lookup(shape, spec) is not None

    def get_or_compute(
        self,
        shape: Shape,
        spec: OperatorSpec,
        compute: Callable[..., Operators],
        *,
        progress: Callable[[str], None] | None = None,
    ) -> Operators:
        """Cached operators for ``shape`` under ``spec``; on a miss ``compute(shape, spec,
        progress=progress)`` computes them (uncached) and they are stored as a new entry (merged
        with a stored entry of the same parameters where one entry can answer both)."""
        entries = self._entries(shape)
        found = self._find(shape, spec, entries)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        full, ops = spec, None
        for entry in sorted(entries, key=lambda e: -e.size):  # the largest merge saves the most work
            merged = None if entry.spec is None else _merge_spec(entry.spec, spec)
            if merged is None:
                continue
            base = self._read(entry, shape, None)
            if base is None:
                continue
            full, ops = merged, self._extend(shape, base, entry.spec, merged, compute, progress)
            break
        if ops is None:
            ops = compute(shape, spec, progress=progress)
        target = self.entry_path(shape, full)
        try:
            save_operators(target, ops)
        except OSError as e:
            raise CacheError(f"{target}: cannot write the cache file ({e}); check space and permissions") from e
        for entry in entries:  # superseded now that the new entry is in place
            if entry.path != target and (entry.stale or (entry.spec is not None and full.covers(entry.spec))):
                try:
                    entry.path.unlink()
                except FileNotFoundError:
                    pass
                except OSError as e:
                    log.warning("%s: cannot delete the superseded cache file (%s)", entry.path, e)
        return ops.restrict(spec)

    @staticmethod
    def _extend(
        shape: Shape,
        base: Operators,
        stored: OperatorSpec,
        full: OperatorSpec,
        compute: Callable[..., Operators],
        progress: Callable[[str], None] | None,
    ) -> Operators:
        """Operators for ``full``: the kinds ``base`` (computed with ``stored``) cannot supply are
        computed, the others copied from it."""
        reuse = set(stored.operators)
        if "spectral" in stored.operators and stored.k != full.k:
            reuse -= _K_DEPENDENT
        todo = dataclasses.replace(full, operators=full.operators - reuse)  # dependencies come back
        if not todo.operators:
            return dataclasses.replace(base, spec=full)
        ops = compute(shape, todo, progress=progress)
        for kind in reuse:
            for name in OPERATOR_FIELDS[kind]:
                if getattr(ops, name) is None:
                    setattr(ops, name, getattr(base, name))
        ops.spec = full
        return ops
