"""The ``meshlearn`` command line: one module per command, registered on one Typer app."""

from __future__ import annotations

import importlib

from ._app import app

# Each module registers its command(s) on `app` when imported.
_COMMAND_MODULES = ("info", "demo", "data", "preprocess", "train", "match", "view")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def main() -> None:
    """Console-script entry point: a MeshlearnError prints one clear line and exits with 1."""
    import sys

    from ..errors import MeshlearnError

    try:
        app()
    except MeshlearnError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


__all__ = ["app", "main"]
