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

Each row names the body part whose scored points are worst (from the generator's labels, or the
folder's ``parts.txt`` and ``template_labels.txt``). ``--k`` sets ``detect_reflections``' basis
size (default: its own).

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

from meshlearn.datasets.body import PART_NAMES
from meshlearn.datasets.synthetic import generate_shapes, make_template
from meshlearn.geometry.geodesics import GeodesicSolver
from meshlearn.geometry.symmetry import detect_reflections


def sample_points(n_src: int, n_points: int = 200, seed: int = 0) -> np.ndarray:
    """The positions (into the vertices, or into ``at``) that :func:`mirror_errors` scores."""
    return np.random.default_rng(seed).choice(n_src, size=min(n_points, n_src), replace=False)


def mirror_errors(shape, vertex_map: np.ndarray, truth: np.ndarray, n_points: int = 200, seed: int = 0,
                  at: np.ndarray | None = None) -> np.ndarray:
    """Geodesic distance from ``vertex_map[i]`` to ``truth[i]`` over sqrt(area), for sampled i
    (vertices ``at[j]`` with truth ``truth[j]`` when ``at`` is given, e.g. template points)."""
    src = np.arange(shape.n_verts) if at is None else np.asarray(at)
    pick = sample_points(src.size, n_points, seed)
    D = GeodesicSolver(shape).distances(truth[pick])
    return D[np.arange(len(pick)), vertex_map[src[pick]]] / np.sqrt(shape.face_areas().sum())


def template_parts(root: Path):
    """(part names, (T,) part of each template vertex) of a dataset folder, or None without its
    ``parts.txt`` and ``template_labels.txt``."""
    names, labels = root / "parts.txt", root / "template_labels.txt"
    if not (names.is_file() and labels.is_file()):
        return None
    return names.read_text().split(), np.loadtxt(labels, dtype=np.int64)


def worst_part(errors: np.ndarray, labels: np.ndarray, names: list[str]) -> str:
    """The part whose sampled points have the largest mean error: ``name mean/share within 0.05``."""
    parts = np.unique(labels)
    means = [errors[labels == p].mean() for p in parts]
    p = parts[int(np.argmax(means))]
    e = errors[labels == p]
    return f"{names[p]} {e.mean():.3f}/{(e <= 0.05).mean():.2f}"


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
    ap.add_argument("--k", type=int, default=None, help="eigenpairs of detect_reflections (default: its own)")
    ap.add_argument("--asymmetric", type=Path, default=None, help="folder of asymmetric meshes to check")
    ap.add_argument("--data", type=Path, default=None,
                    help="dataset folder with corres/<name>.sym.vts to score instead of generated bodies")
    args = ap.parse_args()

    # (name, shape, true mirror, scored vertices or None for all, part of each scored vertex or None)
    if args.data:
        parts = template_parts(args.data)
        part_names = parts[0] if parts else None
        items = ((name, shape, sym, vts, parts[1] if parts else None)
                 for name, shape, vts, sym in dataset_items(args.data))
    else:
        part_names = list(PART_NAMES)
        template = make_template(args.vertices)
        items = ((it.shape.name, it.shape, it.mirror, None, it.labels) for it in
                 generate_shapes(args.n, args.seed, template=template, n_vertices=args.vertices, noise=args.noise))
    rows = []
    print("| body | V | found | mean error | within 0.05 | descriptor err | orientation | commutativity | "
          "left in place | seconds | worst part (mean / within 0.05) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, shape, truth, at, labels in items:
        t = time.perf_counter()
        res = detect_reflections(shape, **({} if args.k is None else {"k": args.k}))
        dt = time.perf_counter() - t
        m = res[0] if res else res.best_candidate
        e = mirror_errors(shape, m.vertex_map, truth, at=at)
        rows.append((bool(res), e.mean(), (e <= 0.05).mean(), dt))
        n_src = shape.n_verts if at is None else len(at)
        part = worst_part(e, labels[sample_points(n_src)], part_names) if labels is not None else ""
        print(f"| {name} | {shape.n_verts} | {'yes' if res else 'no'} | {e.mean():.4f} | {(e <= 0.05).mean():.3f} | "
              f"{m.descriptor_error:.3f} | {m.orientation:.3f} | {m.commutativity:.3f} | {m.fixed_share:.3f} | "
              f"{dt:.1f} | {part} |", flush=True)
    r = np.array(rows, dtype=float)
    print(f"\nfound on {int(r[:, 0].sum())}/{len(r)}; at or above 0.9 within 0.05 on {int((r[:, 2] >= 0.9).sum())}; mean error {r[:, 1].mean():.4f} (worst {r[:, 1].max():.4f}); "
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
