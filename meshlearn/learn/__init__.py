"""Classical (non-deep) estimators on surfaces, with scikit-learn's fit / predict conventions.

They live apart from ``meshlearn.nets`` (torch modules trained by ``meshlearn.train``) because they
are closed-form numpy estimators: no torch, no training loop, usable in a scikit-learn pipeline.
"""

from .invariant import InvariantSpectralClassifier, InvariantSpectralRegressor

__all__ = ["InvariantSpectralClassifier", "InvariantSpectralRegressor"]
