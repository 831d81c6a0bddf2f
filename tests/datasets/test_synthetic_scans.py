"""Synthetic scans of body families: proportions, remeshing, ground truth, splits, bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from meshlearn.datasets.body import PART_NAMES, Body, Pose
from meshlearn.datasets.body_families import FAMILIES, Proportions, draw_identity
from meshlearn.datasets.synthetic_scans import (
    generate_scan,
    make_family_template,
    scan_dataset_plan,
    surface_normals,
    write_scan_dataset,
)
from meshlearn.errors import ConfigError
from meshlearn.testing import folder_digest

MIRROR = np.array([-1.0, 1.0, 1.0])
SMALL = (700, 1400)


@pytest.fixture(scope="module")
def templates():
    return {name: make_family_template(name, 800) for name in FAMILIES}


@pytest.fixture(scope="module")
def faust_scans(templates):
    people, plan = scan_dataset_plan(FAMILIES["faust"], 6, 3, 3, 0.3)
    return [generate_scan(templates["faust"], people[p.identity], p.seed, vertices=SMALL, name=p.name,
                          identity_index=p.identity) for p in plan[:3]]


def _mean_edge(verts, faces):
    return float(np.linalg.norm(verts[faces[:, 0]] - verts[faces[:, 1]], axis=1).mean())


# ------------------------------------------------------------------------------------ the body
def test_canonical_proportions_leave_the_body_unchanged():
    body = Body()
    J = body.n_parts
    A, t = body.part_transforms(Pose(rotations=np.zeros((J, 3)), **Proportions().scales(body)))
    np.testing.assert_allclose(A, np.broadcast_to(np.eye(3), A.shape), atol=1e-12)
    np.testing.assert_allclose(t, 0.0, atol=1e-12)


def test_depth_scale_equal_to_thickness_is_the_isotropic_pose():
    body = Body()
    rng = np.random.default_rng(0)
    J = body.n_parts
    rot, length, thick = rng.normal(0, 0.3, (J, 3)), rng.uniform(0.8, 1.2, J), rng.uniform(0.8, 1.2, J)
    A0, t0 = body.part_transforms(Pose(rot, length, thick, 1.1))
    A1, t1 = body.part_transforms(Pose(rot, length, thick, 1.1, depth_scale=thick.copy()))
    np.testing.assert_allclose(A1, A0, atol=1e-12)
    np.testing.assert_allclose(t1, t0, atol=1e-12)
    # a depth scale stretches along the part's depth axis only
    depth = thick.copy()
    depth[0] = 1.5 * thick[0]
    A2, _ = body.part_transforms(Pose(np.zeros((J, 3)), length, thick, 1.0, depth_scale=depth))
    np.testing.assert_allclose(A2[0] @ body.depth_axes[0], 1.5 * thick[0] * body.depth_axes[0], atol=1e-12)
    np.testing.assert_allclose(A2[0] @ body.axes[0], length[0] * body.axes[0], atol=1e-12)


def test_shifted_joints_stay_attached():
    """Forward kinematics: a child's rest joint lands where its parent puts the shifted joint."""
    body = Body()
    rng = np.random.default_rng(4)
    ident = draw_identity(FAMILIES["faust"], rng)
    for _ in range(3):
        pose = Pose(rotations=rng.normal(0, 0.4, (body.n_parts, 3)), **ident.scales(body))
        A, t = body.part_transforms(pose)
        for j, p in enumerate(body.parents):
            if p >= 0:
                x = body.joints[j]
                np.testing.assert_allclose(A[j] @ x + t[j], A[p] @ (x + pose.joint_shift[j]) + t[p], atol=1e-12)


def test_surface_normals_are_unit_and_outward():
    body = Body()
    tpl = make_family_template("faust", 600)
    n = surface_normals(body, tpl.canonical)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-9)
    assert np.all(body.sdf(tpl.canonical + 0.003 * n) > body.sdf(tpl.canonical - 0.003 * n))


