"""``meshlearn.preprocess``: compute and cache the operators of many shape files at once.

The work per shape is :func:`~meshlearn.preprocess.worker.process_one`; where it runs is a
runner (this process, a local process pool, or a Dask cluster); every finished shape is appended
to ``OUT/manifest.jsonl`` at once, so a killed run keeps what it finished and a rerun resumes.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable, Iterator

from ..errors import ConfigError
from ..io.normalize import DEFAULT_NORMALIZE
from ..optional import require
from ..geometry.operators import OperatorSpec
from .inputs import expand_inputs
from .lock import CacheLock, remove_temporaries
from .manifest import MANIFEST_NAME, STATUS_FAILED, ManifestWriter
from .orphans import orphan_guard
from .progress import Progress
from .runner import run_dask, run_inline, run_pool
from .summary import Summary
from .worker import Task

__all__ = ["preprocess", "resolve_spec", "PreprocessInterrupted", "NET_ALIASES", "NORMALIZE_CHOICES"]

#: ``--for`` names and the network classes in :mod:`meshlearn.nets` they stand for.
NET_ALIASES: dict[str, str] = {
    "diffusionnet": "DiffusionNet",
    "gem": "GemCNN",
    "cheb": "ChebNet",
    "patch": "PatchConvNet",
}
NORMALIZE_CHOICES = ("area", "radius")


class PreprocessInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`preprocess`; ``summary`` says what was finished (and recorded)."""

    def __init__(self, summary: Summary) -> None:
        super().__init__("preprocessing interrupted")
        self.summary = summary


def _net_class(net: Any) -> Any:
    if not isinstance(net, str):
        return net
    name = NET_ALIASES.get(net.lower())
    if name is None:
        raise ConfigError(f"unknown network {net!r} for --for: expected one of {', '.join(NET_ALIASES)}")
    from .. import nets

    cls = getattr(nets, name, None)
    if cls is None:
        raise ConfigError(f"meshlearn.nets has no {name} in this installation; name the operators with --ops instead")
    return cls


