"""Turn the command line's INPUT arguments into a list of shape files.

An input is one of:

- a folder: walked recursively for files with a supported suffix (:data:`SUPPORTED_SUFFIXES`,
  case-insensitive); other files (READMEs, caches, images) and hidden files and folders (names
  starting with ".") are ignored;
- a glob such as ``"scans/**/*.ply"`` (``**`` matches any depth); folders it matches are walked;
- a list file (suffix ``.txt``, ``.lst`` or ``.list``): one input per line, blank lines and lines
  starting with ``#`` ignored, relative paths taken from the list file's folder; a line may itself
  be a folder, a glob or another list file;
- any other file: taken as a shape file as it is (a file meshlearn cannot read is then reported as
  failed in the manifest rather than silently skipped).

The result is in input order (each folder or glob sorted by path) without duplicates.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError

__all__ = ["SUPPORTED_SUFFIXES", "LIST_SUFFIXES", "expand_inputs"]

#: Shape file suffixes picked up when walking a folder or a glob.
SUPPORTED_SUFFIXES: tuple[str, ...] = (".obj", ".ply", ".off", ".stl", ".pcd", ".xyz", ".pts")
#: Suffixes of text files that list inputs, one a line.
LIST_SUFFIXES: tuple[str, ...] = (".txt", ".lst", ".list")

_MAX_LIST_DEPTH = 8


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders, globs and list files into shape files.

    Parameters
    ----------
    inputs : iterable of str or Path
        Folders, globs, list files or shape files (see the module docstring).

    Returns
    -------
    list of Path
        Absolute paths, in input order, each once.

    Raises
    ------
    ConfigError
        An input that is no file, folder or glob match, a list file that cannot be read, or no
        shape file found at all.
    """
    items = [os.fspath(i) for i in inputs]
    if not items:
        raise ConfigError("no INPUT given: name folders, globs, list files or shape files")
    out: list[Path] = []
    seen: set[Path] = set()
    for item in items:
        for path in _expand(item, base=None, depth=0):
            path = path.resolve()
            if path not in seen:
                seen.add(path)
                out.append(path)
    if not out:
        raise ConfigError(
            f"no shape files found in {', '.join(items)}: expected files ending in "
            f"{' '.join(SUPPORTED_SUFFIXES)}"
        )
    return out


def _is_glob(item: str) -> bool:
    return any(c in item for c in "*?[")


def _walk(folder: Path) -> list[Path]:
    found = []
    for p in folder.rglob("*"):
        if p.suffix.lower() not in SUPPORTED_SUFFIXES or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue  # hidden files and folders (editor backups, macOS "._" files) are not shapes
        if p.is_file():
            found.append(p)
    return sorted(found)


def _expand(item: str, base: Path | None, depth: int) -> list[Path]:
    path = Path(item).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_dir():
        return _walk(path)
    if path.is_file():
        if path.suffix.lower() in LIST_SUFFIXES:
            return _read_list(path, depth)
        return [path]
    if _is_glob(item):
        matches = sorted(glob.glob(os.fspath(path), recursive=True))
        found: list[Path] = []
        for m in map(Path, matches):
            if m.is_dir():
                found.extend(_walk(m))
            elif m.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(m)
        if not found:
            raise ConfigError(
                f"{item}: the pattern matches no shape file (suffixes {' '.join(SUPPORTED_SUFFIXES)}); "
                "check the pattern, and quote it so that the shell does not expand it"
            )
        return found
    raise ConfigError(f"{path}: no such file or folder; check the path")


def _read_list(path: Path, depth: int) -> list[Path]:
    if depth >= _MAX_LIST_DEPTH:
        raise ConfigError(f"{path}: list files nested more than {_MAX_LIST_DEPTH} deep (does a list name itself?)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the list file ({e}); expected UTF-8 text, one path a line") from e
    out: list[Path] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.extend(_expand(line, base=path.parent, depth=depth + 1))
        except ConfigError as e:
            raise ConfigError(f"{path}, line {lineno}: {e}") from e
    return out