# ------------------------------------------------------------------------------------ families
def test_families_have_their_own_templates_and_proportions(templates):
    faust, scape = templates["faust"], templates["scape"]
    full = {name: make_family_template(name) for name in FAMILIES}
    assert full["faust"].n_points != full["scape"].n_points
    for t in full.values():
        assert abs(t.n_points / t.family.template_vertices - 1) < 0.05
    # the template points are not shared: most of one family's points are off the other's
    gap, _ = cKDTree(faust.canonical).query(scape.canonical)
    assert np.median(gap) > 0.1 * _mean_edge(faust.canonical, faust.faces)
    # the scape person is taller with broader shoulders (template at rest, in metres)
    height = {k: np.ptp(t.verts[:, 1]) for k, t in templates.items()}
    left, right = PART_NAMES.index("left_upper_arm"), PART_NAMES.index("right_upper_arm")
    shoulders = {k: t.verts[t.labels == left, 0].mean() - t.verts[t.labels == right, 0].mean()
                 for k, t in templates.items()}
    assert height["scape"] > 1.04 * height["faust"]
    assert shoulders["scape"] / height["scape"] > shoulders["faust"] / height["faust"]
    for t in templates.values():
        mesh = trimesh.Trimesh(t.verts, t.faces, process=False)
        assert mesh.is_watertight and mesh.volume > 0


def test_faust_identities_vary_and_scape_is_one_person():
    fam = FAMILIES["faust"]
    people = [draw_identity(fam, np.random.default_rng(s)) for s in range(10)]
    for field in ("height", "torso_width", "shoulder_width", "leg_length", "arm_girth"):
        values = [getattr(p, field) for p in people]
        assert np.ptp(values) > 0.02
    assert draw_identity(FAMILIES["scape"], np.random.default_rng(0)) == FAMILIES["scape"].base


def test_faust_test_people_are_never_seen_in_training():
    people, plan = scan_dataset_plan(FAMILIES["faust"], 100, 0, 10, 0.2)
    train = {p.identity for p in plan if p.split == "train"}
    test = {p.identity for p in plan if p.split == "test"}
    assert train == set(range(8)) and test == {8, 9}
    assert sum(p.split == "test" for p in plan) == 20
    assert [p.name for p in plan[:2]] == ["faust_00_00", "faust_00_01"] and plan[-1].name == "faust_09_09"
    assert len({p.height for p in people}) == 10
    _, plan_s = scan_dataset_plan(FAMILIES["scape"], 71, 0, 1, 0.2)
    assert [p.name for p in plan_s if p.split == "test"][0] == "scape_057"  # the last 14 poses
    assert {p.identity for p in plan_s} == {0}


def test_bad_plans():
    with pytest.raises(ConfigError, match="one person"):
        scan_dataset_plan(FAMILIES["scape"], 10, 0, 3, 0.2)
    with pytest.raises(ConfigError, match="identities"):
        scan_dataset_plan(FAMILIES["faust"], 5, 0, 6, 0.2)
    with pytest.raises(ConfigError, match="at least 2"):
        scan_dataset_plan(FAMILIES["faust"], 1, 0, 1, 0.2)
    with pytest.raises(ConfigError, match="vertices"):
        generate_scan(make_family_template("faust", 600), Proportions(), 0, vertices=(900, 400))
    with pytest.raises(ConfigError, match="unknown body family"):
        make_family_template("tosca")


# ------------------------------------------------------------------------------------ shapes
def test_vertex_counts_lie_in_the_range_and_differ(templates):
    people, plan = scan_dataset_plan(FAMILIES["scape"], 6, 9, 1, 0.2)
    scans = [generate_scan(templates["scape"], people[0], p.seed, vertices=SMALL) for p in plan]
    counts = [s.shape.n_verts for s in scans]
    assert all(SMALL[0] <= c <= SMALL[1] for c in counts)
    assert len(set(counts)) == len(counts)
    for s in scans:
        assert abs(s.shape.n_verts / s.target_vertices - 1) < 0.05
        mesh = s.shape.to_trimesh()
        assert mesh.is_watertight


