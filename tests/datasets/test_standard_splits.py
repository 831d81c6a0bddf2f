"""FAUST_r and SCAPE_r folders (one faust_r-layout folder each) split by the papers' protocol."""

from __future__ import annotations

import logging

import pytest

from meshlearn.datasets import read_dataset
from meshlearn.errors import DatasetError

_TETRA = "OFF\n4 4 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n"


def fake_folder(root, names):
    (root / "off").mkdir(parents=True)
    (root / "corres").mkdir()
    for n in names:
        (root / "off" / f"{n}.off").write_text(_TETRA)
        (root / "corres" / f"{n}.vts").write_text("1\n2\n3\n4\n")
    return root


def test_faust_r_folder_gets_the_standard_split(tmp_path, caplog):
    root = fake_folder(tmp_path / "FAUST_r", [f"tr_reg_{i:03d}" for i in range(100)])
    with caplog.at_level(logging.INFO, logger="meshlearn.datasets.readers"):
        parts = read_dataset(root)
    assert [r.name for r in parts["train"].records] == [f"tr_reg_{i:03d}" for i in range(80)]
    assert [r.name for r in parts["test"].records] == [f"tr_reg_{i:03d}" for i in range(80, 100)]
    assert parts["test"].layout == "faust_r" and parts["test"].records[0].vts.name == "tr_reg_080.vts"
    assert "FAUST_r folder; the standard split: tr_reg_000 .. tr_reg_079 train (80), tr_reg_080 .. tr_reg_099 test (20)" in caplog.text


def test_scape_r_folder_gets_the_standard_split(tmp_path):
    root = fake_folder(tmp_path / "SCAPE_r", [f"mesh{i:03d}" for i in range(71)])
    parts = read_dataset(root)
    assert len(parts["train"]) == 51 and parts["train"].records[-1].name == "mesh050"
    assert [r.name for r in parts["test"].records] == [f"mesh{i:03d}" for i in range(51, 71)]


@pytest.mark.parametrize("names", [
    [f"tr_reg_{i:03d}" for i in range(99)],                    # one missing
    [f"tr_reg_{i:03d}" for i in range(100)] + ["extra"],       # one more
    [f"mesh{i:03d}" for i in range(1, 72)],                    # numbered from 1
    [f"shape{i:03d}" for i in range(20)],                      # another dataset
])
def test_other_single_folders_still_need_a_split_file(tmp_path, names):
    root = fake_folder(tmp_path / "data", names)
    with pytest.raises(DatasetError, match=r"one faust_r folder without train/ and test/ subfolders; pass a split "
                                           r"file \(--split-file\).*only the FAUST_r and SCAPE_r folders"):
        read_dataset(root)


def test_a_split_file_still_wins(tmp_path):
    root = fake_folder(tmp_path / "FAUST_r", [f"tr_reg_{i:03d}" for i in range(100)])
    split = tmp_path / "split.json"
    split.write_text('{"train": ["tr_reg_000"], "test": ["tr_reg_001", "tr_reg_002"]}')
    parts = read_dataset(root, split_file=split)
    assert len(parts["train"]) == 1 and len(parts["test"]) == 2


def test_standard_split_of_names():
    from meshlearn.datasets import standard_split

    dataset, train, test = standard_split([f"mesh{i:03d}" for i in reversed(range(71))])
    assert dataset == "SCAPE_r" and train[0] == "mesh000" and test[0] == "mesh051" and len(test) == 20
    assert standard_split(["tr_reg_000", "tr_reg_001"]) is None
