"""validation_split: a seeded random draw, stratified by class or source folder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from meshlearn.datasets import Record, Split, stratum_of, validation_split
from meshlearn.errors import ConfigError


def _split(layout, counts):
    recs = [Record(f"{g}/{i}", Path(f"{g}/{i}.off")) for g, n in counts.items() for i in range(n)]
    return Split(layout, Path("."), recs)


def test_every_class_is_held_out_in_proportion():
    sp = _split("classes", {"ant": 10, "bird": 20, "cup": 30})
    train, val = validation_split(sp, 0.1, seed=0)
    assert len(val) == 6 and sorted(train + val) == list(range(60)) and not set(train) & set(val)
    assert Counter(sp.records[i].name.split("/")[0] for i in val) == {"ant": 1, "bird": 2, "cup": 3}
    # the last class is not the validation set, as a cut of the sorted list would make it
    assert {sp.records[i].name.split("/")[0] for i in val} == {"ant", "bird", "cup"}


def test_seeded_and_random():
    sp = _split("classes", {"a": 40, "b": 40})
    assert validation_split(sp, 0.25, seed=3) == validation_split(sp, 0.25, seed=3)
    draws = {tuple(validation_split(sp, 0.25, seed=s)[1]) for s in range(5)}
    assert len(draws) == 5
    _, val = validation_split(sp, 0.25, seed=3)
    assert len(val) == 20 and sum(i < 40 for i in val) == 10  # half from each class, not the last 20


def test_rounding_is_evened_out_to_the_requested_total():
    sp = _split("human_seg", {"faust": 3, "mit": 3, "scape": 3, "adobe": 1})
    _, val = validation_split(sp, 0.3, seed=1)
    assert len(val) == 3  # round(0.3 * 10); each group's own rounding would give 1 + 1 + 1 + 0
    assert stratum_of(sp.records[0], "human_seg") == "faust" and stratum_of(sp.records[0], "labelled") == ""


def test_edges():
    sp = _split("labelled", {"x": 3})
    assert validation_split(sp, 0.0) == ([0, 1, 2], [])
    assert len(validation_split(sp, 0.9)[0]) == 1  # one shape always stays for training
    assert validation_split(_split("labelled", {"x": 1}), 0.5) == ([0], [])
    with pytest.raises(ConfigError, match="val_fraction"):
        validation_split(sp, 1.0)