def test_the_shape_is_the_known_deformation_of_its_canonical_vertices(faust_scans):
    """Without noise each vertex sits where the generator's map sends its canonical position;
    the noise is along the normal, a fraction of an edge."""
    body = Body()
    for s in faust_scans:
        moved = s.deformation.apply(body, s.canonical)
        edge = _mean_edge(s.shape.verts, s.shape.faces)
        gap = np.linalg.norm(moved - s.shape.verts, axis=1)
        assert np.sqrt(np.mean(gap**2)) < 0.2 * edge and gap.max() < 0.8 * edge
        # the canonical vertices lie on the canonical surface, up to marching cubes' interpolation
        off = np.abs(body.sdf(s.canonical)) / _mean_edge(s.canonical, s.shape.faces)
        assert np.median(off) < 0.05 and off.max() < 0.5


def test_vts_sends_template_points_to_nearby_points_of_the_posed_shape(faust_scans, templates):
    body = Body()
    tpl = templates["faust"]
    for s in faust_scans:
        assert s.vts.shape == (tpl.n_points,) and s.vts.min() >= 0 and s.vts.max() < s.shape.n_verts
        np.testing.assert_array_equal(s.vts, cKDTree(s.canonical).query(tpl.canonical)[1])
        where = s.deformation.apply(body, tpl.canonical)  # template points carried onto this shape
        edge = _mean_edge(s.shape.verts, s.shape.faces)
        gap = np.linalg.norm(where - s.shape.verts[s.vts], axis=1)
        assert np.median(gap) < 0.7 * edge and gap.max() < 3.0 * edge
        # posed far from the rest pose and rotated: the raw positions do not match
        assert np.median(np.linalg.norm(s.shape.verts[s.vts] - tpl.verts, axis=1)) > 10 * edge


def test_sym_vts_is_the_mirror_map_and_an_involution(faust_scans, templates):
    tpl = templates["faust"]
    swap = np.array([PART_NAMES.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
                     for n in PART_NAMES])
    for s in faust_scans:
        np.testing.assert_array_equal(s.sym_vts, cKDTree(s.canonical).query(tpl.canonical * MIRROR)[1])
        # the mirror of the mirror comes back to (a neighbour of) the vts point, on the posed shape
        back = cKDTree(s.canonical).query(s.canonical[s.sym_vts] * MIRROR)[1]
        edge = _mean_edge(s.shape.verts, s.shape.faces)
        gap = np.linalg.norm(s.shape.verts[back] - s.shape.verts[s.vts], axis=1)
        assert np.median(gap) < 1.0 * edge and np.quantile(gap, 0.99) < 3.0 * edge
        assert np.mean(s.labels[s.sym_vts] == swap[tpl.labels]) > 0.95
        assert np.mean(s.labels[s.sym_vts] == tpl.labels) < 0.6  # the limbs do swap


def test_rotations_are_arbitrary_unless_upright(templates):
    people, plan = scan_dataset_plan(FAMILIES["faust"], 6, 1, 3, 0.3)
    up = [generate_scan(templates["faust"], people[p.identity], p.seed, vertices=SMALL, upright=True) for p in plan]
    free = [generate_scan(templates["faust"], people[p.identity], p.seed, vertices=SMALL) for p in plan]
    for a, b in zip(up, free):
        np.testing.assert_allclose(a.deformation.rotation @ [0, 1, 0], [0, 1, 0], atol=1e-12)
        np.testing.assert_array_equal(a.vts, b.vts)  # `upright` changes nothing else
        R = b.deformation.rotation
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
    assert min(abs((s.deformation.rotation @ [0, 1, 0])[1]) for s in free) < 0.95


