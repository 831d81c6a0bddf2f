"""Evaluation of functional-map runs over pairs: exact on isometric copies, memory in blocks,
cross-dataset, pair lists, result keys, and the errors for bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from meshlearn.errors import CheckpointError, ConfigError, DatasetError, InvalidMeshError
from meshlearn.io import save
from meshlearn.testing import bumpy_sphere, icosphere, random_rigid_motion, write_fmap_run
from meshlearn.train.evaluate import evaluate
from meshlearn.train.fmap_matcher import FmapMatcher, load_matching_run

KEYS = ("mean_geodesic_error", "mean_geodesic_error_x100", "pck_0.05", "pck_0.1")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _write_vts(path, vts0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{int(v) + 1}\n" for v in vts0))  # .vts files are 1-based


def isometric_folder(root, shape, n_copies=2, seed=0):
    """A faust_r-layout dataset (train/ = test/): ``shape`` and ``n_copies`` vertex-shuffled,
    rigidly moved copies; template point i is vertex i of the original."""
    for part in ("train", "test"):
        d = root / part
        save(shape, d / "off" / "s0.off")
        _write_vts(d / "corres" / "s0.vts", np.arange(shape.n_verts))
        for c in range(1, n_copies + 1):
            perm = np.random.default_rng(seed + c).permutation(shape.n_verts)  # copy vertex y = original perm[y]
            inv = np.empty_like(perm)
            inv[perm] = np.arange(perm.size)
            moved = random_rigid_motion(shape.with_(verts=shape.verts[perm], faces=inv[shape.faces]), seed=seed + c)
            save(moved, d / "off" / f"s{c}.off")
            _write_vts(d / "corres" / f"s{c}.vts", inv)  # original vertex i is copy vertex inv[i]
    return root


@pytest.fixture(scope="module")
def iso_data(tmp_path_factory):
    return isometric_folder(tmp_path_factory.mktemp("iso") / "data", bumpy_sphere(2, amplitude=0.2, seed=3))


@pytest.fixture(scope="module")
def iso_run(iso_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "iso"
    write_fmap_run(out, iso_data, inputs="wks", fmap_k=12, fmap_dim=24, k=30)
    return out


def test_rigid_copies_have_zero_error(iso_run):
    """Intrinsic inputs on isometric copies: the descriptors agree, the solver's map is the
    eigenvectors' sign changes, and every point lands on its true match, before and after ZoomOut."""
    out = evaluate(iso_run)
    assert out["n_pairs"] == 6 and out["pairs_from"] == "all ordered pairs"
    assert out["n_points"] == 162 and out["refined"] and out["k_refine"] == 30 and out["fmap_k"] == 12
    assert out["mean_geodesic_error"] == 0.0 and out["mean_geodesic_error_x100"] == 0.0
    assert out["pck_0.05"] == 1.0 and out["pck_0.1"] == 1.0
    # before ZoomOut: the solver's C on 12 eigenpairs carries its regulariser's small bias, and
    # neighbouring vertices lie close in a 12-dimensional embedding, so a few points land next door
    assert 0.0 <= out["mean_geodesic_error_initial"] < 0.01 and out["pck_0.05_initial"] > 0.99
    saved = json.loads((iso_run / "eval_test.json").read_text())
    assert {k: saved[k] for k in KEYS} == {k: out[k] for k in KEYS}
    rows = (iso_run / "pairs_test.csv").read_text().splitlines()
    assert rows[0] == "shape_a,shape_b,mean_error_initial,mean_error" and len(rows) == 7
    assert (iso_run / "pck_test.png").stat().st_size > 1000


def test_errors_are_geodesic_distances_over_sqrt_area(iso_data, tmp_path):
    """Scores are exactly the geodesic errors: the (exact, refined) map of an isometric pair against
    a ground truth of the copy shifted by one place along its list."""
    from meshlearn.geometry.geodesics import GeodesicSolver
    from meshlearn.io import load

    data = tmp_path / "data"
    shutil.copytree(iso_data, data)
    vts1 = np.loadtxt(data / "test" / "corres" / "s1.vts", dtype=np.int64) - 1
    wrong = np.roll(vts1, 1)  # claims that original vertex i matches copy vertex vts1[i - 1]
    _write_vts(data / "test" / "corres" / "s1.vts", wrong)
    (data / "test" / "test_pairs.txt").write_text("s0 s1\n")
    run = tmp_path / "run"
    write_fmap_run(run, data, inputs="wks", fmap_k=12, fmap_dim=24, k=30)
    out = evaluate(run)
    assert out["n_pairs"] == 1 and out["refined"]
    b = load(data / "test" / "off" / "s1.off", clean=False, normalize="radius")
    from meshlearn.geometry.operators import OperatorSpec, compute_operators

    area = compute_operators(b, OperatorSpec(k=4)).mass.sum()
    D = GeodesicSolver(b).distances(wrong)  # the prediction is the true vts1[i]
    expected = D[np.arange(len(wrong)), vts1] / np.sqrt(area)
    assert out["mean_geodesic_error"] == pytest.approx(expected.mean(), rel=1e-6)
    assert out["pck_0.05"] == pytest.approx((expected <= 0.05).mean())


