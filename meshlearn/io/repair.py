"""The repairs of ``load(..., clean=True)``: what can be fixed without guessing, each one recorded.

Letters used for array shapes: V vertices, F faces. The defect definitions (and the masks that find
them) are :mod:`meshlearn.validate`'s, so a report and a repair agree on what each defect is.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import InvalidMeshError, where
from ..validate import (
    degenerate_face_mask,
    duplicate_face_mask,
    duplicate_vertex_representatives,
    edge_topology,
    face_components,
    half_edges,
    inconsistent_winding_count,
    nonfinite_vertex_mask,
    zero_area_face_mask,
)

__all__ = ["Repaired", "fix_winding", "orient_outward", "repair"]


class Repaired(NamedTuple):
    """What :func:`repair` returns.

    verts : (V', 3) float64
    faces : (F', 3) int64 or None (a point cloud)
    repairs : list of str, each repair in words
    vertex_map : (V',) int64, the input index of each kept vertex
    face_map : (F',) int64 or None, the input index of each kept face
    """

    verts: np.ndarray
    faces: np.ndarray | None
    repairs: list[str]
    vertex_map: np.ndarray
    face_map: np.ndarray | None


def _compact(verts: np.ndarray, faces: np.ndarray | None, keep: np.ndarray, vmap: np.ndarray):
    """Keep the vertices in mask ``keep`` and renumber faces (which must use only kept vertices)."""
    new_index = np.cumsum(keep) - 1
    faces = None if faces is None else new_index[faces]
    return verts[keep], faces, vmap[keep]


def fix_winding(faces: np.ndarray) -> np.ndarray:
    """Flip faces so that neighbours across manifold edges agree, one spanning tree per component.

    Each face is compared with its parent in a breadth-first tree of the face graph (faces linked
    through edges with exactly two faces) and reversed when the two traverse their shared edge the
    same way. On an orientable component every edge then agrees; on a non-orientable one (a Moebius
    strip) the disagreement is left on the edges that close the tree's cycles.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    F = len(faces)
    _, counts, half_to_edge = edge_topology(faces)
    half = half_edges(faces)
    manifold = np.flatnonzero(counts[half_to_edge] == 2)
    pairs = manifold[np.argsort(half_to_edge[manifold], kind="stable")].reshape(-1, 2)
    fa, fb = pairs[:, 0] // 3, pairs[:, 1] // 3
    disagree = half[pairs[:, 0], 0] == half[pairs[:, 1], 0]
    graph = coo_matrix((np.ones(len(fa)), (fa, fb)), shape=(F, F))
    _, labels = connected_components(graph, directed=False)
    _, roots = np.unique(labels, return_index=True)
    # one breadth-first search from a virtual node F linked to one face of every component
    rows = np.concatenate([fa, np.full(len(roots), F)])
    cols = np.concatenate([fb, roots])
    tree_graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(F + 1, F + 1)).tocsr()
    order, pred = breadth_first_order(tree_graph, F, directed=False, return_predecessors=True)
    # relation of each face with its parent: look the pair up among the manifold-edge pairs
    key = np.minimum(fa, fb) * (F + 1) + np.maximum(fa, fb)
    srt = np.argsort(key)
    key_s, dis_s = key[srt], disagree[srt]
    child = order[1:]
    parent = pred[child]
    rel = np.zeros(F + 1, dtype=bool)
    inner = parent != F
    c, p = child[inner], parent[inner]
    q = np.minimum(c, p) * (F + 1) + np.maximum(c, p)
    rel[c] = dis_s[np.searchsorted(key_s, q)]
    flip = [False] * (F + 1)
    pred_l, rel_l = pred.tolist(), rel.tolist()
    for f in child.tolist():
        flip[f] = flip[pred_l[f]] ^ rel_l[f]
    flip_arr = np.array(flip[:F], dtype=bool)
    out = faces.copy()
    out[flip_arr] = out[flip_arr][:, ::-1]
    return out


def orient_outward(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, int]:
    """Reverse every closed, consistently wound component whose signed volume is negative."""
    edges, counts, half_to_edge = edge_topology(faces)
    _, flab = face_components(len(faces), half_to_edge, counts)
    half = half_edges(faces)
    _, inv, dir_counts = np.unique(half[:, 0] * len(verts) + half[:, 1], return_inverse=True, return_counts=True)
    # a face is unusable for orientation if it has a boundary or non-manifold edge, or disagrees with
    # a neighbour (its component is then open or non-orientable, and has no inside)
    bad_half = (counts[half_to_edge] != 2) | (dir_counts[inv.ravel()] > 1)
    bad_face = bad_half.reshape(-1, 3).any(axis=1)
    n_lab = int(flab.max()) + 1
    is_open = np.bincount(flab, weights=bad_face, minlength=n_lab) > 0
    t = verts[faces] / (float(np.abs(verts).max()) or 1.0)  # scaled: only the sign matters
    vol = np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])) / 6.0
    comp_vol = np.bincount(flab, weights=vol, minlength=n_lab)
    flip_comp = (~is_open) & (comp_vol < 0)
    flip = flip_comp[flab]
    if flip.any():
        faces = faces.copy()
        faces[flip] = faces[flip][:, ::-1]
    return faces, int(flip_comp.sum())


