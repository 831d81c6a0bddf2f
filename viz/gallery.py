"""Redraw the README's pictures from meshlearn's public API into viz/images/.

    python viz/gallery.py                      # the geometry pictures, plus the demo's if data/demo exists
    python viz/gallery.py --demo data/demo     # where `meshlearn demo --out data/demo` wrote its run
    python viz/gallery.py --mesh my_scan.ply   # draw the geometry pictures on another mesh

Pictures: the first Laplacian eigenfunctions, the heat kernel signature, geodesic distance with
its isolines, tangent frames, and, from the demo run, a segmentation (ground truth beside the
prediction) and a correspondence (colour transfer from the template; the demo's ground-truth map
when the demo trained segmentation only). Everything renders off screen; no display is needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MESH_CANDIDATES = ("spot.ply", "bunny_small.ply")
MESH_SUFFIXES = (".ply", ".obj", ".off", ".stl")


def find_mesh(explicit: Path | None):
    """The mesh to draw on: the one given, spot or the bunny from ../shared/meshes, else a bumpy sphere."""
    import meshlearn
    from meshlearn.testing import bumpy_sphere

    if explicit is not None:
        return meshlearn.load(explicit), "front"
    for name in MESH_CANDIDATES:
        path = ROOT.parent / "shared" / "meshes" / "clean" / name
        if path.is_file():
            return meshlearn.load(path), ("side" if name.startswith("spot") else "front")
    print("shared meshes not found: drawing on a bumpy sphere")
    return bumpy_sphere(4, amplitude=0.15), "front"


def geometry_pictures(shape, view: str, out: Path, size: tuple[int, int]) -> list[Path]:
    from meshlearn import geometry, viz

    written = []
    evecs = viz.compute_feature(shape, "eig", k=8)
    evecs = evecs * np.sign(evecs[np.abs(evecs).argmax(0), np.arange(evecs.shape[1])])  # fix the arbitrary signs
    written.append(viz.plot_shapes(
        [shape] * 3, scalars=[evecs[:, i] for i in (1, 2, 3)], cmap="RdBu_r",
        titles=[f"eigenfunction {i}" for i in (1, 2, 3)], colorbar=False, view=view,
        size=(size[0], int(size[0] * 0.4)), screenshot=out / "eigenfunctions.png",
    ))
    hks = viz.compute_feature(shape, "hks", k=64)
    written.append(viz.plot_scalars(shape, hks[:, 4], title="HKS, t index 4", cmap="inferno", view=view, size=size,
                                    screenshot=out / "hks.png"))
    source = int(np.argmax(shape.verts[:, 1]))  # the highest vertex (an ear or a horn tip)
    d = viz.compute_feature(shape, f"geodesic:{source}")[:, 0]
    written.append(viz.plot_isolines(shape, d, n_lines=18, title="distance", source=source, view=view,
                                     size=size, screenshot=out / "geodesic.png"))
    written.append(viz.plot_frames(shape, geometry.tangent_frames(shape), max_arrows=120, view=view, size=size,
                                   screenshot=out / "frames.png"))
    return written


def _shape_of(pred_file: Path, demo: Path):
    """The shape a prediction file belongs to: stored in the file, or a mesh of the same name in the demo folder."""
    import meshlearn

    with np.load(pred_file, allow_pickle=False) as z:
        if "verts" in z.files:
            return meshlearn.Shape(z["verts"], z["faces"] if "faces" in z.files else None, name=pred_file.stem)
    for path in sorted(demo.rglob(f"{pred_file.stem}.*")):
        if path.suffix.lower() in MESH_SUFFIXES and "predictions" not in path.parts:
            return meshlearn.load(path)
    return None


def demo_pictures(demo: Path, out: Path, size: tuple[int, int]) -> list[Path]:
    from meshlearn import viz

    files = sorted(demo.rglob("predictions/*.npz"))
    if not files:
        print(f"skipping segmentation.png and correspondence.png: no predictions under {demo} "
              "(run `meshlearn demo --out data/demo` first)")
        return []
    written: list[Path] = []
    done: set[str] = set()
    for f in files:
        with np.load(f, allow_pickle=False) as z:
            kind = "labels" if "pred" in z.files else ("match" if "match" in z.files else None)
        if kind is None or kind in done:
            continue
        shape = _shape_of(f, demo)
        if shape is None:
            print(f"skipping {f}: cannot find the shape {f.stem!r} it belongs to (no 'verts' key, no mesh file)")
            continue
        pred = viz.read_predictions(f.parent.parent, f.stem)
        if kind == "labels":
            if pred.gt is not None:
                written.append(viz.plot_shapes([shape, shape], labels=[pred.gt, pred.values], names=pred.names,
                                               titles=["ground truth", "prediction"],
                                               size=(size[0], int(size[0] * 0.5)), screenshot=out / "segmentation.png"))
            else:
                written.append(viz.plot_labels(shape, pred.values, names=pred.names, size=size,
                                               screenshot=out / "segmentation.png"))
        else:
            written.append(viz.plot_correspondence(pred.template, shape, pred.values, titles=("template", shape.name),
                                                   size=(size[0], int(size[0] * 0.5)),
                                                   screenshot=out / "correspondence.png"))
        done.add(kind)
    if "match" not in done:
        corr = dataset_correspondence(demo, out, size)
        if corr is not None:
            written.append(corr)
            done.add("match")
    for kind, name in (("labels", "segmentation.png"), ("match", "correspondence.png")):
        if kind not in done:
            print(f"skipping {name}: no usable {'segmentation' if kind == 'labels' else 'correspondence'} prediction under {demo}")
    return written


def dataset_correspondence(demo: Path, out: Path, size: tuple[int, int]):
    """The ground-truth correspondence of the demo data's first test shape to its template (for a
    demo that trained segmentation only), or None when the demo data has no template."""
    from meshlearn import load, viz
    from meshlearn.datasets import load_sample, normalize_shape, read_dataset
    from meshlearn.errors import MeshlearnError

    for template_file in sorted(demo.rglob("template.ply")):
        try:
            split = read_dataset(template_file.parent)["test"]
            sample = load_sample(split.records[0])
        except (MeshlearnError, KeyError, IndexError, OSError):
            continue
        if sample.template_vertex is None:
            continue
        template = normalize_shape(load(template_file))
        shape = normalize_shape(sample.shape)
        return viz.plot_correspondence(template, shape, sample.template_vertex,
                                       titles=("template", f"{shape.name}: true map"),
                                       size=(size[0], int(size[0] * 0.5)), screenshot=out / "correspondence.png")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=ROOT / "data" / "demo", help="the demo's output folder")
    parser.add_argument("--out", type=Path, default=ROOT / "viz" / "images", help="where the PNGs go")
    parser.add_argument("--mesh", type=Path, default=None, help="draw the geometry pictures on this mesh")
    parser.add_argument("--size", type=int, nargs=2, default=(800, 600), metavar=("W", "H"))
    args = parser.parse_args(argv)

    import pyvista as pv

    pv.OFF_SCREEN = True
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    shape, view = find_mesh(args.mesh)
    written = geometry_pictures(shape, view, args.out, tuple(args.size))
    if args.demo.is_dir():
        written += demo_pictures(args.demo, args.out, tuple(args.size))
    else:
        print(f"skipping segmentation.png and correspondence.png: {args.demo} does not exist "
              "(run `meshlearn demo --out data/demo` first)")
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} pictures in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
