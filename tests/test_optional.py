"""Optional dependencies: ``import meshlearn`` stays light, subpackages load on first use, a
missing extra is a MissingDependencyError naming its ``pip install`` line, the core works with
every extra absent, and pyproject's core dependencies cover what the core imports.

Absence is simulated in a fresh interpreter whose ``sys.meta_path`` starts with a finder that
refuses the blocked top-level modules (as if they were not installed).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "meshlearn"

#: Every module an extra installs (what the core must never need).
OPTIONAL = ("pyvista", "vtk", "vtkmodules", "open3d", "dask", "distributed", "matplotlib", "trame", "trame_vtk",
            "trame_pyvista", "trame_vuetify", "tensorboard")

BLOCKER = textwrap.dedent(
    """
    import sys

    class _Absent:
        # a finder refusing the modules named in argv[1], as if they were not installed
        def __init__(self, names):
            self.names = {n for n in names.split(",") if n}

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in self.names:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _Absent(sys.argv[1]))
    """
)


def run_python(body: str, blocked: tuple[str, ...] = (), *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``body`` in a fresh interpreter with ``blocked`` modules absent; argv[2:] = args."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    code = BLOCKER + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code, ",".join(blocked), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT),
    )


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- import meshlearn is light, and subpackages are lazy -------------------------------------


def test_import_meshlearn_loads_no_heavy_or_optional_module():
    out = last_json(run_python(
        f"""
        import json, sys
        import meshlearn
        heavy = ("torch",) + {OPTIONAL!r}
        print(json.dumps({{"loaded": sorted(m for m in heavy if m in sys.modules),
                           "subpackages": sorted(m for m in ("nets", "viz", "gauge", "train", "datasets", "learn")
                                                 if "meshlearn." + m in sys.modules)}}))
        """
    ))
    assert out == {"loaded": [], "subpackages": []}


def test_subpackages_load_on_first_attribute_access():
    out = last_json(run_python(
        """
        import json, sys
        import meshlearn
        before = "torch" in sys.modules
        net = meshlearn.nets.DiffusionNet
        after_nets = "torch" in sys.modules
        pyvista_after_viz = (meshlearn.viz.plot_scalars, "pyvista" in sys.modules)[1]
        import meshlearn.preprocess.manifest  # a submodule import must not replace the function
        print(json.dumps({
            "before": before, "after_nets": after_nets, "net": net.__module__,
            "pyvista_after_viz": pyvista_after_viz,
            "laplacian": meshlearn.geometry.laplacian.__module__,
            "preprocess_is_function": callable(meshlearn.preprocess) and not hasattr(meshlearn.preprocess, "__path__"),
            "dir": [n for n in ("nets", "viz", "gauge", "train", "datasets", "learn", "cache", "geometry", "load")
                    if n in dir(meshlearn)],
            "same": meshlearn.nets is sys.modules["meshlearn.nets"],
        }))
        """
    ))
    assert out["before"] is False and out["after_nets"] is True
    assert out["net"] == "meshlearn.nets.diffusion"
    assert out["pyvista_after_viz"] is False  # meshlearn.viz itself does not import pyvista
    assert out["laplacian"] == "meshlearn.geometry.laplacian"
    assert out["preprocess_is_function"] is True
    assert out["dir"] == ["nets", "viz", "gauge", "train", "datasets", "learn", "cache", "geometry", "load"]
    assert out["same"] is True


def test_unknown_attribute_is_an_attribute_error():
    import meshlearn

    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        meshlearn.no_such_thing  # noqa: B018
    assert not hasattr(meshlearn, "correspondence") or hasattr(meshlearn.correspondence, "__name__")
    for name in meshlearn.__all__:
        assert getattr(meshlearn, name) is not None


def test_readme_names_resolve():
    import meshlearn

    for dotted in ("load", "validate", "compute_operators", "OperatorSpec.for_net", "geometry.laplacian",
                   "geometry.eigenbasis", "geometry.geodesic_distance", "geometry.gauge_data", "nets.DiffusionNet",
                   "nets.SymmetryProjection", "datasets", "train", "viz.plot_scalars", "learn.InvariantSpectralRegressor"):
        obj = meshlearn
        for part in dotted.split("."):
            obj = getattr(obj, part)
        assert obj is not None, dotted


# --- a missing extra names its pip line ------------------------------------------------------

FEATURES = {
    "viz: pyvista": (("pyvista",), "viz", "pyvista", """
        import meshlearn
        from meshlearn.testing import icosphere
        s = icosphere(1)
        meshlearn.viz.plot_scalars(s, s.verts[:, 0], screenshot=OUT / "x.png")
    """),
    "viz: vtk polydata": (("pyvista",), "viz", "pyvista", """
        import meshlearn
        from meshlearn.testing import icosphere
        meshlearn.viz.export_mesh(icosphere(1), OUT / "x.vtp")
    """),
    "viz: matplotlib colours": (("matplotlib",), "viz", "matplotlib", """
        import meshlearn
        meshlearn.viz.label_palette(5)
    """),
    "train: plot_pck": (("matplotlib",), "viz", "matplotlib", """
        import numpy as np
        from meshlearn.train.metrics import plot_pck
        t = np.linspace(0.0, 0.25, 5)
        plot_pck({"a": (t, t)}, OUT / "pck.png")
    """),
    "html: export_html": (("trame", "trame_vtk", "trame_pyvista"), "html", "trame", """
        import meshlearn
        meshlearn.viz.export_html(object(), OUT / "x.html")
    """),
    "io: coarse eigenbasis": (("open3d",), "io", "open3d", """
        import meshlearn
        from meshlearn.geometry.coarse_spectral import coarse_eigenbasis
        from meshlearn.testing import icosphere
        s = icosphere(2)
        L, M = meshlearn.geometry.laplacian(s)
        coarse_eigenbasis(s, L, M, 8, coarse_verts=100)
    """),
    "io: decimation": (("open3d",), "io", "open3d", """
        from meshlearn.preprocess.decimate import decimate
        from meshlearn.testing import icosphere
        decimate(icosphere(3), 100)
    """),
    "io: preprocess --eigen-coarse": (("open3d",), "io", "open3d", """
        import meshlearn
        from meshlearn.testing import icosphere
        meshlearn.save(icosphere(1), OUT / "s.off")
        meshlearn.preprocess(OUT / "s.off", OUT / "cache", spec=meshlearn.OperatorSpec(k=8, eigen_coarse=100))
    """),
    "dist: preprocess --scheduler": (("dask", "distributed"), "dist", "dask[distributed]", """
        import meshlearn
        from meshlearn.testing import icosphere
        meshlearn.save(icosphere(1), OUT / "s.off")
        meshlearn.preprocess(OUT / "s.off", OUT / "cache", scheduler="tcp://127.0.0.1:9")
    """),
}


def test_missing_extra_raises_missing_dependency_error_with_the_pip_line(tmp_path):
    """Each feature with every optional module absent (one interpreter for all: they need different
    modules, so each one's message must name its own)."""
    cases = {name: textwrap.dedent(call) for name, (_, _, _, call) in FEATURES.items()}
    blocked = sorted({m for b, _, _, _ in FEATURES.values() for m in b})
    out = last_json(run_python(
        """
        import json, pathlib
        from meshlearn.errors import MeshlearnError, MissingDependencyError
        res = {}
        for i, (case, code) in enumerate(json.loads(sys.argv[3]).items()):
            out = pathlib.Path(sys.argv[2]) / str(i)
            out.mkdir()
            try:
                exec(code, {"OUT": out})
            except MissingDependencyError as e:
                res[case] = [str(e), isinstance(e, MeshlearnError), (out / "cache").exists()]
            else:
                res[case] = None
        print(json.dumps(res))
        """,
        tuple(blocked), str(tmp_path), json.dumps(cases),
    ))
    for case, (_, extra, dist, _) in FEATURES.items():
        assert out[case] is not None, f"{case}: no MissingDependencyError with {blocked} absent"
        message, is_meshlearn_error, wrote_cache = out[case]
        assert is_meshlearn_error, case
        assert f'pip install "meshlearn[{extra}]"' in message, (case, message)
        assert f"needs {dist}" in message, (case, message)
        assert not wrote_cache, f"{case}: the cache folder was made before the error"


def test_each_extra_alone_is_named_when_absent(tmp_path):
    """One module absent at a time, the others installed: the message names that one."""
    for case in ("viz: pyvista", "io: decimation"):
        blocked, extra, dist, call = FEATURES[case]
        proc = run_python(
            "import pathlib\nOUT = pathlib.Path(sys.argv[2])\n" + textwrap.dedent(call), blocked, str(tmp_path)
        )
        assert proc.returncode == 1, (case, proc.stderr[-2000:])
        assert "MissingDependencyError" in proc.stderr and f'pip install "meshlearn[{extra}]"' in proc.stderr, case


def test_require_names_the_extra_or_the_distribution():
    from meshlearn.errors import MissingDependencyError
    from meshlearn.optional import EXTRAS, require

    assert require("numpy", "the geometry").__name__ == "numpy"
    with pytest.raises(MissingDependencyError, match=r"pip install meshlearn_no_such_module"):
        require("meshlearn_no_such_module", "a test")
    assert {extra for extra, _ in EXTRAS.values()} == {"viz", "io", "dist", "html", "tb"}


# --- the CLI prints the message, exit code 1, no traceback -----------------------------------

CLI = """
    import contextlib, io, json, pathlib
    import meshlearn
    from meshlearn.cli import main
    from meshlearn.testing import icosphere
    OUT = pathlib.Path(sys.argv[2])
    meshlearn.save(icosphere(1), OUT / "s.off")
    res = []
    for args in json.loads(sys.argv[3]):
        sys.argv = ["meshlearn"] + [a.replace("OUT", str(OUT)) for a in args]
        err = io.StringIO()
        code = 0
        with contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as e:
                code = e.code
        res.append([code, err.getvalue()])
    print(json.dumps(res))
"""


def test_cli_prints_the_pip_line_without_a_traceback(tmp_path):
    runs = [
        (["view", "OUT/s.off", "--screenshot", "OUT/x.png"], "viz"),
        (["view", "OUT/s.off", "--export", "OUT/x.vtp"], "viz"),
        (["view", "OUT/s.off", "--export", "OUT/x.html"], "viz"),
        (["preprocess", "OUT/s.off", "--out", "OUT/cache", "--scheduler", "tcp://127.0.0.1:9"], "dist"),
        (["demo", "--out", "OUT/demo"], "viz"),
    ]
    out = last_json(run_python(CLI, OPTIONAL, str(tmp_path), json.dumps([a for a, _ in runs])))
    for (args, extra), (code, stderr) in zip(runs, out):
        assert code == 1, (args, stderr)
        assert "Traceback" not in stderr, args
        assert stderr.startswith("error: ") and f'pip install "meshlearn[{extra}]"' in stderr, (args, stderr)
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "cache").exists()
    assert not (tmp_path / "demo").exists()