def resolve_spec(ops: str | Iterable[str] | None = None, k: int = 128, net: Any = None, **params: Any) -> OperatorSpec:
    """The :class:`OperatorSpec` for a run.

    Parameters
    ----------
    ops : str or iterable of str, optional
        Operator kinds, e.g. ``"spectral,gradients"`` (see :mod:`meshlearn.geometry.operators`).
    k : int
        Eigenpairs for ``spectral``. default: 128
    net : str or network class, optional
        ``"diffusionnet"``, ``"gem"``, ``"cheb"``, ``"patch"`` (see :data:`NET_ALIASES`) or a
        class with ``requires``; its operator kinds are added to ``ops``.
    **params
        Other :class:`OperatorSpec` fields (``laplacian``, ``n_hks``, ``knn``, ...).

    With neither ``ops`` nor ``net``, the spec is ``spectral`` (Laplacian, mass, eigenbasis).
    """
    kinds: set[str] = set()
    if isinstance(ops, str):
        kinds |= {s.strip() for s in ops.split(",") if s.strip()}
    elif ops is not None:
        kinds |= set(ops)
    if net is not None:
        kinds |= set(OperatorSpec.for_net(_net_class(net), k=k, **params).operators)
    return OperatorSpec(operators=frozenset(kinds or {"spectral"}), k=k, **params)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def preprocess(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    ops: str | Iterable[str] | None = None,
    k: int = 128,
    net: Any = None,
    spec: OperatorSpec | None = None,
    clean: bool = False,
    normalize: str | None = DEFAULT_NORMALIZE,
    workers: int | None = None,
    scheduler: Any = None,
    fail_fast: bool = False,
    quiet: bool = False,
    max_vertices: int = 200_000,
    decimate: bool = False,
) -> Summary:
    """Compute and cache the operators of every shape file in ``inputs``.

    Parameters
    ----------
    inputs : path, glob, or list of them
        Folders (walked recursively for .obj .ply .off .stl .pcd .xyz .pts), globs, list files
        (.txt, one path a line) or shape files; see :func:`~meshlearn.preprocess.expand_inputs`.
    out : path
        The cache folder: one operator file per shape (named by the content hash of the shape as
        loaded, cleaned and normalised) and ``manifest.jsonl``.
    ops, k, net :
        What to compute; see :func:`resolve_spec`. Ignored when ``spec`` is given.
    spec : OperatorSpec, optional
        The exact spec, instead of ``ops`` / ``k`` / ``net``.
    clean : bool
        Repair what :func:`meshlearn.load` can repair. default: False
    normalize : {"area", "radius"} or None
        Scale each shape to unit area, or centre it in the unit ball; None keeps the file's
        scale. default: :data:`meshlearn.io.DEFAULT_NORMALIZE` ("radius"), how training,
        evaluation and the viewer load a dataset, so that they find these operators
    workers : int, optional
        Local worker processes (one compute thread each). default: the number of usable cores;
        1 runs in this process. Workers are started with the 'spawn' method, so a script that
        calls this with several workers needs the usual ``if __name__ == "__main__":`` guard.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``"tcp://HOST:PORT"``) or client: run on that cluster instead
        of locally. Its workers must import meshlearn and see the same paths; their thread
        settings are the cluster's own (``workers`` is not used).
    fail_fast : bool
        Stop at the first failed shape. default: False (failures are recorded, the rest runs)
    quiet : bool
        No progress bar or progress lines.
    max_vertices : int
        Vertex budget per shape. default: 200000. Each worker holds one shape and its operators
        at a time, so peak memory is about ``workers`` times that of the largest shape allowed.
    decimate : bool
        Simplify shapes over the budget (open3d quadric decimation; point clouds are
        subsampled) instead of failing them. default: False

    Returns
    -------
    Summary
        Counts, timing, the slowest shapes and the failures; ``summary.records`` are the manifest
        records of this run.

    Raises
    ------
    ConfigError
        Bad options or inputs that name nothing (before any work starts).
    CacheError
        The cache folder cannot be written, or another run holds it.
    MissingDependencyError
        ``scheduler`` is given but dask[distributed] is not installed (``pip install "meshlearn[dist]"``),
        or ``spec.eigen_coarse`` is set but open3d is not (``pip install "meshlearn[io]"``).
    PreprocessInterrupted
        Ctrl-C: the shapes in progress are abandoned (nothing partial is written), finished ones
        stay recorded; the exception's ``summary`` says how far it got. Rerun to resume.

    Examples
    --------
    >>> s = meshlearn.preprocess("scans/", "cache/", ops="spectral,hks", k=64)   # doctest: +SKIP
    >>> print(s.format())                                                      # doctest: +SKIP
    """
    from ..cache import OperatorCache

    if normalize is not None and normalize not in NORMALIZE_CHOICES:
        raise ConfigError(
            f"normalize must be one of {', '.join(NORMALIZE_CHOICES)} (got {normalize!r}); leave it out to keep the scale"
        )
    if int(max_vertices) < 4:
        raise ConfigError(f"max_vertices must be at least 4 (got {max_vertices})")
    workers = _default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ConfigError(f"workers must be at least 1 (got {workers})")
    if scheduler is not None:
        require("distributed", "preprocessing on a Dask cluster (--scheduler)")  # before any work starts
    if spec is None:
        spec = resolve_spec(ops, k, net)
    if spec.eigen_coarse:
        require("open3d", "the approximate eigenbasis (eigen_coarse / --eigen-coarse)")  # before any work starts
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    paths = expand_inputs(inputs)
    root = OperatorCache(out).root.resolve()
    tasks = [
        Task(str(p), str(root), spec, clean=clean, normalize=normalize, max_vertices=int(max_vertices), decimate=decimate)
        for p in paths
    ]
    manifest_path = root / MANIFEST_NAME
    records: list[dict[str, Any]] = []
    stopped = interrupted = False
    t0 = time.perf_counter()
    with CacheLock(root) as lock, orphan_guard():
        if lock.exclusive:
            remove_temporaries(root)
        runner: Iterator[dict[str, Any]]
        if scheduler is not None:
            runner = run_dask(tasks, scheduler)
        elif workers == 1 or len(tasks) == 1:
            runner = run_inline(tasks)
        else:
            runner = run_pool(tasks, min(workers, len(tasks)))
        with ManifestWriter(manifest_path) as manifest, Progress(len(tasks), quiet=quiet) as progress:
            try:
                for record in runner:
                    manifest.write(record)
                    records.append(record)
                    progress.update(record)
                    if fail_fast and record["status"] == STATUS_FAILED:
                        stopped = True
                        break
            except KeyboardInterrupt:
                interrupted = True
            finally:
                runner.close()
        # A worker killed mid-write (e.g. by the out-of-memory killer) leaves a temporary file.
        # Local workers have all exited here; tasks cancelled on a Dask cluster may still be writing.
        if lock.exclusive and (scheduler is None or not (stopped or interrupted)):
            remove_temporaries(root)
    summary = Summary(records, len(tasks), time.perf_counter() - t0, manifest_path, stopped, interrupted)
    if interrupted:
        raise PreprocessInterrupted(summary)
    return summary
