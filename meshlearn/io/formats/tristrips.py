"""Triangle strips (the ``tristrips`` element of PLY files from range-scanning pipelines) -> triangles.

Why meshlearn's own: trimesh, open3d (and plyfile, which hands the raw lists back) return no faces
for a PLY whose surface is a ``tristrips`` element, so the scan would load as a point cloud.
"""

from __future__ import annotations

import numpy as np

__all__ = ["strips_to_triangles"]


def strips_to_triangles(strips: list[np.ndarray]) -> np.ndarray:
    """Triangles of triangle strips, with consistent winding.

    Parameters
    ----------
    strips : list of (n,) int arrays
        Each a strip of vertex indices; ``-1`` ends one strip and starts the next.

    Returns
    -------
    (F, 3) int64
        Strip ``s0 s1 s2 s3 ...`` gives ``(s0, s1, s2), (s2, s1, s3), (s2, s3, s4), ...``: every
        second triangle swaps its first two corners so that all keep the first one's winding.
        Triangles that name a vertex twice (the joins strips use to turn corners) are left out.

    Examples
    --------
    >>> strips_to_triangles([np.array([0, 1, 2, 3, -1, 4, 5, 6])]).tolist()
    [[0, 1, 2], [2, 1, 3], [4, 5, 6]]
    """
    out = []
    for strip in strips:
        strip = np.asarray(strip, dtype=np.int64).ravel()
        cuts = np.flatnonzero(strip < 0)
        for run in np.split(strip, cuts):
            run = run[run >= 0]
            if len(run) < 3:
                continue
            tri = np.stack([run[:-2], run[1:-1], run[2:]], axis=1)
            odd = np.arange(len(tri)) % 2 == 1
            tri[odd] = tri[odd][:, [1, 0, 2]]
            out.append(tri)
    if not out:
        return np.zeros((0, 3), dtype=np.int64)
    tris = np.concatenate(out)
    keep = (tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])
    return tris[keep]