# --- the core without any extra --------------------------------------------------------------


def test_core_pipeline_runs_with_every_extra_absent(shared_meshes, tmp_path):
    out = last_json(run_python(
        f"""
        import json, pathlib
        import numpy as np
        import torch
        import meshlearn
        from meshlearn.nets import DiffusionNet
        meshes = pathlib.Path(sys.argv[2])
        res = {{}}
        scan = meshlearn.load(meshes / "clean" / "stanford_bunny_scan.off")
        res["off"] = [scan.n_verts, scan.n_faces]
        spec = meshlearn.OperatorSpec.for_net(DiffusionNet, k=32, inputs="hks")
        for key, name in (("mesh", "clean/fox.ply"), ("cloud", "pointclouds/spot_points.ply")):
            shape = meshlearn.load(meshes / name, clean=True, normalize="area")
            ops = meshlearn.compute_operators(shape, spec, cache=sys.argv[3]).to("cpu")
            net = DiffusionNet(in_channels=ops.hks.shape[1], out_channels=4)
            with torch.no_grad():
                y = net(ops.hks, ops)
            res[key] = [shape.n_verts, list(y.shape), bool(torch.isfinite(y).all())]
        again = meshlearn.load(meshlearn.save(scan, pathlib.Path(sys.argv[3]) / "scan.ply"))
        res["ply_roundtrip"] = bool(np.array_equal(again.faces, scan.faces))
        try:
            import pyvista  # noqa: F401
        except ModuleNotFoundError:
            res["absent"] = True
        print(json.dumps(res))
        """,
        OPTIONAL, str(shared_meshes), str(tmp_path),
    ))
    assert out["off"] == [34834, 69451]
    assert out["mesh"] == [313, [313, 4], True]
    assert out["cloud"] == [2930, [2930, 4], True]
    assert out["ply_roundtrip"] is True
    assert out["absent"] is True


