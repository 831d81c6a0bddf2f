"""The procedural body dataset: geometry of the skeleton, remeshing, labels, correspondence, bytes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from meshlearn.datasets import PART_NAMES, Body, generate_shape, make_template, write_dataset
from meshlearn.datasets.body import Pose, random_pose, rotation_matrix
from meshlearn.errors import ConfigError
from meshlearn.testing import folder_digest


@pytest.fixture(scope="module")
def template():
    return make_template(600)


@pytest.fixture(scope="module")
def shapes(template):
    return [generate_shape(template, s, name=f"s{s}") for s in range(3)]


def test_template_is_a_closed_outward_body_with_every_part(template):
    import trimesh

    mesh = trimesh.Trimesh(template.verts, template.faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0  # outward faces
    assert set(np.unique(template.labels)) == set(range(len(PART_NAMES)))
    assert abs(template.n_verts - 600) < 0.1 * 600


def test_rotation_matrix_is_rodrigues():
    R = rotation_matrix(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(R @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    rng = np.random.default_rng(0)
    R = rotation_matrix(rng.normal(size=3))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_rest_pose_transforms_are_identity():
    body = Body()
    J = body.n_parts
    A, t = body.part_transforms(Pose(np.zeros((J, 3)), np.ones(J), np.ones(J), 1.0))
    np.testing.assert_allclose(A, np.broadcast_to(np.eye(3), A.shape), atol=1e-12)
    np.testing.assert_allclose(t, 0.0, atol=1e-12)


def test_joints_stay_attached_under_any_pose():
    """Forward kinematics: a child part and its parent move a shared joint to the same place."""
    body = Body()
    rng = np.random.default_rng(3)
    for _ in range(5):
        pose = random_pose(body, rng)
        A, t = body.part_transforms(pose)
        for j, p in enumerate(body.parents):
            if p >= 0:
                x = body.joints[j]
                np.testing.assert_allclose(A[j] @ x + t[j], A[p] @ x + t[p], atol=1e-12)


def test_rigid_root_motion_preserves_distances():
    body = Body()
    J = body.n_parts
    rot = np.zeros((J, 3))
    rot[0] = [0.3, -0.2, 0.5]
    pose = Pose(rot, np.ones(J), np.ones(J), 1.0)
    pts = np.random.default_rng(0).normal(size=(50, 3))
    w = np.random.default_rng(1).dirichlet(np.ones(J), size=50)
    moved = body.pose_points(pts, w, pose)
    d0 = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    d1 = np.linalg.norm(moved[:, None] - moved[None], axis=-1)
    np.testing.assert_allclose(d0, d1, atol=1e-10)


def test_skinning_weights_are_a_partition_of_unity():
    body = Body()
    pts = np.random.default_rng(0).uniform(*body.bounds(), size=(200, 3))
    w = body.skinning_weights(pts)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(1), 1.0)


def test_shapes_are_remeshed_independently(shapes, template):
    counts = [s.shape.n_verts for s in shapes]
    assert len(set(counts)) == len(counts) and len(set(counts) | {template.n_verts}) == 4
    for s in shapes:
        assert 0.7 * 600 < s.shape.n_verts < 1.3 * 600
        mesh = s.shape.to_trimesh()
        assert mesh.is_watertight and mesh.volume > 0


def test_correspondence_points_lie_on_the_template_surface(shapes, template):
    for s in shapes:
        on_template = np.einsum("vk,vkd->vd", s.template_bary, template.verts[template.faces[s.template_face]])
        edge = np.linalg.norm(template.verts[template.faces[:, 0]] - template.verts[template.faces[:, 1]], axis=1).mean()
        gap = np.linalg.norm(on_template - s.rest_verts, axis=1)
        # Two marching-cubes meshes of one surface differ by a fraction of an edge, except at the
        # thinnest tips (hands, feet), which a coarse grid rounds off differently.
        assert np.median(gap) < 0.15 * edge
        assert np.mean(gap > 0.5 * edge) < 0.03 and gap.max() < 2.0 * edge
        np.testing.assert_allclose(s.template_bary.sum(1), 1.0)
        assert np.all(np.isin(s.template_vertex, template.faces[s.template_face]))


def test_labels_agree_with_the_template_correspondent(shapes, template):
    """A vertex's label is its template correspondent's, except within a sliver at part borders."""
    body = Body()
    for s in shapes:
        agree = s.labels == template.labels[s.template_vertex]
        assert agree.mean() > 0.95
        d = np.sort(body.part_distances(s.rest_verts[~agree]), axis=1)
        edge = np.linalg.norm(s.rest_verts[s.shape.faces[:, 0]] - s.rest_verts[s.shape.faces[:, 1]], axis=1).mean()
        assert np.all(d[:, 1] - d[:, 0] < 2 * edge)  # near a border between two parts


def test_vts_points_at_the_nearest_rest_vertex(shapes, template):
    for s in shapes:
        dist, idx = cKDTree(s.rest_verts).query(template.verts)
        np.testing.assert_array_equal(s.vts, idx)
        assert s.vts.shape == (template.n_verts,)


def test_left_and_right_are_mirror_parts():
    body = Body()
    left = {PART_NAMES.index(n) for n in PART_NAMES if n.startswith("left")}
    for j in left:
        r = PART_NAMES.index(PART_NAMES[j].replace("left", "right"))
        pl = body.a[body.part == j]
        pr = body.a[body.part == r]
        np.testing.assert_allclose(pl * [-1, 1, 1], pr)


def test_point_cloud_variant(template):
    s = generate_shape(template, 5, points=True)
    assert s.shape.faces is None and s.labels.shape == (s.shape.n_verts,)


def test_same_seed_same_bytes(tmp_path):
    a = write_dataset(tmp_path / "a", n=3, seed=7, n_vertices=400, progress=False)
    b = write_dataset(tmp_path / "b", n=3, seed=7, n_vertices=400, progress=False)
    c = write_dataset(tmp_path / "c", n=3, seed=8, n_vertices=400, progress=False)
    assert folder_digest(a) == folder_digest(b) != folder_digest(c)
    assert sorted(p.name for p in (a / "train" / "meshes").iterdir()) == ["body_000.ply", "body_001.ply"]
    assert [p.name for p in (a / "test" / "meshes").iterdir()] == ["body_002.ply"]


def test_bad_arguments():
    with pytest.raises(ConfigError, match="n_vertices"):
        make_template(10)
    with pytest.raises(ConfigError, match="at least 2"):
        write_dataset("/nonexistent", n=1)


def test_symmetric_correspondences_swap_left_and_right(tmp_path):
    from meshlearn.datasets.body import PART_NAMES
    from meshlearn.datasets.readers import load_sample, read_dataset

    root = write_dataset(tmp_path / "d", n=2, seed=3, n_vertices=600, progress=False)
    sample = load_sample(read_dataset(root)["test"].records[0])
    template_labels = np.loadtxt(root / "template_labels.txt", dtype=np.int64)
    swap = {i: PART_NAMES.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
            for i, n in enumerate(PART_NAMES)}
    mirrored = np.array([swap[int(t)] for t in template_labels])
    # the shape's vertex matching the mirror image of template point i lies on the mirrored part of i
    assert np.mean(sample.labels[sample.sym_vts] == mirrored) > 0.9
    assert np.mean(sample.labels[sample.vts] == template_labels) > 0.9
    assert np.mean(sample.labels[sample.sym_vts] == template_labels) < 0.8  # limbs do swap
