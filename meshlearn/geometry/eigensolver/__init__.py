"""The generalised sparse eigensolver behind :func:`meshlearn.geometry.eigenbasis`.

Solves ``L x = lambda M x`` for the K smallest eigenpairs, where ``L`` (V, V) is a symmetric
positive semi-definite weak Laplacian and ``M`` (V, V) a positive diagonal (lumped) mass matrix.

Letters: V vertices, K eigenpairs.

Method. Shift-invert Lanczos is the field's standard; ARPACK's implementation of it
(:func:`scipy.sparse.linalg.eigsh`) spends most of its time at K = 128 re-orthogonalising every
new vector against a basis of about 2K vectors and restarting, passes over more memory than the
caches hold. meshlearn's first method avoids both: block Lanczos without restarts on one
factorisation, checked by a count of the eigenvalues below a shift (Sylvester's law of inertia)
so that no copy of a repeated eigenvalue is missed, and a Rayleigh-Ritz step that makes the basis
exactly M-orthonormal. When it fails, shift-invert ARPACK solves slices of the spectrum at the same
time in two processes, checked by the same counts; then a single shift-invert solve, then a dense
one.

The modules, one concept each:

* :mod:`.driver`: :func:`solve_eigenpairs`, input checks and the order of the fallbacks;
* :mod:`.factor`: factorisations of ``L - sigma M`` (CHOLMOD, SuperLU as a symmetric
  ``L D L^T``) and the count of eigenvalues below a shift;
* :mod:`.lanczos`: the block Lanczos iteration with partial reorthogonalisation;
* :mod:`.checked_lanczos`: the first method, the iteration checked by the counts;
* :mod:`.slicing`: the fallback, shift-invert ARPACK on slices of the spectrum, merged;
* :mod:`.workers`: the worker process for a second slice and the number of cores to use;
* :mod:`.components`: a shape in several pieces, one connected component at a time;
* :mod:`.dense`: the dense solve of small shapes and the Rayleigh-Ritz projection;
* :mod:`.residuals`: relative residuals, the accuracy measure.

Accuracy is measured by the relative residual ``||L x - lambda M x|| / (max(lambda, floor) ||M x||)``
(see :func:`relative_residuals`). The default ``tol=0`` converges block Lanczos to
``LANCZOS_TOL`` (residuals 1e-13 to 1e-11 after the Rayleigh-Ritz step) and asks ARPACK for
machine precision, as the reference preprocessing does; a ``tol`` above those loosens both.
"""

from .dense import dense_eigenpairs, rayleigh_ritz
from .driver import DENSE_LIMIT, DENSE_MAX, solve_eigenpairs
from .residuals import lambda_scale, relative_residuals
from .slicing import SliceResult

__all__ = [
    "DENSE_LIMIT",
    "DENSE_MAX",
    "SliceResult",
    "dense_eigenpairs",
    "lambda_scale",
    "rayleigh_ritz",
    "relative_residuals",
    "solve_eigenpairs",
]