# --- pyproject: the core dependencies cover the core's imports -------------------------------

#: Import names whose distribution is called otherwise.
DISTRIBUTION = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
    "PIL": "pillow",
}

CORE = ("geometry", "nets", "gauge", "datasets", "train", "preprocess", "cache.py", "shape.py", "errors.py",
        "validate.py", "optional.py", "__init__.py")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_imports(tree: ast.Module, *, module_level: bool) -> list[tuple[str, int]]:
    """Absolute imports (top-level name, line), outside ``if TYPE_CHECKING:`` blocks; only those
    executed when the module is imported when ``module_level``."""
    found: list[tuple[str, int]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.extend((a.name.partition(".")[0], node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.module.partition(".")[0], node.lineno))
            if module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            visit([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)])

    visit(tree.body)
    return found


def _files(parts) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        p = PACKAGE / part
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return [p for p in out if p.exists()]


def test_core_dependencies_cover_the_core_imports():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_normalized(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    missing = []
    for path in _files(CORE):
        for name, line in _runtime_imports(ast.parse(path.read_text()), module_level=True):
            if name in sys.stdlib_module_names or name in ("meshlearn", "__future__"):
                continue
            if _normalized(DISTRIBUTION.get(name, name)) not in core:
                missing.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not missing, "imported at module level by the core but not a core dependency: " + ", ".join(missing)
    # what the extras install stays out of the core
    assert not core & {"pyvista", "matplotlib", "open3d", "open3d-cpu", "dask", "trame", "tensorboard"}
    assert set(extras) >= {"viz", "io", "dist", "html", "tb", "all", "dev", "bench"}
    assert extras["all"] == ["meshlearn[viz,io,dist,html,tb]"]
    assert any(r.startswith("open3d-cpu") and "x86_64" in r for r in extras["io"])
    assert any(r.startswith("open3d>=") and "!= 'x86_64'" in r for r in extras["io"])


def test_optional_modules_are_imported_only_through_require():
    """No module imports an optional dependency directly, at import time or in a function: it goes
    through meshlearn.optional.require, so a missing extra is a MissingDependencyError."""
    from meshlearn.optional import EXTRAS

    optional = {name.partition(".")[0] for name in EXTRAS} - {"torch"}
    direct = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() == "io.py":
            continue  # superseded by the meshlearn/io/ package, which imports open3d through require
        for name, line in _runtime_imports(ast.parse(path.read_text()), module_level=False):
            if name in optional:
                direct.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not direct, "import through meshlearn.optional.require instead: " + ", ".join(direct)
