"""Mirror ground truth for correspondence evaluation, from detected symmetries instead of files.

FAUST_r ships ``.sym.vts`` files: for each template point, the vertex of each shape at its mirror
image. Where a dataset has none, :func:`detected_mirror_vts` builds the same array from the shape's
own detected left-right reflection ``T`` (``sym_vts = T[vts]``), so that the evaluation's
symmetric-flip report (errors against the mirrored ground truth, share of symmetry confusions)
needs no extra files. The report is then only as right as the detection: shapes where no
symmetry is found get none, and :func:`add_detected_mirrors` says how many.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import MeshlearnError
from .symmetry import detect_reflections

__all__ = ["detected_mirror_vts", "add_detected_mirrors"]

log = logging.getLogger(__name__)


def detected_mirror_vts(shape, vts: np.ndarray, **kwargs) -> np.ndarray | None:
    """``T[vts]`` for the shape's best detected reflection ``T``, or None when none is found.

    Parameters
    ----------
    shape : Shape
    vts : (N,) int array, 0-based vertices of the shape (the template correspondence)
    **kwargs : passed to :func:`~meshlearn.geometry.symmetry.detect_reflections`
    """
    try:
        found = detect_reflections(shape, **kwargs)
    except MeshlearnError as e:  # e.g. too few eigenpairs on a tiny shape: no mirror report for it
        log.warning("%s: no symmetry detection (%s)", shape.name, e)
        return None
    if not found:
        log.info("%s: %s", shape.name, found.message)
        return None
    return found[0].vertex_map[np.asarray(vts, dtype=np.int64)]


def add_detected_mirrors(items, **kwargs) -> int:
    """Fill ``item.targets["sym_vts"]`` from detected reflections for items that have ``vts`` but
    no ``sym_vts``; items with a file keep it. Returns how many items have ``sym_vts`` afterwards."""
    n = 0
    for item in items:
        if "sym_vts" not in item.targets and "vts" in item.targets:
            sym = detected_mirror_vts(item.shape, item.targets["vts"], **kwargs)
            if sym is not None:
                item.targets["sym_vts"] = sym
        n += "sym_vts" in item.targets
    return n
