"""Part labels between faces and vertices: the one conversion each way, used by the dataset
readers, the segmentation metrics and the viewer.

Letters: V vertices, F faces.

Conventions
-----------
- Labels are 0-based non-negative integers; a negative label means "unknown" and casts no vote.
- Faces to vertices: each vertex takes the label with the largest total area among the faces
  around it (an area-weighted vote, so the answer does not depend on how finely the surface is
  meshed); a tie goes to the smaller label; a vertex on no labelled face gets -1.
- Vertices to faces: each face takes the label most of its three corners carry, its first
  corner's when all three differ.

This module imports numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["vertex_labels_from_faces", "face_labels_from_vertices"]


def vertex_labels_from_faces(
    faces: np.ndarray, face_labels: np.ndarray, n_verts: int, face_areas: np.ndarray | None = None
) -> np.ndarray:
    """Per-vertex labels from per-face labels by an area-weighted vote.

    Parameters
    ----------
    faces : (F, 3) int
    face_labels : (F,) int
        Negative entries are unknown and ignored.
    n_verts : int
        V, the number of vertices (vertices on no face get -1).
    face_areas : (F,) float, optional
        Weights of the faces' votes. default: None (every face weighs the same)

    Returns
    -------
    (V,) int64 labels, -1 where no labelled face touches the vertex.

    Examples
    --------
    >>> faces = np.array([[0, 1, 2], [1, 3, 2]])
    >>> vertex_labels_from_faces(faces, np.array([4, 7]), 5, np.array([1.0, 2.0])).tolist()
    [4, 7, 7, 7, -1]
    """
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    labels = np.asarray(face_labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != faces.shape[0]:
        raise ValueError(f"expected one label per face ({faces.shape[0]}) (got {labels.shape[0]})")
    weights = np.ones(len(faces)) if face_areas is None else np.asarray(face_areas, dtype=np.float64).reshape(-1)
    out = np.full(int(n_verts), -1, dtype=np.int64)
    known = labels >= 0
    if not known.any():
        return out
    faces, labels = faces[known], labels[known]
    # a zero-area face still votes, with the least weight, so its corners are not left unknown
    weights = np.maximum(weights[known], 1e-300)
    n_lab = int(labels.max()) + 1
    votes = np.zeros((int(n_verts), n_lab))
    for corner in range(3):
        np.add.at(votes, (faces[:, corner], labels), weights)
    touched = votes.max(1) > 0
    out[touched] = votes[touched].argmax(1)
    return out


def face_labels_from_vertices(faces: np.ndarray, vertex_labels: np.ndarray) -> np.ndarray:
    """(F,) label of each face: the label most of its corners carry (its first corner's when all
    three differ).

    Examples
    --------
    >>> face_labels_from_vertices(np.array([[0, 1, 2], [2, 3, 4]]), np.array([1, 1, 2, 3, 4])).tolist()
    [1, 2]
    """
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    vertex_labels = np.asarray(vertex_labels)
    a, b, c = (vertex_labels[faces[:, i]] for i in range(3))
    return np.where(b == c, b, a)
