"""The classes a run predicts, from every split of its dataset: shape classes and part labels.

A model's output size must cover every class any split holds, not only those the training
shapes happen to show, and a label the model cannot predict must stop evaluation with the file
named (never be clipped into the last class).

Shape classification (the ``classes`` layout, ``<class>/<name>.ext``): the classes are the
dataset's class list when it has one (``classes.txt`` at its root, one name a line, in label
order), else the sorted union of the class folder names of all splits. A run stores them in
``RUN/classes.json`` and in its checkpoints; evaluating it on a folder of another class is a
DatasetError naming the file.

Segmentation: the number of classes is one more than the largest label in any split (train,
validation and test), or the number of part names (``parts.txt``) when that is larger.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import DatasetError

__all__ = [
    "CLASS_LIST",
    "dataset_classes",
    "class_index",
    "class_label_of",
    "segmentation_class_count",
    "write_classes",
    "read_classes",
    "class_map_of",
]

#: optional file at a dataset's root naming its classes, one a line (label i on line i)
CLASS_LIST = "classes.txt"


def _class_list(root: Path) -> tuple[str, ...] | None:
    path = root / CLASS_LIST
    if not path.is_file():
        return None
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if len(set(names)) != len(names) or not names:
        raise DatasetError(f"{path}: expected distinct class names, one a line (got {len(names)} lines, "
                           f"{len(set(names))} distinct)")
    return names


def dataset_classes(splits: Mapping[str, Any], root: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The class names of a classification dataset: its ``classes.txt`` (when ``root`` has one),
    else the sorted union of every split's class folders.

    Parameters
    ----------
    splits : dict of split name -> Split
        From :func:`meshlearn.datasets.read_dataset`.
    root : path, optional
        The dataset folder (for ``classes.txt``).

    Raises
    ------
    DatasetError
        When no split has class folders, or a folder is not in the class list (naming a file in it).
    """
    if not any(getattr(sp, "classes", ()) for sp in splits.values()):
        layouts = sorted({sp.layout for sp in splits.values()})
        where = f"{root}: " if root is not None else ""
        raise DatasetError(
            f"{where}classification needs class folders (<class>/<name>.ply under train/ and test/), "
            f"but the dataset is in the {', '.join(layouts)} layout"
        )
    listed = _class_list(Path(root)) if root is not None else None
    if listed is None:
        return tuple(sorted({c for sp in splits.values() for c in sp.classes}))
    for sp in splits.values():
        for rec in sp.records:
            name = class_label_of(rec, sp)
            if name not in listed:
                raise DatasetError(
                    f"{rec.mesh}: its class folder {name!r} is not in {Path(root) / CLASS_LIST} "
                    f"({', '.join(listed)}); add it there or move the file"
                )
    return listed


def class_label_of(rec: Any, split: Any) -> str:
    """The class name of record ``rec`` of ``split`` (its class folder)."""
    if rec.class_label is None:
        raise DatasetError(f"{rec.mesh}: has no class label; classification needs <class>/<name> folders")
    return split.classes[int(rec.class_label)]


def class_index(name: str, classes: tuple[str, ...] | list[str], source: Any) -> int:
    """The index of class ``name`` among the run's ``classes``; a DatasetError naming ``source``
    (the shape's file) when the run does not know the class."""
    try:
        return list(classes).index(name)
    except ValueError:
        raise DatasetError(
            f"{source}: class {name!r} is not one of the {len(classes)} classes the model predicts "
            f"({', '.join(classes)}); evaluate on shapes of those classes, or retrain with this class in the data"
        ) from None


def class_map_of(split: Any, classes: tuple[str, ...] | list[str]) -> np.ndarray:
    """``m[i]``: the run's index of the split's class i (``split.classes[i]``); a DatasetError
    naming a file of a class the run does not know."""
    out = np.empty(len(split.classes), dtype=np.int64)
    for i, name in enumerate(split.classes):
        first = next((r.mesh for r in split.records if r.class_label == i), Path(split.root) / name)
        out[i] = class_index(name, classes, first)
    return out


def segmentation_class_count(splits: Mapping[str, Any]) -> int:
    """The number of segmentation classes: one more than the largest label in any split's label
    files, or the number of part names when larger (0 when there are no labels).

    Reads only the label files (one integer per vertex or face), not the meshes.
    """
    from ..datasets.readers import read_int_file

    top = -1
    seen: set[Path] = set()
    names = 0
    for sp in splits.values():
        names = max(names, len(getattr(sp, "part_names", ()) or ()))
        for rec in sp.records:
            if rec.labels is None or rec.labels in seen:
                continue
            seen.add(rec.labels)
            lab = read_int_file(rec.labels) - rec.label_offset
            if lab.size:
                top = max(top, int(lab.max()))
    return max(top + 1, names)


def write_classes(run_dir: str | os.PathLike, classes: tuple[str, ...] | list[str]) -> Path:
    """Write ``RUN/classes.json`` (a JSON list of names, label i at position i) atomically."""
    from ..cache import atomic_write_bytes

    path = Path(run_dir) / "classes.json"
    atomic_write_bytes(path, (json.dumps(list(classes), indent=1) + "\n").encode())
    return path


def read_classes(run_dir: str | os.PathLike) -> list[str] | None:
    """The class names in ``RUN/classes.json``, or None when the run has none."""
    path = Path(run_dir) / "classes.json"
    if not path.is_file():
        return None
    try:
        names = json.loads(path.read_text())
    except ValueError as e:
        raise DatasetError(f"{path}: not valid JSON ({e}); it should list the run's class names") from e
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{path}: expected a JSON list of class names")
    return names

