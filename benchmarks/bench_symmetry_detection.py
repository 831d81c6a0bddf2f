"""Left-right symmetry detection on synthetic bodies made as hard as real scans.

Each body is remeshed on its own grid, posed asymmetrically (left and right limbs posed and
proportioned independently), noised along the normals and moved; its ground-truth mirror map
(``SyntheticShape.mirror``) comes from the exactly symmetric rest pose. ``detect_reflections`` runs
with its defaults on the posed mesh; the error of a vertex is the geodesic distance from its image
to its true mirror vertex over sqrt(area), on a random sample of vertices.

With ``--data DIR`` it runs instead on the shapes of a correspondence dataset folder that has
mirror ground truth (``corres/<name>.sym.vts`` beside ``<name>.vts``, as FAUST_r and the synthetic
scans of ``meshlearn data synthetic --task correspondence`` have): the true mirror of vertex
``vts[i]`` is ``sym_vts[i]``, so the error is measured at the template points only (a random
sample of them).

Optionally also runs on asymmetric real meshes (``--asymmetric DIR``), which must report "no
symmetry found".

    python benchmarks/bench_symmetry_detection.py --n 12 --seed 100 --noise 0.2
    python benchmarks/bench_symmetry_detection.py --data DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from meshlearn.datasets.synthetic import generate_shapes, make_template
from meshlearn.geometry.geodesics import GeodesicSolver
from meshlearn.geometry.symmetry import detect_reflections


def mirror_errors(shape, vertex_map: np.ndarray, truth: np.ndarray, n_points: int = 200, seed: int = 0,
                  at: np.ndarray | None = None) -> np.ndarray:
    """Geodesic distance from ``vertex_map[i]`` to ``truth[i]`` over sqrt(area), for sampled i
    (vertices ``at[j]`` with truth ``truth[j]`` when ``at`` is given, e.g. template points)."""
    rng = np.random.default_rng(seed)
    src = np.arange(shape.n_verts) if at is None else np.asarray(at)
    pick = rng.choice(src.size, size=min(n_points, src.size), replace=False)
    D = GeodesicSolver(shape).distances(truth[pick])
    return D[np.arange(len(pick)), vertex_map[src[pick]]] / np.sqrt(shape.face_areas().sum())


def dataset_items(root: Path):
    """(name, shape, vts, sym_vts) for every shape of a dataset folder with mirror ground truth."""
    from meshlearn.datasets.readers import load_sample, read_dataset

    for split in read_dataset(root).values():
        for rec in split.records:
            if rec.sym_vts is None:
                continue
            s = load_sample(rec)
            yield rec.name, s.shape, s.vts, s.sym_vts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--noise", type=float, default=0.2, help="normal noise in mean edge lengths")
    ap.add_argument("--vertices", type=int, default=5000)
    ap.add_argument("--asymmetric", type=Path, default=None, help="folder of asymmetric meshes to check")
    ap.add_argument("--data", type=Path, default=None,
                    help="dataset folder with corres/<name>.sym.vts to score instead of generated bodies")
    args = ap.parse_args()

    if args.data:
        items = ((name, shape, sym, vts) for name, shape, vts, sym in dataset_items(args.data))
    else:
        template = make_template(args.vertices)
        items = ((it.shape.name, it.shape, it.mirror, None) for it in
                 generate_shapes(args.n, args.seed, template=template, n_vertices=args.vertices, noise=args.noise))
    rows = []
    print("| body | V | found | mean error | within 0.05 | descriptor err | orientation | commutativity | "
          "left in place | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, shape, truth, at in items:
        t = time.perf_counter()
        res = detect_reflections(shape)
        dt = time.perf_counter() - t
        m = res[0] if res else res.best_candidate
        e = mirror_errors(shape, m.vertex_map, truth, at=at)
        rows.append((bool(res), e.mean(), (e <= 0.05).mean(), dt))
        print(f"| {name} | {shape.n_verts} | {'yes' if res else 'no'} | {e.mean():.4f} | {(e <= 0.05).mean():.3f} | "
              f"{m.descriptor_error:.3f} | {m.orientation:.3f} | {m.commutativity:.3f} | {m.fixed_share:.3f} | "
              f"{dt:.1f} |", flush=True)
    r = np.array(rows, dtype=float)
    print(f"\nfound on {int(r[:, 0].sum())}/{len(r)}; mean error {r[:, 1].mean():.4f} (worst {r[:, 1].max():.4f}); "
          f"within 0.05 {r[:, 2].mean():.3f} (worst {r[:, 2].min():.3f}); median {np.median(r[:, 3]):.1f} s per body")
    if args.asymmetric:
        from meshlearn.io import load

        for path in sorted(args.asymmetric.iterdir()):
            try:
                shape = load(path, clean=True)
            except Exception as e:  # noqa: BLE001 - a benchmark reports and goes on
                print(f"{path.name}: not loaded ({e})")
                continue
            res = detect_reflections(shape)
            print(f"{path.name}: {res.message}")


if __name__ == "__main__":
    main()