def repair(verts: np.ndarray, faces: np.ndarray | None, source: str | None) -> Repaired:
    """Repair what can be repaired safely, in this order, and say what was done.

    Drop vertices with NaN/inf coordinates (and their faces); weld vertices with identical
    coordinates into their first copy; remove degenerate, zero-area and duplicate faces, then the
    vertices no face uses; make the winding consistent where the surface is orientable
    (:func:`fix_winding`); turn closed components outwards (:func:`orient_outward`). Components are
    all kept. Face indices must already be in range.

    Parameters
    ----------
    verts : (V, 3) float64
    faces : (F, 3) int64 or None
    source : str or None
        The file, for messages.

    Returns
    -------
    Repaired

    Raises
    ------
    InvalidMeshError
        When nothing is left: every vertex non-finite, or no usable face.
    """
    repairs: list[str] = []
    vmap = np.arange(len(verts), dtype=np.int64)
    fmap = None if faces is None else np.arange(len(faces), dtype=np.int64)

    bad = nonfinite_vertex_mask(verts)
    if bad.any():
        n_bad_faces = 0
        if faces is not None:
            uses_bad = bad[faces].any(axis=1)
            n_bad_faces = int(uses_bad.sum())
            faces, fmap = faces[~uses_bad], fmap[~uses_bad]
        verts, faces, vmap = _compact(verts, faces, ~bad, vmap)
        repairs.append(
            f"dropped {int(bad.sum())} vertices with NaN/inf coordinates"
            + (f" and the {n_bad_faces} faces using them" if faces is not None else "")
        )
        if len(verts) == 0:
            raise InvalidMeshError(
                f"{where(source)}every vertex has NaN or infinite coordinates; nothing is left to load. "
                "Re-export the file from its source"
            )

    rep = duplicate_vertex_representatives(verts)
    dup = rep != np.arange(len(verts))
    if dup.any():
        keep = ~dup
        if faces is not None:
            faces = rep[faces]
        verts, faces, vmap = _compact(verts, faces, keep, vmap)
        repairs.append(f"welded {int(dup.sum())} duplicate vertices (same coordinates) into their first copy")

    if faces is None:
        return Repaired(verts, None, repairs, vmap, None)

    degenerate = degenerate_face_mask(faces)
    if degenerate.any():
        faces, fmap = faces[~degenerate], fmap[~degenerate]
        repairs.append(f"removed {int(degenerate.sum())} degenerate faces (a vertex named twice)")
    zero = zero_area_face_mask(verts, faces)
    if zero.any():
        faces, fmap = faces[~zero], fmap[~zero]
        repairs.append(f"removed {int(zero.sum())} zero-area faces")
    dupf = duplicate_face_mask(faces)
    if dupf.any():
        faces, fmap = faces[~dupf], fmap[~dupf]
        repairs.append(f"removed {int(dupf.sum())} duplicate faces (same three vertices)")
    if len(faces) == 0:
        raise InvalidMeshError(
            f"{where(source)}no usable face is left after removing degenerate, zero-area and duplicate faces; "
            "the file holds no surface (load it as a point cloud from its vertices instead)"
        )
    used = np.zeros(len(verts), dtype=bool)
    used[faces.ravel()] = True
    if not used.all():
        n_unused = int((~used).sum())
        verts, faces, vmap = _compact(verts, faces, used, vmap)
        repairs.append(f"removed {n_unused} vertices that no face uses")

    n_bad = inconsistent_winding_count(faces)
    if n_bad:
        fixed = fix_winding(faces)
        left = inconsistent_winding_count(fixed)
        if left < n_bad:
            faces = fixed
            repairs.append(
                f"flipped faces to make the winding consistent ({n_bad} disagreeing edges before, {left} after"
                + ("; the rest is non-orientable or non-manifold" if left else "")
                + ")"
            )
    faces, n_flipped = orient_outward(verts, faces)
    if n_flipped:
        repairs.append(f"reversed {n_flipped} closed component(s) whose normals pointed inwards")
    return Repaired(verts, faces, repairs, vmap, fmap)
