"""Dataset folders: layout detection and readers for the public layouts.

A dataset folder holds ``train/`` and ``test/`` subfolders in one of the layouts below, or is one
folder in one layout split by a split file (JSON ``{"train": [names], "test": [names]}``), or is
the human-segmentation benchmark of Maron et al. 2017 (which has its own split), or is the FAUST_r
or SCAPE_r folder, split by the papers' protocol (:mod:`.standard_splits`).

==================  ====================================================================================
layout              files in a split folder
==================  ====================================================================================
``labelled``        ``meshes/<name>.{off,ply,obj}`` and ``labels/<name>.txt`` (one 0-based integer per
                    vertex or per face, told apart by the count); optionally ``corres/<name>.vts`` and
                    ``corres/<name>.bary.txt`` (what ``meshlearn data synthetic`` writes)
``faust_r``         ``off/<name>.off`` and ``corres/<name>.vts`` (FAUST_r, SCAPE_r): line i holds the
                    1-based vertex of this shape matching template point i; optionally
                    ``corres/<name>.sym.vts``, the same for the mirror image of template point i
``coseg``           ``shapes/<name>.off`` and ``gt/<name>.seg`` (COSEG; 1-based per-face labels)
``faust_reg``       ``tr_reg_NNN.ply`` (FAUST registrations: vertex i of every shape matches vertex i
                    of every other)
``classes``         ``<class>/<name>.{obj,off,ply}`` (SHREC'11 style: one class label per shape)
``human_seg``       at the dataset root: ``meshes/{train,test}/<collection>/.../<name>.{off,ply}`` and
                    ``segs/{train,test}/<collection>/*.txt`` (1-based per-face labels; some collections
                    share one label file: ``<collection>_corrected.txt``, ``mit_<pose>_corrected.txt``,
                    ``shrec_<n>_full.txt``)
==================  ====================================================================================

A template (``template.ply`` with optional ``template_labels.txt``) and part names (``parts.txt``)
at the dataset root are picked up when present.

Letters: V vertices, F faces, T template points.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..io.normalize import DEFAULT_NORMALIZE
from ..labels import vertex_labels_from_faces
from ..shape import Shape

log = logging.getLogger(__name__)

__all__ = [
    "LAYOUTS",
    "Record",
    "Split",
    "Sample",
    "detect_layout",
    "read_split",
    "read_dataset",
    "load_sample",
    "load_shape",
    "read_int_file",
    "DEFAULT_NORMALIZE",
]

MESH_EXTS = (".off", ".ply", ".obj")

LAYOUTS = ("labelled", "faust_r", "coseg", "faust_reg", "classes", "human_seg")

_EXPECTED = (
    "expected train/ and test/ folders (or one folder and a split file) in one of these layouts: "
    "meshes/<name>.{off,ply,obj} + labels/<name>.txt; off/<name>.off + corres/<name>.vts (FAUST_r, SCAPE_r); "
    "shapes/<name>.off + gt/<name>.seg (COSEG); tr_reg_NNN.ply (FAUST registrations); "
    "<class>/<name>.obj (SHREC'11 classes); or meshes/{train,test}/ + segs/{train,test}/ "
    "(human segmentation benchmark of Maron et al. 2017)"
)


@dataclass(frozen=True)
class Record:
    """Where one shape and its ground truth live (nothing is read until :func:`load_sample`).

    label_offset : int
        Subtracted from the stored labels (1 for formats that count from 1).
    identity : bool
        Vertex i corresponds to template vertex i (FAUST registrations).
    """

    name: str
    mesh: Path
    labels: Path | None = None
    label_offset: int = 0
    vts: Path | None = None
    bary: Path | None = None
    identity: bool = False
    class_label: int | None = None
    sym_vts: Path | None = None


@dataclass
class Split:
    """The records of one split and what they share."""

    layout: str
    root: Path
    records: list[Record]
    classes: tuple[str, ...] = ()
    template: Path | None = None
    template_labels: Path | None = None
    part_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.records)

    def subset(self, names: list[str], split_name: str) -> "Split":
        """The records named in ``names``, in that order; unknown names raise a DatasetError."""
        by_name = {r.name: r for r in self.records}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DatasetError(
                f"{self.root}: the split file's {split_name} list names shapes not in the folder: "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            )
        return Split(self.layout, self.root, [by_name[n] for n in names], self.classes, self.template,
                     self.template_labels, self.part_names)


@dataclass
class Sample:
    """One loaded shape and its ground truth (fields the layout does not give are None).

    shape : Shape
    labels : (V,) int64 per-vertex labels (from per-face labels by an area-weighted vote,
        :func:`meshlearn.labels.vertex_labels_from_faces`; -1 on a vertex no face touches)
    face_labels : (F,) int64 when the file gave per-face labels
    template_vertex : (V,) int64 template point of each vertex, -1 where unknown
    vts : (T,) int64 0-based vertex of this shape matching each template point
    sym_vts : (T,) int64 0-based vertex matching the mirror image of each template point (from a
        ``<name>.sym.vts`` file beside ``<name>.vts``, as FAUST_r ships), to tell symmetry confusions
        from other errors
    class_label : int
    """

    shape: Shape
    labels: np.ndarray | None = None
    face_labels: np.ndarray | None = None
    template_vertex: np.ndarray | None = None
    vts: np.ndarray | None = None
    class_label: int | None = None
    meta: dict = field(default_factory=dict)
    sym_vts: np.ndarray | None = None


# ------------------------------------------------------------------------------------ files
def read_int_file(path: Path) -> np.ndarray:
    """The integers of a whitespace-separated text file, as a flat int64 array."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e})") from e
    try:
        return np.array(text.split(), dtype=np.float64).astype(np.int64)
    except ValueError as e:
        raise DatasetError(f"{path}: expected integers only ({e})") from e


