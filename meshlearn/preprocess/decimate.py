"""Bring a shape under a vertex budget before its operators are computed.

Meshes are simplified with open3d's quadric error decimation
(``TriangleMesh.simplify_quadric_decimation``), which keeps the surface's shape while merging
vertices; point clouds keep every n-th point (a uniform subsample in file order). Either way the
result has at most ``max_vertices`` vertices, so one huge scan cannot exhaust a worker's memory.
Decimating a mesh needs open3d, the ``io`` extra (``pip install "meshlearn[io]"``).

Letters: V vertices, F faces.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidMeshError, where
from ..optional import require
from ..shape import Shape

__all__ = ["decimate"]

#: What the CLI help and the manifest say was used.
METHOD = "open3d quadric decimation"


def decimate(shape: Shape, max_vertices: int) -> Shape:
    """A copy of ``shape`` with at most ``max_vertices`` vertices.

    Parameters
    ----------
    shape : Shape
        verts (V, 3) float64, faces (F, 3) int64 or None.
    max_vertices : int
        The vertex budget, at least 4.

    Returns
    -------
    Shape
        The same shape when it is already within budget; otherwise a simplified mesh (quadric
        decimation, unreferenced vertices removed) or a subsampled point cloud, with a line added
        to ``repairs`` that says what was done.

    Raises
    ------
    InvalidMeshError
        When decimation cannot reach the budget (e.g. a mesh made of many tiny components).
    MissingDependencyError
        A mesh over budget and open3d not installed.
    """
    if max_vertices < 4:
        raise InvalidMeshError(f"max_vertices must be at least 4 (got {max_vertices})")
    V0 = shape.n_verts
    if V0 <= max_vertices:
        return shape
    if shape.faces is None:
        stride = math.ceil(V0 / max_vertices)
        verts, faces = shape.verts[::stride], None
        how = f"kept every {stride}th point"
    else:
        verts, faces = _quadric(shape, max_vertices)
        how = METHOD
    if verts.shape[0] > max_vertices:
        raise InvalidMeshError(
            f"{where(shape.source)}{METHOD} left {verts.shape[0]} vertices, over the budget of {max_vertices}; "
            "raise --max-vertices or simplify the file with a mesh editor first"
        )
    note = f"decimated from {V0} to {verts.shape[0]} vertices ({how})"
    return shape.with_(verts=verts, faces=faces, repairs=tuple(shape.repairs) + (note,))


def _quadric(shape: Shape, max_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    o3d = require("open3d", "decimating a mesh (preprocess --decimate)")

    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(shape.verts), o3d.utility.Vector3iVector(shape.faces.astype(np.int32))
    )
    target = shape.n_faces
    verts, faces = shape.verts, shape.faces
    for _ in range(4):
        # Vertex and face counts shrink roughly together; aim a little under the budget.
        target = max(4, int(target * 0.97 * max_vertices / max(verts.shape[0], 1)))
        simple = mesh.simplify_quadric_decimation(target_number_of_triangles=target)
        simple.remove_degenerate_triangles()
        simple.remove_unreferenced_vertices()
        verts = np.asarray(simple.vertices, dtype=np.float64)
        faces = np.asarray(simple.triangles, dtype=np.int64)
        if verts.shape[0] <= max_vertices:
            break
    return verts, faces
