"""Small helpers shared by the text formats: decoding bytes and turning coordinate rows into arrays."""

from __future__ import annotations

import numpy as np

from ...errors import InvalidMeshError

__all__ = ["decode_text", "coordinate_rows"]


def decode_text(data: bytes) -> str:
    """The file's text; bytes that are not UTF-8 become U+FFFD (and then fail as numbers, with a message)."""
    return data.decode("utf-8", errors="replace")


def coordinate_rows(rows: list[list[str]], what: str, source: str) -> np.ndarray:
    """Rows of three number strings -> (N, 3) float64, or InvalidMeshError naming the file."""
    try:
        arr = np.array(rows, dtype=np.float64)
    except (ValueError, OverflowError) as e:
        raise InvalidMeshError(f"{source}: unreadable {what} ({e}); check the file is not corrupted") from e
    return arr.reshape(-1, 3)
