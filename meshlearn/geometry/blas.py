"""Limits on the BLAS thread count that cost microseconds.

``threadpoolctl.threadpool_limits`` looks up the loaded BLAS libraries on every call (a few
milliseconds: it resolves the path of every shared object in the process). The eigensolver sets a
limit several times per solve, so the libraries are looked up once, on first use, and the same
controller is reused; the BLAS libraries that matter here (numpy's and scipy's) are loaded by
then, since this package imports both.
"""

from __future__ import annotations

from threadpoolctl import ThreadpoolController

__all__ = ["blas_threads"]

_CONTROLLER: ThreadpoolController | None = None


def blas_threads(limit: int):
    """Context manager: at most ``limit`` BLAS threads inside the ``with`` block."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=int(limit), user_api="blas")
