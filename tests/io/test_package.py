"""The shape of meshlearn.io: its public names, no io <-> validate cycle, no private names across modules."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import meshlearn
from meshlearn import InvalidMeshError, ValidationReport
from meshlearn.testing import icosphere

PACKAGE = Path(meshlearn.__file__).parent


def _imports(path: Path):
    """(module, names) of every import statement in a file, at any depth, relative ones resolved."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + (1 if path.name == "__init__.py" else 0)] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            yield mod, [a.name for a in node.names]


def test_validate_does_not_import_io():
    for mod, names in _imports(PACKAGE / "validate.py"):
        assert not mod.startswith("meshlearn.io") and not (mod == "meshlearn" and "io" in names), mod


def test_no_private_name_is_imported_from_another_module():
    for path in [PACKAGE / "validate.py", *sorted((PACKAGE / "io").rglob("*.py"))]:
        for mod, names in _imports(path):
            private = [n for n in names if n.startswith("_") and n != "__future__"]
            assert not private or not mod.startswith("meshlearn"), (path, mod, private)


def test_modules_import_first_in_a_fresh_interpreter():
    # a cycle shows as an ImportError (a partly initialised module) when one of its modules is the
    # first thing imported
    import subprocess

    for name in ["meshlearn.validate", "meshlearn.io.repair", "meshlearn.io.formats.off"]:
        subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, cwd=PACKAGE.parent, check=True)


def test_public_names():
    io = importlib.import_module("meshlearn.io")
    for name in ["load", "save", "read_file", "normalize", "repair", "validate", "MESH_EXTENSIONS",
                 "POINT_CLOUD_EXTENSIONS", "NORMALIZE_KINDS", "Polygons", "fan_triangulate"]:
        assert hasattr(io, name), name
    assert io.NORMALIZE_KINDS == ("area", "radius")
    assert meshlearn.load is io.load and meshlearn.save is io.save and meshlearn.validate is io.validate
    validate_module = sys.modules["meshlearn.validate"]
    for name in ["degenerate_face_mask", "edge_topology", "out_of_range_message", "ValidationReport", "validate"]:
        assert hasattr(validate_module, name), name


def test_top_level_validate_loads_paths_and_arrays(tmp_path):
    s = icosphere(1)
    path = meshlearn.save(s, tmp_path / "ico.off")
    for source in (path, str(path), (s.verts, s.faces), s):
        report = meshlearn.validate(source)
        assert isinstance(report, ValidationReport) and report.ok and report.n_verts == s.n_verts
    bad = (s.verts, np.vstack([s.faces, [[0, 1, 999]]]))
    assert meshlearn.validate(bad).out_of_range_faces == 1  # loaded as it is, not refused


def test_module_validate_checks_shapes_only():
    validate_module = sys.modules["meshlearn.validate"]
    assert validate_module.validate(icosphere(0)).ok
    with pytest.raises(InvalidMeshError, match=r"checks a Shape \(got tuple\); call meshlearn.validate"):
        validate_module.validate((icosphere(0).verts, icosphere(0).faces))