def test_pair_list_is_honoured_and_checked(iso_data, iso_run, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(iso_data, data)
    (data / "test_pairs.txt").write_text("# benchmark pairs\ns0 s2\n\ns2 s1  # one direction\n")
    out = evaluate(iso_run, data)
    assert out["n_pairs"] == 2 and out["pairs_from"].endswith("test_pairs.txt")
    names = [r.split(",")[:2] for r in (iso_run / "pairs_test.csv").read_text().splitlines()[1:]]
    assert names == [["s0", "s2"], ["s2", "s1"]]
    (data / "test_pairs.txt").write_text("s0 s2\ns0 nobody\n")
    with pytest.raises(DatasetError, match=r"test_pairs.txt, line 2: no shape 'nobody'"):
        evaluate(iso_run, data)
    (data / "test_pairs.txt").write_text("s0\n")
    with pytest.raises(DatasetError, match=r"line 1: expected two shape names"):
        evaluate(iso_run, data)


def test_cross_dataset(iso_run, tmp_path):
    """A run scores a dataset it was not trained on: a labelled-layout folder of other shapes,
    its operators computed with the run's spec into the run's cache."""
    other = isometric_folder(tmp_path / "other", bumpy_sphere(2, amplitude=0.15, seed=11), n_copies=1, seed=5)
    for part in ("train", "test"):  # the labelled layout this time: meshes/ + corres/
        (other / part / "off").rename(other / part / "meshes")
    before = set((iso_run / "cache").rglob("*.npz"))
    out = evaluate(iso_run, other)
    assert out["data"] == str(other) and out["n_pairs"] == 2
    assert out["mean_geodesic_error"] == 0.0  # intrinsic inputs, isometric copies: exact again
    assert len(set((iso_run / "cache").rglob("*.npz")) - before) == 2


def test_vts_of_different_lengths(iso_data, iso_run, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(iso_data, data)
    vts = np.loadtxt(data / "test" / "corres" / "s2.vts", dtype=np.int64) - 1
    _write_vts(data / "test" / "corres" / "s2.vts", vts[:-3])
    with pytest.raises(DatasetError, match=r"s\d.vts has 162 points but .*s2.vts has 159"):
        evaluate(iso_run, data)
    _write_vts(data / "test" / "corres" / "s2.vts", np.append(vts, 9999))
    with pytest.raises(DatasetError, match=r"s2.vts: vertex 10000 out of range"):
        evaluate(iso_run, data)
    (data / "test" / "corres" / "s2.vts").unlink()
    with pytest.raises(DatasetError, match=r"s2.off: no correspondence file"):
        evaluate(iso_run, data)


def test_too_few_eigenpairs_and_bad_refinement(iso_run, tmp_path):
    config, meta, model = load_matching_run(iso_run)
    small = icosphere(0)  # 12 vertices: as many eigenpairs as the maps use, fewer than the refinement
    matcher = FmapMatcher(config, meta, model)
    ops = matcher.operators(small)
    with pytest.raises(InvalidMeshError, match=r"has 12 eigenpairs \(12 vertices\) but the refinement needs 30; "
                                               r"pass --refine-k 12"):
        matcher.prepare(small, ops, "small.ply")
    tiny = small.with_(verts=small.verts[:8], faces=small.faces[np.all(small.faces < 8, axis=1)])
    with pytest.raises(InvalidMeshError, match=r"tiny.ply: has \d eigenpairs \(8 vertices\) but the run's functional "
                                               r"maps use 12; match shapes with more vertices"):
        FmapMatcher(config, meta, model, refine=False).prepare(tiny, matcher.operators(tiny), "tiny.ply")
    with pytest.raises(ConfigError, match=r"refinement to 40 eigenpairs, but the run computes 30 .* --refine-k 30"):
        FmapMatcher(config, meta, model, k_refine=40)
    with pytest.raises(ConfigError, match=r"refinement to 10 eigenpairs is no refinement"):
        FmapMatcher(config, meta, model, k_refine=10)


def test_refinement_never_holds_a_va_by_vb_block(iso_run):
    """ZoomOut and the conversions work in blocks of ``chunk`` rows: with a small chunk, no single
    allocation reaches a quarter of the (Va, Vb) float32 matrix."""
    from torch.profiler import ProfilerActivity, profile

    config, meta, model = load_matching_run(iso_run)
    model.chunk = 64
    shape = bumpy_sphere(3, amplitude=0.1, seed=2)  # 642 vertices
    other = random_rigid_motion(shape, seed=1)
    for points in (0, 200):
        matcher = FmapMatcher(config, meta, model, refine_points=points, refine_step=3)
        a = matcher.prepare(shape, matcher.operators(shape))
        b = matcher.prepare(other, matcher.operators(other))
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            m = matcher.map(a, b)
        assert m.refined.shape == (shape.n_verts,) and m.refined.min() >= 0 and m.refined.max() < other.n_verts
        largest = max(e.cpu_memory_usage for e in prof.events())
        full = shape.n_verts * other.n_verts * 4
        assert 0 < largest < full / 4, (points, largest, full)


def test_adaptation_steps_run(iso_run):
    """Adapting a copy of the network to the pair keeps its inputs intrinsic: still exact."""
    out = evaluate(iso_run, adapt_steps=2, max_pairs=1)
    assert out["adapt_steps"] == 2 and out["n_pairs"] == 1
    assert out["mean_geodesic_error"] == 0.0


def test_a_missing_run(tmp_path):
    with pytest.raises(CheckpointError, match=r"nowhere: no such run folder"):
        evaluate(tmp_path / "nowhere")


def test_symmetric_flip_report_from_detected_reflections(tmp_path):
    """Without .sym.vts files the mirrored truth comes from the reflection detected on each target;
    on an exactly symmetric shape that is the true reflection, so the report equals the one the
    files give."""
    from meshlearn.testing import mirror_symmetric_sphere

    shape, T = mirror_symmetric_sphere(2, seed=1)
    data = isometric_folder(tmp_path / "data", shape, n_copies=2)
    run = tmp_path / "run"
    write_fmap_run(run, data, inputs="wks", fmap_k=12, fmap_dim=24, k=30)
    detected = evaluate(run)["symmetric_flip"]
    assert detected["mirror_source"] == "detected reflections"
    for part in ("train", "test"):  # the files: template point i's mirror is the copy's vertex of T[i]
        for vts in sorted((data / part / "corres").glob("s?.vts")):
            copy_of = np.loadtxt(vts, dtype=np.int64) - 1  # original vertex i -> copy vertex
            _write_vts(vts.with_suffix(".sym.vts"), copy_of[T])
    shutil.rmtree(run)
    write_fmap_run(run, data, inputs="wks", fmap_k=12, fmap_dim=24, k=30)
    files = evaluate(run)["symmetric_flip"]
    assert files["mirror_source"] == "files"
    for key in ("mean_geodesic_error", "pck_0.05", "symmetry_confusions"):
        assert detected[key] == pytest.approx(files[key], abs=1e-12)


def test_fix_flips_never_makes_symmetric_pairs_worse(tmp_path):
    """On copies of an exactly symmetric shape a map and its mirror image fit the descriptors
    equally; the orientation check (on by default, --no-fix-flips turns it off) keeps whichever
    keeps the orientation, and the error can only fall."""
    from meshlearn.testing import mirror_symmetric_sphere

    shape, _ = mirror_symmetric_sphere(2, seed=1)
    data = isometric_folder(tmp_path / "data", shape, n_copies=2)
    run = tmp_path / "run"
    write_fmap_run(run, data, inputs="wks", fmap_k=12, fmap_dim=24, k=30)
    plain = evaluate(run, fix_flips=False)
    fixed = evaluate(run)  # on by default
    assert "flips_fixed" not in plain and 0 <= fixed["flips_fixed"] <= fixed["n_pairs"]
    assert fixed["mean_geodesic_error"] <= plain["mean_geodesic_error"] + 1e-12
    assert fixed["mean_geodesic_error"] < 0.01  # every pair ends on the orientation-preserving side