def _meshes_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MESH_EXTS)


def load_shape(path: str | os.PathLike, normalize: str | None = None) -> Shape:
    """The shape in ``path`` as :func:`meshlearn.load` reads it, never cleaned (labels and
    correspondences refer to the file's vertex order), normalised by ``normalize``."""
    from ..io import load

    return load(Path(path), clean=False, normalize=normalize)


# ------------------------------------------------------------------------------------ layouts
def detect_layout(folder: str | os.PathLike) -> str:
    """The layout of one split folder (see the module docstring); DatasetError if none fits."""
    d = Path(folder)
    if not d.is_dir():
        raise DatasetError(f"{d}: no such folder; {_EXPECTED}")
    if (d / "meshes").is_dir() and ((d / "labels").is_dir() or (d / "corres").is_dir()):
        return "labelled"
    if (d / "off").is_dir() and (d / "corres").is_dir():
        return "faust_r"
    if (d / "shapes").is_dir() and (d / "gt").is_dir():
        return "coseg"
    if any(d.glob("tr_reg_*.ply")):
        return "faust_reg"
    subs = [p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if subs and all(_meshes_in(s) for s in subs) and not _meshes_in(d):
        return "classes"
    raise DatasetError(f"{d}: matches no known dataset layout; {_EXPECTED}")


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


def read_split(folder: str | os.PathLike, *, layout: str | None = None) -> Split:
    """The records of one split folder in ``layout`` (detected when None)."""
    d = Path(folder)
    layout = layout or detect_layout(d)
    recs: list[Record] = []
    classes: tuple[str, ...] = ()
    if layout == "labelled":
        for m in _meshes_in(d / "meshes"):
            lab = d / "labels" / f"{m.stem}.txt"
            vts = d / "corres" / f"{m.stem}.vts"
            bary = d / "corres" / f"{m.stem}.bary.txt"
            recs.append(Record(m.stem, m, lab if lab.exists() else None, 0,
                               vts if vts.exists() else None, bary if bary.exists() else None,
                               sym_vts=_existing(d / "corres" / f"{m.stem}.sym.vts")))
    elif layout == "faust_r":
        for m in _meshes_in(d / "off"):
            vts = d / "corres" / f"{m.stem}.vts"
            if not vts.exists():
                raise DatasetError(f"{m}: no correspondence file {vts}; FAUST_r / SCAPE_r shapes each need one")
            recs.append(Record(m.stem, m, vts=vts, sym_vts=_existing(d / "corres" / f"{m.stem}.sym.vts")))
    elif layout == "coseg":
        for m in _meshes_in(d / "shapes"):
            seg = d / "gt" / f"{m.stem}.seg"
            if not seg.exists():
                raise DatasetError(f"{m}: no label file {seg}")
            recs.append(Record(m.stem, m, seg, 1))
    elif layout == "faust_reg":
        recs = [Record(p.stem, p, identity=True) for p in sorted(d.glob("tr_reg_*.ply"))]
    elif layout == "classes":
        classes = tuple(sorted(p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")))
        for ci, c in enumerate(classes):
            recs += [Record(f"{c}/{m.stem}", m, class_label=ci) for m in _meshes_in(d / c)]
    else:
        raise DatasetError(f"{d}: unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if not recs:
        raise DatasetError(f"{d}: a {layout} folder with no shapes in it; {_EXPECTED}")
    return Split(layout, d, recs, classes)


def _human_seg_split(root: Path, split: str) -> Split:
    mesh_root, seg_root = root / "meshes" / split, root / "segs" / split
    recs = []
    for m in sorted(p for p in mesh_root.rglob("*") if p.is_file() and p.suffix.lower() in MESH_EXTS):
        collection = m.relative_to(mesh_root).parts[0]
        segs = seg_root / collection.lower()
        if collection.lower().startswith("mit"):
            segs = seg_root / "mit"
        number = re.match(r"\d+", m.stem)
        pose = re.search(r"meshes_([^/\\]+)", str(m.relative_to(mesh_root)))
        candidates = [segs / f"{m.stem}.txt", segs / f"{collection.lower()}_corrected.txt"]
        if number:
            candidates.append(segs / f"shrec_{int(number.group())}_full.txt")
        if pose:
            candidates.append(segs / f"mit_{pose.group(1)}_corrected.txt")
        label = next((c for c in candidates if c.exists()), None)
        if label is None:
            raise DatasetError(f"{m}: no label file; looked for {', '.join(str(c) for c in candidates)}")
        name = "/".join(m.relative_to(mesh_root).with_suffix("").parts)
        recs.append(Record(name, m, label, 1))
    if not recs:
        raise DatasetError(f"{mesh_root}: no meshes; {_EXPECTED}")
    return Split("human_seg", root, recs)


def _with_root_files(split: Split, root: Path) -> Split:
    if (root / "template.ply").exists():
        split.template = root / "template.ply"
    if (root / "template_labels.txt").exists():
        split.template_labels = root / "template_labels.txt"
    if (root / "parts.txt").exists():
        split.part_names = tuple(s for s in (root / "parts.txt").read_text().split() if s)
    return split


def read_dataset(root: str | os.PathLike, *, split_file: str | os.PathLike | None = None) -> dict[str, Split]:
    """The ``"train"`` and ``"test"`` splits of a dataset folder, layouts detected.

    Parameters
    ----------
    root : path
        The dataset folder.
    split_file : path, optional
        JSON ``{"train": [names], "test": [names]}`` splitting a folder that has no ``train/`` and
        ``test/`` subfolders. Names are file stems (``class/stem`` for the classes layout). Not
        needed for the FAUST_r and SCAPE_r folders, which are split by the papers' protocol
        (:mod:`meshlearn.datasets.standard_splits`).

    Raises
    ------
    DatasetError
        When the folder matches no layout, or files disagree.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder; {_EXPECTED}")
    if split_file is not None:
        try:
            spec = json.loads(Path(split_file).read_text())
            names = {s: [str(n) for n in spec[s]] for s in ("train", "test")}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DatasetError(
                f"{split_file}: expected a JSON object with 'train' and 'test' lists of shape names ({e})"
            ) from e
        whole = read_split(root)
        out = {s: whole.subset(names[s], s) for s in ("train", "test")}
    elif (root / "meshes" / "train").is_dir() and (root / "segs" / "train").is_dir():
        out = {s: _human_seg_split(root, s) for s in ("train", "test")}
    elif (root / "train").is_dir() and (root / "test").is_dir():
        out = {s: read_split(root / s) for s in ("train", "test")}
        if out["train"].layout != out["test"].layout:
            raise DatasetError(
                f"{root}: train/ is in the {out['train'].layout} layout but test/ in {out['test'].layout}; "
                "use one layout for both"
            )
        # class folders may differ between the splits (a small test set may lack a class): a
        # run's classes are those of every split (meshlearn.train.classes), indices per split
    else:
        try:
            layout = detect_layout(root)
        except DatasetError:
            raise DatasetError(f"{root}: matches no known dataset layout; {_EXPECTED}") from None
        from .standard_splits import standard_split

        whole = read_split(root, layout=layout) if layout == "faust_r" else None
        standard = standard_split(r.name for r in whole.records) if whole is not None else None
        if standard is None:
            known = " (only the FAUST_r and SCAPE_r folders are split by their names)" if layout == "faust_r" else ""
            raise DatasetError(
                f"{root}: is one {layout} folder without train/ and test/ subfolders; "
                f"pass a split file (--split-file) naming the train and test shapes{known}"
            )
        dataset, train, test = standard
        log.info("%s: the %s folder; the standard split: %s .. %s train (%d), %s .. %s test (%d)",
                 root, dataset, train[0], train[-1], len(train), test[0], test[-1], len(test))
        out = {"train": whole.subset(train, "train"), "test": whole.subset(test, "test")}
    return {s: _with_root_files(sp, root) for s, sp in out.items()}


# ------------------------------------------------------------------------------------ samples
def _read_vts(path: Path, mesh: Path, V: int) -> np.ndarray:
    """0-based vertex indices from a 1-based ``.vts`` file, checked against the mesh's V vertices."""
    vts = read_int_file(path) - 1
    if vts.size and (vts.min() < 0 or vts.max() >= V):
        raise DatasetError(
            f"{path}: vertex {int(vts.max() + 1 if vts.max() >= V else vts.min() + 1)} out of range "
            f"for {mesh.name} with {V} vertices (expected 1-based indices 1..{V})"
        )
    return vts


def load_sample(rec: Record, normalize: str | None = DEFAULT_NORMALIZE) -> Sample:
    """Read the mesh and ground truth of one record.

    The shape is loaded by :func:`meshlearn.load` without cleaning (the file's vertex order) and
    normalised by ``normalize`` (default :data:`DEFAULT_NORMALIZE`, as ``meshlearn preprocess``
    does; ``None`` keeps the file's coordinates). The transform is in ``shape.meta``
    (``normalize``, ``offset``, ``scale``).
    """
    shape = load_shape(rec.mesh, normalize)
    V, F = shape.n_verts, shape.n_faces
    sample = Sample(shape=shape, class_label=rec.class_label)
    if rec.labels is not None:
        lab = read_int_file(rec.labels) - rec.label_offset
        if lab.size and lab.min() < 0:
            raise DatasetError(
                f"{rec.labels}: negative label {int(lab.min() + rec.label_offset)}"
                + (" (this format counts labels from 1)" if rec.label_offset else "")
            )
        if lab.size == V:
            sample.labels = lab
        elif F and lab.size == F:
            sample.face_labels = lab
            sample.labels = vertex_labels_from_faces(shape.faces, lab, V, shape.face_areas())
        else:
            raise DatasetError(
                f"{rec.labels}: {lab.size} labels, but {rec.mesh.name} has {V} vertices and {F} faces; "
                "expected one label per vertex or one per face"
            )
    if rec.bary is not None:
        rows = np.loadtxt(rec.bary, ndmin=2)
        if rows.shape[0] != V:
            raise DatasetError(f"{rec.bary}: {rows.shape[0]} rows for {V} vertices; expected one per vertex")
        sample.template_vertex = rows[:, 0].astype(np.int64)
        sample.meta["template_face"] = rows[:, 1].astype(np.int64)
        sample.meta["template_bary"] = rows[:, 2:5]
    if rec.vts is not None:
        vts = _read_vts(rec.vts, rec.mesh, V)
        sample.vts = vts
        if sample.template_vertex is None:
            tv = np.full(V, -1, dtype=np.int64)
            tv[vts] = np.arange(vts.size)
            sample.template_vertex = tv
    if rec.sym_vts is not None:
        sample.sym_vts = _read_vts(rec.sym_vts, rec.mesh, V)
    if rec.identity:
        sample.vts = np.arange(V, dtype=np.int64)
        sample.template_vertex = np.arange(V, dtype=np.int64)
    return sample
