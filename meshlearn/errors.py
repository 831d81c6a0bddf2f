"""Exceptions raised by meshlearn.

Every error meshlearn raises on purpose is a :class:`MeshlearnError`. Each subclass also derives
from the matching builtin, so ``except ValueError`` keeps working for callers that do not know
meshlearn. Messages name the file (when there is one), the problem, and the fix.
"""

from __future__ import annotations

__all__ = [
    "MeshlearnError",
    "InvalidMeshError",
    "UnsupportedFormatError",
    "SolverError",
    "CacheError",
    "WriteError",
    "DatasetError",
    "ConfigError",
    "CheckpointError",
    "MissingDependencyError",
]


class MeshlearnError(Exception):
    """Base class of every error meshlearn raises deliberately."""


class InvalidMeshError(MeshlearnError, ValueError):
    """A mesh or point cloud that cannot be used as it is (and could not be repaired safely)."""


class UnsupportedFormatError(InvalidMeshError):
    """A file whose type meshlearn cannot read."""


class SolverError(MeshlearnError, RuntimeError):
    """A numerical solve (eigenproblem, linear system) failed after every fallback."""


class CacheError(MeshlearnError, OSError):
    """A cache folder that cannot be read or written."""


class WriteError(MeshlearnError, OSError):
    """An output file or folder that cannot be written."""


class DatasetError(MeshlearnError, ValueError):
    """A dataset folder that matches no known layout, or whose files disagree."""


class ConfigError(MeshlearnError, ValueError):
    """An option or argument outside its valid values."""


class MissingDependencyError(MeshlearnError, ImportError):
    """A feature whose optional dependency is not installed; the message names the pip line."""


def where(source: str | None) -> str:
    """Prefix for messages: ``"scan.ply: "`` when the shape came from a file, else ``""``."""
    return f"{source}: " if source else ""


class CheckpointError(ConfigError):
    """A checkpoint that cannot be used: missing, unreadable, holding pickled objects, or written
    for a model this version of meshlearn builds differently."""
