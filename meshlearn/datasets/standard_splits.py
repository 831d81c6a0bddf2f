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

import logging
import re

from .readers import Split

__all__ = ["STANDARD_SPLITS", "standard_split"]

log = logging.getLogger(__name__)

#: dataset -> (name pattern with a 3-digit number, number of shapes, number of training shapes)
STANDARD_SPLITS: dict[str, tuple[str, int, int]] = {
    "FAUST_r": (r"tr_reg_(\d{3})", 100, 80),
    "SCAPE_r": (r"mesh(\d{3})", 71, 51),
}


def standard_split(whole: Split) -> tuple[str, dict[str, Split]] | None:
    """``(dataset name, {"train": Split, "test": Split})`` when ``whole`` (one ``faust_r`` folder)
    holds exactly the shapes of FAUST_r or SCAPE_r, split by the table above; else None."""
    if whole.layout != "faust_r":
        return None
    names = sorted(r.name for r in whole.records)
    for dataset, (pattern, n, n_train) in STANDARD_SPLITS.items():
        found = [re.fullmatch(pattern, name) for name in names]
        if len(names) == n and all(found) and [int(m.group(1)) for m in found] == list(range(n)):
            log.info("%s: the %s folder; the standard split: %s .. %s train (%d), %s .. %s test (%d)",
                     whole.root, dataset, names[0], names[n_train - 1], n_train, names[n_train], names[-1], n - n_train)
            return dataset, {"train": whole.subset(names[:n_train], "train"), "test": whole.subset(names[n_train:], "test")}
    return None
