"""Exactly invariant spectral estimators (Soleymani, Tahmasebi, Jegelka and Jaillet, ICML 2025).

Letters: V vertices, K eigenpairs, D invariant dimension, n samples.

Both estimators expand their prediction in a basis of Laplacian eigenfunctions restricted to the
subspace fixed by the symmetry group's generators (see
:func:`meshlearn.geometry.invariant_basis.invariant_basis`): a least-squares fit constrained to
that subspace. With no symmetry maps they fit in the whole basis (the unconstrained estimator),
which makes the two directly comparable.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from ..geometry.invariant_basis import invariant_basis

__all__ = ["InvariantSpectralRegressor", "InvariantSpectralClassifier"]


def _basis(est) -> np.ndarray:
    evecs = np.asarray(est.evecs, dtype=np.float64)
    if est.n_basis is not None:
        evecs = evecs[:, : est.n_basis]
        evals = None if est.evals is None else np.asarray(est.evals)[: est.n_basis]
    else:
        evals = est.evals
    if not est.maps:
        return evecs
    return invariant_basis(evecs, est.mass, est.maps, evals=evals, signs=est.signs, polish=getattr(est, "polish", True))


class InvariantSpectralRegressor(RegressorMixin, BaseEstimator):
    """Regress a per-vertex function on one shape from its values at some vertices, exactly
    invariantly under a group of symmetries.

    Parameters
    ----------
    evecs : (V, K) M-orthonormal eigenvectors (of symmetry-invariant L, M for exactness)
    mass : (V,) lumped mass
    evals : (K,) eigenvalues, used to cluster degenerate eigenspaces
    maps : sequence of (V,) int vertex maps (the group's generators); empty = unconstrained
    signs : sequence of +1 / -1 per generator, optional (anti-invariant fits); default all +1
    n_basis : int, optional
        Use only the first ``n_basis`` eigenvectors. default: all
    alpha : float
        Ridge penalty on the coefficients. default: 1e-8
    polish : bool
        Finish the basis with the exact projection onto the functions fixed by the maps, so that
        the prediction is invariant under them to rounding (for any vertex maps, bijective or
        not). ``False`` keeps the smooth spectral basis of the estimated action alone: for a
        detected map on an approximately symmetric shape, whose errors the exact projection would
        spread (it averages over every chain ``i, T(i), T(T(i)), ...``), it is approximately
        invariant and often the better fit. default: True

    With maps that are not exact symmetries (a reflection detected on a posed or remeshed shape)
    the group's action on each eigenspace is estimated (see
    :mod:`meshlearn.geometry.approximate_action`).

    ``X`` holds vertex indices, shape (n,) or (n, 1); ``y`` (n,) targets.

    Examples
    --------
    >>> reg = InvariantSpectralRegressor(evecs, mass, evals, maps=[T]).fit(idx, y)  # doctest: +SKIP
    >>> f = reg.predict(np.arange(V))                                              # doctest: +SKIP
    """

    def __init__(self, evecs=None, mass=None, evals=None, maps=(), signs=None, n_basis=None, alpha=1e-8, polish=True):
        self.evecs = evecs
        self.mass = mass
        self.evals = evals
        self.maps = maps
        self.signs = signs
        self.n_basis = n_basis
        self.alpha = alpha
        self.polish = polish

    @staticmethod
    def _indices(X, V: int) -> np.ndarray:
        idx = np.asarray(X)
        if idx.ndim == 2 and idx.shape[1] == 1:
            idx = idx[:, 0]
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ConfigError(f"X must hold vertex indices, shape (n,) or (n, 1) integers (got {idx.dtype} {idx.shape})")
        if idx.size and (idx.min() < 0 or idx.max() >= V):
            raise ConfigError(f"vertex indices must lie in [0, {V}) (got [{idx.min()}, {idx.max()}])")
        return idx

    def fit(self, X, y):
        if self.evecs is None or self.mass is None:
            raise ConfigError("InvariantSpectralRegressor needs evecs and mass")
        self.basis_ = _basis(self)
        idx = self._indices(X, self.basis_.shape[0])
        y = np.asarray(y, dtype=np.float64)
        A = self.basis_[idx]
        D = A.shape[1]
        self.coef_ = np.linalg.solve(A.T @ A + self.alpha * np.eye(D), A.T @ y)
        self.n_features_in_ = 1
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return self.basis_[self._indices(X, self.basis_.shape[0])] @ self.coef_

    def function(self) -> np.ndarray:
        """The fitted function at every vertex, (V,) (or (V, C) for multi-output y)."""
        check_is_fitted(self, "coef_")
        return self.basis_ @ self.coef_


class InvariantSpectralClassifier(ClassifierMixin, BaseEstimator):
    """Classify per-vertex functions on a shape (one sample = one function, e.g. a descriptor
    field or a segmentation indicator) exactly invariantly under the shape's symmetry group.

    A sample ``f`` (V,) is described by its coefficients ``<f, psi_j>_M`` on the invariant basis
    ``psi``; since ``M`` and ``psi`` are invariant, ``f`` and ``f[T]`` have identical features and
    hence identical predictions. A logistic regression is fitted on those features.

    Parameters
    ----------
    evecs, mass, evals, maps, signs, n_basis : as in :class:`InvariantSpectralRegressor`
    C : float
        Inverse regularisation strength of the logistic regression. default: 1.0

    ``X`` (n, V) functions; ``y`` (n,) class labels.
    """

    def __init__(self, evecs=None, mass=None, evals=None, maps=(), signs=None, n_basis=None, C=1.0):
        self.evecs = evecs
        self.mass = mass
        self.evals = evals
        self.maps = maps
        self.signs = signs
        self.n_basis = n_basis
        self.C = C

    def _features(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        V = self.basis_.shape[0]
        if X.ndim != 2 or X.shape[1] != V:
            raise ConfigError(f"X must hold per-vertex functions, shape (n, {V}) (got {X.shape})")
        return X @ (np.asarray(self.mass)[:, None] * self.basis_)

    def fit(self, X, y):
        if self.evecs is None or self.mass is None:
            raise ConfigError("InvariantSpectralClassifier needs evecs and mass")
        self.basis_ = _basis(self)
        self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(self._features(X), y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = self.basis_.shape[0]
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.decision_function(self._features(X))

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(self._features(X))
