"""The pairs of shapes a correspondence evaluation scores.

By default every ordered pair ``(A, B)``, ``A != B``, of a split's shapes. A ``test_pairs.txt`` in
the split's folder (or, for the test split, in the dataset folder) lists the pairs instead: one
pair ``nameA nameB`` a line (shape names as the layout gives them: file stems), ``#`` starting a
comment; the pair ``A B`` maps A onto B and is scored on B. Such lists come with benchmarks that
score only some pairs (e.g. within a class, or one direction of each).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DatasetError
from .readers import Split

__all__ = ["PAIRS_FILE", "find_pairs_file", "read_pairs", "ordered_pairs"]

#: the file name of a pair list
PAIRS_FILE = "test_pairs.txt"


def find_pairs_file(split: Split, split_name: str, root: str | os.PathLike | None = None) -> Path | None:
    """``test_pairs.txt`` of the split's folder, else (for the test split) of the dataset folder ``root``."""
    candidates = [split.root / PAIRS_FILE]
    if root is not None and split_name == "test":
        candidates.append(Path(root) / PAIRS_FILE)
    return next((p for p in candidates if p.is_file()), None)


def read_pairs(path: str | os.PathLike, names: list[str]) -> list[tuple[int, int]]:
    """Index pairs ``(a, b)`` into ``names`` from a pair list (see the module docstring).

    Raises
    ------
    DatasetError
        A line without two names, a name not in ``names`` or a shape paired with itself, naming
        the file and the line; an empty list.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read the pair list ({e})") from e
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            raise DatasetError(f"{path}, line {number}: expected two shape names 'nameA nameB' (got {line.strip()!r})")
        unknown = [w for w in words if w not in index]
        if unknown:
            sample = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
            raise DatasetError(
                f"{path}, line {number}: no shape {unknown[0]!r} in this split ({len(names)} shapes: {sample}); "
                "name shapes by their file stems"
            )
        if words[0] == words[1]:
            raise DatasetError(f"{path}, line {number}: the pair names {words[0]!r} twice; pair two different shapes")
        pairs.append((index[words[0]], index[words[1]]))
    if not pairs:
        raise DatasetError(f"{path}: no pairs listed; write one pair 'nameA nameB' a line, or delete the file")
    return pairs


def ordered_pairs(n: int) -> list[tuple[int, int]]:
    """Every ordered pair ``(a, b)`` of ``n`` shapes with ``a != b``, ``n (n - 1)`` of them."""
    return [(a, b) for a in range(n) for b in range(n) if a != b]
