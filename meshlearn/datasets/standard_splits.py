"""The published train/test protocols of the remeshed FAUST and SCAPE folders.

FAUST_r and SCAPE_r (Ren et al. 2018, as ULRSSM and most deep functional-map papers use them) are
each one folder in the ``faust_r`` layout (``off/`` + ``corres/``), without ``train/`` and ``test/``
subfolders; the papers split them by name:

===========  ===========================  =================================  =====================
dataset      shapes                       train                              test
===========  ===========================  =================================  =====================
FAUST_r      ``tr_reg_000`` .. ``099``    ``tr_reg_000`` .. ``079`` (80)     ``080`` .. ``099`` (20)
SCAPE_r      ``mesh000`` .. ``mesh070``   ``mesh000`` .. ``mesh050`` (51)    ``051`` .. ``070`` (20)
===========  ===========================  =================================  =====================

A folder is recognised when its shapes are exactly those names (all of them, nothing else); any
other single folder needs a split file (``--split-file``), since no rule fits every dataset.
"""

from __future__ import annotations

import re
from typing import Iterable

__all__ = ["STANDARD_SPLITS", "standard_split"]

#: dataset -> (name pattern with a 3-digit number, number of shapes, number of training shapes)
STANDARD_SPLITS: dict[str, tuple[str, int, int]] = {
    "FAUST_r": (r"tr_reg_(\d{3})", 100, 80),
    "SCAPE_r": (r"mesh(\d{3})", 71, 51),
}


def standard_split(names: Iterable[str]) -> tuple[str, list[str], list[str]] | None:
    """``(dataset, train names, test names)`` when ``names`` (the shapes of one ``faust_r``
    folder) are exactly those of FAUST_r or SCAPE_r, split by the table above; else None."""
    names = sorted(names)
    for dataset, (pattern, n, n_train) in STANDARD_SPLITS.items():
        found = [re.fullmatch(pattern, name) for name in names]
        if len(names) == n and all(found) and [int(m.group(1)) for m in found] == list(range(n)):
            return dataset, names[:n_train], names[n_train:]
    return None
