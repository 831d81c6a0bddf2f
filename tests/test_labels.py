"""meshlearn.labels: the one face <-> vertex label conversion each way."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.labels import face_labels_from_vertices, vertex_labels_from_faces
from meshlearn.testing import icosphere


def test_area_weighted_vote_and_unknowns():
    # a fan of three triangles around vertex 0; vertex 5 is on no face
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 4]])
    areas = np.array([1.0, 1.0, 3.0])
    out = vertex_labels_from_faces(faces, np.array([2, 2, 5]), 6, areas)
    assert out.tolist() == [5, 2, 2, 5, 5, -1]  # vertex 0: label 5 holds 3 of its 5 units of area
    assert vertex_labels_from_faces(faces, np.array([2, 2, 5]), 6).tolist()[0] == 2  # unweighted: 2 faces to 1
    assert vertex_labels_from_faces(faces, np.array([1, 0, -1]), 5).tolist() == [0, 1, 0, 0, -1]  # tie -> smaller
    assert vertex_labels_from_faces(faces, np.array([-1, -1, -1]), 5).tolist() == [-1] * 5
    with pytest.raises(ValueError, match="one label per face"):
        vertex_labels_from_faces(faces, np.array([1, 2]), 5)


def test_round_trip_on_a_sphere():
    s = icosphere(2)
    face_lab = (s.verts[s.faces].mean(1)[:, 2] > 0).astype(int)
    v = vertex_labels_from_faces(s.faces, face_lab, s.n_verts, s.face_areas())
    z = s.verts[:, 2]
    far = np.abs(z) > 0.3  # vertices whose every face lies in one hemisphere
    np.testing.assert_array_equal(v[far], (z[far] > 0).astype(int))
    back = face_labels_from_vertices(s.faces, v)
    inside = np.abs(s.verts[s.faces].mean(1)[:, 2]) > 0.3
    np.testing.assert_array_equal(back[inside], face_lab[inside])


def test_majority_of_corners():
    faces = np.array([[0, 1, 2], [0, 1, 3], [1, 2, 3], [0, 2, 3]])
    lab = np.array([1, 2, 2, 3])
    assert face_labels_from_vertices(faces, lab).tolist() == [2, 1, 2, 1]
    # [1,2,2] -> 2; [1,2,3] all differ -> first corner 1; [2,2,3] -> 2; [1,2,3] -> 1
