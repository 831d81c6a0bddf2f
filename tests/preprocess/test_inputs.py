"""expand_inputs: folders, globs, list files; clear errors for inputs that name nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshlearn import ConfigError
from meshlearn.preprocess import expand_inputs


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".git").mkdir()
    for name in ("x.obj", "a/y.PLY", "a/b/z.off", "a/b/w.xyz", "a/notes.md", "a/b/c.png", "a/list.txt", "a/._y.ply", ".git/k.obj"):
        (root / name).write_text("")
    return root


def test_folder_is_walked_recursively_for_supported_suffixes(tmp_path):
    root = _tree(tmp_path)
    got = expand_inputs([root])
    assert [p.relative_to(root).as_posix() for p in got] == ["a/b/w.xyz", "a/b/z.off", "a/y.PLY", "x.obj"]
    assert all(p.is_absolute() for p in got)


def test_glob_and_duplicates(tmp_path):
    root = _tree(tmp_path)
    got = expand_inputs([str(root / "**" / "*.off"), root / "a" / "b" / "z.off", str(root / "a")])
    names = [p.name for p in got]
    assert names == ["z.off", "w.xyz", "y.PLY"]  # input order, z.off once


def test_list_file_relative_to_itself_with_comments_and_nesting(tmp_path):
    root = _tree(tmp_path)
    (tmp_path / "inner.lst").write_text("data/a/b/w.xyz\n")
    lst = tmp_path / "files.txt"
    lst.write_text("# my shapes\n\ndata/x.obj\n  data/a  \ninner.lst\n")
    got = expand_inputs([lst])
    assert [p.name for p in got] == ["x.obj", "w.xyz", "z.off", "y.PLY"]


def test_explicit_file_is_kept_even_with_an_unknown_suffix(tmp_path):
    f = tmp_path / "scan.weird"
    f.write_text("")
    assert expand_inputs([f]) == [f.resolve()]


def test_missing_path_names_it(tmp_path):
    with pytest.raises(ConfigError, match="nope.ply: no such file or folder"):
        expand_inputs([tmp_path / "nope.ply"])


def test_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="matches no shape file"):
        expand_inputs([str(tmp_path / "*.ply")])


def test_bad_line_in_list_names_the_list_and_line(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("# header\nmissing.obj\n")
    with pytest.raises(ConfigError, match=r"l\.txt, line 2: .*missing\.obj"):
        expand_inputs([lst])


def test_self_referencing_list_is_stopped(tmp_path):
    lst = tmp_path / "loop.txt"
    lst.write_text("loop.txt\n")
    with pytest.raises(ConfigError, match="nested"):
        expand_inputs([lst])


def test_folder_without_shapes_is_an_error(tmp_path):
    (tmp_path / "readme.md").write_text("")
    with pytest.raises(ConfigError, match="no shape files found"):
        expand_inputs([tmp_path])