# ------------------------------------------------------------------------------------ files
def test_written_dataset_reads_back_and_is_seeded(tmp_path):
    from meshlearn.datasets.readers import load_sample, read_dataset

    kw = dict(n=4, identities=4, vertices=(500, 900), template_points=500, progress=False)
    a = write_scan_dataset(tmp_path / "a", "faust", seed=7, **kw)
    b = write_scan_dataset(tmp_path / "b", "faust", seed=7, workers=2, **kw)
    c = write_scan_dataset(tmp_path / "c", "faust", seed=8, **kw)
    assert folder_digest(a) == folder_digest(b) != folder_digest(c)
    splits = read_dataset(a)
    assert splits["train"].layout == "faust_r" and splits["train"].template == a / "template.ply"
    assert [r.name for r in splits["test"].records] == ["faust_03_00"]
    assert len(splits["train"]) == 3
    T = len((a / "template_labels.txt").read_text().split())
    for rec in splits["train"].records + splits["test"].records:
        sample = load_sample(rec)
        assert sample.vts.shape == (T,) and sample.sym_vts.shape == (T,)
    meta = json.loads((a / "family.json").read_text())
    assert meta["family"] == "faust" and [i["splits"] for i in meta["identities"]] == [["train"]] * 3 + [["test"]]
    rows = (a / "shapes.csv").read_text().splitlines()
    assert rows[0] == "name,split,identity,vertices" and len(rows) == 5


def test_two_families_with_one_seed_share_no_meshing(tmp_path):
    kw = dict(n=3, vertices=(500, 900), template_points=500, progress=False)
    f = write_scan_dataset(tmp_path / "f", "faust", seed=0, identities=3, **kw)
    s = write_scan_dataset(tmp_path / "s", "scape", seed=0, **kw)
    count = lambda root: sorted(r.split(",")[3] for r in (root / "shapes.csv").read_text().splitlines()[1:])  # noqa: E731
    assert set(count(f)).isdisjoint(count(s))
    assert (s / "test_pairs.txt").read_text() == ""  # one test shape, no pair
    assert (f / "test_pairs.txt").read_text() == ""


def test_cli_writes_a_family_and_rejects_bad_options(tmp_path):
    from typer.testing import CliRunner

    from meshlearn.cli import app

    runner = CliRunner()
    out = tmp_path / "scape"
    r = runner.invoke(app, ["data", "synthetic", "--task", "correspondence", "--family", "scape", "--out", str(out),
                            "--n", "4", "--vertices", "500:800", "--upright", "-q"])
    assert r.exit_code == 0, r.output
    assert "wrote 4 scape shapes" in r.output
    assert sorted(p.name for p in (out / "test" / "off").iterdir()) == ["scape_003.off"]
    assert (out / "test_pairs.txt").exists()
    bad = [
        (["--task", "segmentation", "--family", "faust"], "--task correspondence"),
        (["--task", "correspondence", "--family", "faust", "--vertices", "a:b"], "MIN:MAX"),
        (["--task", "correspondence", "--vertices", "500:800"], "one integer"),
        (["--task", "correspondence", "--family", "faust", "--points"], "--points"),
        (["--task", "correspondence", "--upright"], "--family"),
    ]
    for args, match in bad:
        r = runner.invoke(app, ["data", "synthetic", "--out", str(tmp_path / "x"), "--n", "2", *args])
        assert r.exit_code != 0
        assert match in (r.output + str(r.exception)), (args, r.output)


def test_bulges_and_stretch_are_on_the_surface_and_small(faust_scans):
    for s in faust_scans:
        d = s.deformation
        bump = d.bulge(s.canonical)
        assert np.abs(bump).max() > 0.5 * np.abs(d.bulge_heights).max()  # centred on the surface
        assert np.abs(bump).max() < 0.03
        np.testing.assert_allclose(d.stretch, d.stretch.T, atol=1e-12)
        assert np.all(np.abs(np.linalg.eigvalsh(d.stretch) - 1) <= 0.04 + 1e-12)
