"""Synthetic scans of body families: generation time, vertex-count control, and how hard the
correspondence task is without learning, next to the plain synthetic bodies.

Sections (``--sections``, default all):

* ``generate``: wall time of :func:`meshlearn.datasets.synthetic_scans.generate_scan` (one process,
  one thread) at vertex counts of about 2k, 5k and 15k (median of ``--repeats`` shapes each),
  beside :func:`meshlearn.datasets.generate_shape` (the plain bodies) at 5k; then the counts of
  ``--count-shapes`` shapes drawn in 2000:15000 against their drawn targets.
* ``baseline``: an axiomatic map on test pairs of each dataset: unit-area WKS descriptors
  (``--wks`` energies) on the first ``--k`` eigenpairs of the robust Laplacian, a functional map on
  the first 30 (:func:`meshlearn.correspondence.functional_map`, mu = 0.1) refined by ZoomOut to
  ``--k`` (:func:`meshlearn.correspondence.zoomout`, ``--zoomout-step`` eigenfunctions a step: the
  two calls :func:`meshlearn.correspondence.fmap_correspondence` makes, with a coarser step). Errors at ``--points`` random
  template points: geodesic distance (heat method) on the target from the image of the source's
  vts point to the target's vts point, over sqrt(target area), as in ULRSSM; "> 0.25" is the share
  of points that land on another limb or the other side; "mirror" the share whose error is over
  0.25 while the distance to the target's .sym.vts point is under 0.1 (a left-right swap); "sym
  x100" the mean of the smaller of the two errors (the error up to the symmetry). Datasets: the
  plain bodies (``meshlearn data synthetic``, about 5k vertices, upright), the ``faust`` family
  (test people never seen in training; pairs of one person and pairs of two people reported apart)
  and the ``scape`` family (one person), both with vertex counts in ``--vertices`` and any rotation.

Run: ``python benchmarks/bench_synthetic_scans.py`` (about 12 minutes on one loaded core), or
``--sections generate``, or ``--sections baseline --datasets "faust family" --vertices 4300:5900``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import command_line, load_average, print_table  # noqa: E402


# ------------------------------------------------------------------------------------- generate
def section_generate(args) -> None:
    from meshlearn.datasets import generate_shape, make_template
    from meshlearn.datasets.body_families import FAMILIES
    from meshlearn.datasets.synthetic_scans import make_family_template, generate_scan, scan_dataset_plan

    tpl = make_family_template("faust")
    people, plan = scan_dataset_plan(FAMILIES["faust"], 3 * args.repeats, 11, 3, 0.3)
    rows = []
    for target in (2000, 5000, 15000):
        times, counts = [], []
        for p in plan[: args.repeats]:
            t0 = time.perf_counter()
            s = generate_scan(tpl, people[p.identity], p.seed, vertices=(target, target))
            times.append(time.perf_counter() - t0)
            counts.append(s.shape.n_verts)
        rows.append(["faust scan", target, int(statistics.median(counts)), f"{statistics.median(times):.2f}"])
    plain = make_template(5000)
    times, counts = [], []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        s = generate_shape(plain, i, n_vertices=5000)
        times.append(time.perf_counter() - t0)
        counts.append(s.shape.n_verts)
    rows.append(["plain body", 5000, int(statistics.median(counts)), f"{statistics.median(times):.2f}"])
    print(f"generation, one process, median of {args.repeats}")
    print_table(["generator", "target V", "median V", "median s/shape"], rows)

    people, plan = scan_dataset_plan(FAMILIES["scape"], args.count_shapes, 5, 1, 0.2)
    tpl_s = make_family_template("scape")
    ratios, counts = [], []
    for p in plan:
        s = generate_scan(tpl_s, people[0], p.seed)
        counts.append(s.shape.n_verts)
        ratios.append(s.shape.n_verts / s.target_vertices)
    ratios = np.array(ratios)
    print(f"\nvertex counts of {len(counts)} scape scans drawn in 2000:15000: min {min(counts)}, max {max(counts)}, "
          f"count / target {ratios.min():.3f} .. {ratios.max():.3f}, all in range: "
          f"{all(2000 <= c <= 15000 for c in counts)}")


# ------------------------------------------------------------------------------------- baseline
class _Ops:
    """Torch eigenpairs and mass of one shape (what functional_map and zoomout read)."""

    def __init__(self, shape, k: int):
        import torch

        from meshlearn.geometry import eigenbasis, laplacian

        L, M = laplacian(shape)
        evals, evecs = eigenbasis(L, M, k=k, workers=1)
        mass = np.asarray(M.diagonal())
        self.area = float(mass.sum())
        self.evals = torch.from_numpy(evals)
        self.evecs = torch.from_numpy(evecs)
        self.mass = torch.from_numpy(mass)


def _prepare(shapes, args):
    """Per shape: operators, WKS, geodesic solver. ``shapes``: list of (Shape, vts, sym_vts, person)."""
    import torch

    from meshlearn.geometry import GeodesicSolver, unit_area_wks

    out = []
    for shape, vts, sym, person in shapes:
        ops = _Ops(shape, args.k)
        desc = torch.from_numpy(unit_area_wks(ops.evals.numpy(), ops.evecs.numpy(), ops.mass.numpy(), n=args.wks))
        out.append(dict(shape=shape, vts=vts, sym=sym, person=person, ops=ops, desc=desc,
                        geo=GeodesicSolver(shape)))
    return out


def _pair_errors(src, tgt, points, args):
    from meshlearn.correspondence import functional_map, zoomout

    a, b = tgt, src  # T : b -> a, a vertex of the source to one of the target
    k0 = 30
    ea, eb = a["ops"].evecs[:, :k0], b["ops"].evecs[:, :k0]
    C = functional_map(a["desc"], b["desc"], ea, eb, a["ops"].mass, b["ops"].mass, a["ops"].evals[:k0],
                       b["ops"].evals[:k0], mu=0.1)
    _, T = zoomout(C, a["ops"].evecs, b["ops"].evecs, b["ops"].mass, k_final=args.k, step=args.zoomout_step)
    pred = T.numpy()[b["vts"][points]]
    norm = np.sqrt(a["ops"].area)
    d_true = a["geo"].distances(a["vts"][points])
    d_sym = a["geo"].distances(a["sym"][points])
    idx = np.arange(len(points))
    return d_true[idx, pred] / norm, d_sym[idx, pred] / norm


def _scores(err, flip) -> list[str]:
    return [f"{100 * err.mean():.2f}", f"{(err > 0.25).mean():.3f}", f"{((err > 0.25) & (flip < 0.1)).mean():.3f}",
            f"{100 * np.minimum(err, flip).mean():.2f}"]


def _plain_shapes(n: int, seed: int):
    from scipy.spatial import cKDTree

    from meshlearn.datasets import generate_shapes, make_template

    template = make_template(5000)
    out = []
    for s in generate_shapes(n, seed, template=template, n_vertices=5000):
        mirror = cKDTree(s.rest_verts).query(template.verts * np.array([-1.0, 1.0, 1.0]))[1]
        out.append((s.shape, s.vts, mirror.astype(np.int64), 0))
    return out, template.n_verts


def _family_shapes(name: str, n: int, n_ids: int, seed: int, vertices):
    from meshlearn.datasets.body_families import FAMILIES
    from meshlearn.datasets.synthetic_scans import make_family_template, generate_scan, scan_dataset_plan

    template = make_family_template(name)
    people, plan = scan_dataset_plan(FAMILIES[name], n, seed, n_ids, 0.2)
    out = []
    for p in plan:
        if p.split == "test":
            s = generate_scan(template, people[p.identity], p.seed, vertices=vertices, name=p.name)
            out.append((s.shape, s.vts, s.sym_vts, p.identity))
    return out, template.n_points


def section_baseline(args) -> None:
    import torch

    torch.set_num_threads(1)
    lo, hi = (int(v) for v in args.vertices.split(":"))
    datasets = {
        "plain bodies": lambda: _plain_shapes(args.test_shapes, 0),
        # 10 people, 4 poses each: the last 2 people (8 shapes) are the test split
        "faust family": lambda: _family_shapes("faust", 10 * (args.test_shapes // 2), 10, 0, (lo, hi)),
        # one person: the last 20 % of the poses are the test split
        "scape family": lambda: _family_shapes("scape", 5 * args.test_shapes, 1, 0, (lo, hi)),
    }
    rng = np.random.default_rng(0)
    rows = []
    chosen = [d.strip() for d in args.datasets.split(",")]
    unknown = [d for d in chosen if d not in datasets]
    if unknown:
        raise SystemExit(f"unknown --datasets {unknown}; expected some of {', '.join(datasets)}")
    for name in chosen:
        make = datasets[name]
        t0 = time.perf_counter()
        shapes, T = make()
        prepared = _prepare(shapes, args)
        points = np.sort(rng.choice(T, size=min(args.points, T), replace=False))
        pairs = [(i, j) for i in range(len(prepared)) for j in range(i + 1, len(prepared))]
        if len(pairs) > args.pairs:
            pairs = [pairs[i] for i in np.sort(rng.choice(len(pairs), args.pairs, replace=False))]
        groups: dict[str, list] = {"all": []}
        for i, j in pairs:
            err, flip = _pair_errors(prepared[i], prepared[j], points, args)
            groups["all"].append((err, flip))
            if name == "faust family":
                same = prepared[i]["person"] == prepared[j]["person"]
                groups.setdefault("one person" if same else "two people", []).append((err, flip))
        counts = [p["shape"].n_verts for p in prepared]
        for g, vals in groups.items():
            err = np.concatenate([v[0] for v in vals])
            flip = np.concatenate([v[1] for v in vals])
            rows.append([name, g, len(vals), f"{min(counts)}-{max(counts)}", T, *_scores(err, flip)])
        print(f"{name}: {len(shapes)} test shapes, {len(pairs)} pairs, {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"axiomatic baseline: WKS ({args.wks}) + fmap k=30 + ZoomOut to {args.k} (step {args.zoomout_step}), "
          f"{args.points} points a pair")
    print_table(["dataset", "pairs of", "pairs", "V", "T", "err x100", "> 0.25", "mirror", "sym x100"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", default="generate,baseline")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--count-shapes", type=int, default=20)
    ap.add_argument("--test-shapes", type=int, default=8, help="test shapes per dataset (even)")
    ap.add_argument("--pairs", type=int, default=16, help="at most this many pairs per dataset")
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--k", type=int, default=80)
    ap.add_argument("--wks", type=int, default=64)
    ap.add_argument("--zoomout-step", type=int, default=5)
    ap.add_argument("--vertices", default="2000:15000", help="vertex range of the family scans")
    ap.add_argument("--datasets", default="plain bodies,faust family,scape family")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(command_line())
    print(load_average())
    for s in args.sections.split(","):
        {"generate": section_generate, "baseline": section_baseline}[s](args)
        print()
    print(load_average())


if __name__ == "__main__":
    main()
