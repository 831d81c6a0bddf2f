"""Holding out a validation set: a seeded random draw, stratified where the layout has groups.

The shapes of a split are grouped by their stratum: the class folder in the ``classes`` layout,
the collection (first folder under ``meshes/train/``) in the ``human_seg`` layout, and one group
for the other layouts. From every group ``round(fraction * group size)`` shapes are drawn at
random (numpy's generator seeded with ``seed``); when the rounding leaves the total away from
``round(fraction * n)``, the groups whose rounding lost (or gained) the most give (or take back)
one shape each. So every class or source is represented in both parts in proportion, and the same
seed always draws the same names. The draw never takes every shape of a split: at least one stays
for training.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .readers import Record, Split

__all__ = ["stratum_of", "validation_split"]


def stratum_of(rec: Record, layout: str) -> str:
    """The group a record is stratified in: its class folder (``classes``), its collection
    (``human_seg``), or ``""`` (one group) for the other layouts."""
    if layout in ("classes", "human_seg") and "/" in rec.name:
        return rec.name.split("/", 1)[0]
    return ""


def validation_split(split: Split, fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """(train indices, validation indices) into ``split.records``, both in the records' order.

    Parameters
    ----------
    split : Split
    fraction : float
        Share of the shapes held out, in [0, 1). 0 holds out nothing.
    seed : int
        Seed of the draw. default: 0

    Examples
    --------
    >>> from pathlib import Path
    >>> recs = [Record(f"{c}/{i}", Path(f"{c}/{i}.off")) for c in "ab" for i in range(5)]
    >>> train, val = validation_split(Split("classes", Path("."), recs), 0.2, seed=3)
    >>> len(train), len(val), sorted(recs[i].name[0] for i in val)
    (8, 2, ['a', 'b'])
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"val_fraction must lie in [0, 1) (got {fraction!r})")
    n = len(split.records)
    n_val = min(int(round(fraction * n)), n - 1) if n > 1 else 0
    if n_val <= 0:
        return list(range(n)), []
    groups: dict[str, list[int]] = {}
    for i, rec in enumerate(split.records):
        groups.setdefault(stratum_of(rec, split.layout), []).append(i)
    keys = sorted(groups)
    want = np.array([fraction * len(groups[k]) for k in keys])
    take = np.minimum(np.round(want).astype(int), [len(groups[k]) for k in keys])
    rng = np.random.default_rng(seed)
    while take.sum() != n_val:  # even out the rounding: one shape at a time, largest remainder first
        if take.sum() < n_val:
            room = np.array([take[j] < len(groups[k]) for j, k in enumerate(keys)])
            j = int(np.argmax(np.where(room, want - take, -np.inf)))
            take[j] += 1
        else:
            j = int(np.argmax(np.where(take > 0, take - want, -np.inf)))
            take[j] -= 1
    val: list[int] = []
    for j, k in enumerate(keys):
        members = groups[k]
        val += [members[i] for i in rng.permutation(len(members))[: take[j]]]
    held = set(val)
    return [i for i in range(n) if i not in held], sorted(val)
