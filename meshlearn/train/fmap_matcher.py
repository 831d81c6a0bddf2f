"""Pointwise maps between two shapes with a trained functional-map run (evaluation and ``meshlearn match``).

Letters: V vertices (``Va``, ``Vb``), D descriptor channels, K eigenpairs, N sampled vertices.

Direction: :meth:`FmapMatcher.map` returns ``T : (Va,) int64``, for every vertex of A a vertex of
B (0-based), the map under which a point of A is sent to B. (The correspondence modules'
convention is the other way round, ``T : (Vb,)`` into A; this map is theirs for the pair (B, A):
the functional map that takes functions on B to A, converted to points by nearest neighbours in
B's spectral embedding.)

Steps for a pair (A, B):

1. each shape is prepared once (:meth:`FmapMatcher.prepare`): its operators with the run's
   :class:`~meshlearn.geometry.operators.OperatorSpec`, the run's input features, the network's
   descriptors (computed once however many pairs the shape is in), and a farthest-point sample of
   ``refine_points`` vertices for the refinement;
2. optionally, ``adapt_steps`` Adam steps of test-time adaptation of a copy of the network to the
   pair (:func:`~meshlearn.correspondence.adapt_to_pair`), whose descriptors then replace the shapes';
3. the run's solver gives the functional map on ``fmap_k`` eigenpairs (or, with ``source="soft"``,
   the functional map of the soft pointwise map), converted to the initial pointwise map;
4. refinement (on by default): ZoomOut from ``fmap_k`` to ``k_refine`` eigenpairs (default all
   the run computes, its ``--k``), ``refine_step`` at a time, iterating between the sampled
   vertices, then ``refine_full`` iterations and the last conversion at full resolution
   (:func:`~meshlearn.correspondence.zoomout`);
5. unless ``fix_flips`` is off, when B has a detected left-right reflection S, the maps are replaced
   by their mirror images ``S o T`` if those agree better with the surfaces' orientation
   (:mod:`~meshlearn.correspondence.orientation`: oriented area forms of WKS gradients, which a
   reflection negates); each shape's WKS, gradients and reflection are computed once, in
   :meth:`FmapMatcher.prepare`.

Memory per pair is O((Va + Vb) K) plus one ``chunk x Va`` block of distances: no (Va, Vb) matrix
is formed. Time per pair is about ``Va Vb fmap_k + (k_refine - fmap_k) / refine_step N^2 k_refine
+ (1 + refine_full) Va Vb k_refine`` multiply-adds.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError, InvalidMeshError, where
from ..geometry.operators import OperatorSpec
from .model import input_features

__all__ = ["FmapMatcher", "PreparedShape", "PairMap", "fmap_checkpoint", "load_matching_run", "match_files", "DEFAULT_REFINE_POINTS"]

log = logging.getLogger(__name__)

#: vertices of each shape that ZoomOut's iterations run on by default
DEFAULT_REFINE_POINTS = 1000

#: eigenpairs of the reflection search behind ``fix_flips``: fewer than ``detect_reflections``'
#: default, so that the eigenpairs computed for the orientation data (the run's ``k``, 128 by
#: default) serve the search without a second solve
REFLECTION_K = 80


def fmap_checkpoint(run_dir: str | os.PathLike, checkpoint: str | None = None) -> bool:
    """Whether the run's checkpoint holds a functional-map model: a correspondence run whose
    ``meta["method"]`` is a functional-map method (checkpoints without it predate those methods and
    hold template models)."""
    from .checkpoint import checkpoint_path, config_of, load_checkpoint
    from .fmap_model import FMAP_METHODS, is_fmap_run

    run = Path(run_dir)
    if not run.is_dir():
        raise CheckpointError(f"{run}: no such run folder; give the --out folder of `meshlearn train`")
    path = checkpoint_path(run, checkpoint)
    state = load_checkpoint(path)
    return is_fmap_run(config_of(state, path)) and state.get("meta", {}).get("method") in FMAP_METHODS


def load_matching_run(run_dir: str | os.PathLike, checkpoint: str | None = None, device: Any = "cpu"):
    """(config, meta, DeepFunctionalMap) of a functional-map run, with errors that name the run
    folder and the fix when it is missing or is not a functional-map run."""
    from .checkpoint import checkpoint_path
    from .fmap_model import load_fmap_run

    if not fmap_checkpoint(run_dir, checkpoint):
        raise ConfigError(
            f"{checkpoint_path(run_dir, checkpoint)}: not a functional-map run; matching shapes needs a run trained "
            "with --task correspondence --method fmap-unsupervised (or fmap-supervised)"
        )
    return load_fmap_run(run_dir, checkpoint, device)


@dataclass
class PreparedShape:
    """One shape ready for matching: torch operators on the device, inputs, descriptors, samples.

    name : str, the file or shape name used in messages
    ops : Operators (torch)
    x : (V, C) network inputs
    desc : (V, D) descriptors of the run's network (None when each pair adapts the network)
    points : (N,) int64 vertices ZoomOut iterates on (None without refinement)
    orientation : with ``fix_flips``, (oriented WKS pairs ``(V, P)``, vertex areas ``(V,)``, the
        detected reflection ``(V,)`` or None): see :mod:`meshlearn.correspondence.orientation`
    """

    name: str
    ops: Any
    x: torch.Tensor
    desc: torch.Tensor | None
    points: torch.Tensor | None
    orientation: Any = None  # (chi (V, P), mass (V,), reflection (V,) or None) with fix_flips

    @property
    def n_verts(self) -> int:
        return int(self.x.shape[0])


@dataclass
class PairMap:
    """The maps of one pair A -> B: ``initial`` from the network's functional map and ``refined``
    after ZoomOut (None without refinement), each ``(Va,) int64`` numpy, vertices of B; with
    ``fix_flips``, both are the mirror images when ``flipped``."""

    initial: np.ndarray
    refined: np.ndarray | None
    flipped: bool = False  # fix_flips replaced the map by its mirror image on B

    @property
    def final(self) -> np.ndarray:
        return self.initial if self.refined is None else self.refined


class FmapMatcher:
    """Pointwise maps between shapes from a functional-map run (see the module docstring).

    Parameters
    ----------
    config : TrainConfig
    meta : dict
        The checkpoint's ``meta`` (``spec``, ``fmap_k``).
    model : DeepFunctionalMap, in eval mode
    device : str or torch.device
        default: "cpu"
    refine : bool
        ZoomOut refinement. default: True
    k_refine : int, optional
        Eigenpairs ZoomOut ends at; at most the run's ``--k``. default: the run's ``--k``
    refine_step : int
        Eigenpairs added per ZoomOut iteration. default: 1
    refine_points : int
        Vertices of each shape (farthest-point sampled) the ZoomOut iterations run on; 0 runs them
        on all vertices (Va Vb K per iteration). default: 1000
    refine_full : int
        With samples: ZoomOut iterations at ``k_refine`` between all vertices after the sampled
        ones (they remove most of the samples' spacing from the map). default: 2
    adapt_steps : int
        Test-time adaptation steps per pair. default: 0
    adapt_lr : float
        default: 1e-3
    source : {"solver", "soft"}
        The functional map made into points: the solver's or the soft map's. default: "solver"
    """

    def __init__(
        self,
        config: Any,
        meta: dict,
        model: Any,
        *,
        device: Any = "cpu",
        refine: bool = True,
        k_refine: int | None = None,
        refine_step: int = 1,
        refine_points: int = DEFAULT_REFINE_POINTS,
        refine_full: int = 2,
        adapt_steps: int = 0,
        adapt_lr: float = 1e-3,
        source: str = "solver",
        fix_flips: bool = True,
    ) -> None:
        from ..correspondence.matching import SOURCES

        self.config, self.meta, self.model = config, meta, model
        self.device = torch.device(device)
        self.spec = OperatorSpec.from_dict(meta["spec"])
        self.fmap_k = int(model.k)
        if source not in SOURCES:
            raise ConfigError(f"source must be one of {', '.join(SOURCES)} (got {source!r})")
        if int(adapt_steps) < 0:
            raise ConfigError(f"--adapt-steps must be 0 or more (got {adapt_steps})")
        if int(refine_step) < 1:
            raise ConfigError(f"the refinement step must be at least 1 eigenpair (got {refine_step})")
        if int(refine_points) < 0:
            raise ConfigError(f"the refinement's sample size must be 0 (all vertices) or more (got {refine_points})")
        self.k_refine: int | None = None
        if refine:
            k = int(self.spec.k if k_refine is None else k_refine)
            if k > self.spec.k:
                raise ConfigError(
                    f"refinement to {k} eigenpairs, but the run computes {self.spec.k} per shape (its --k); "
                    f"pass --refine-k {self.spec.k} or fewer, or --no-refine"
                )
            if k <= self.fmap_k:
                if k_refine is not None:
                    raise ConfigError(
                        f"refinement to {k} eigenpairs is no refinement: the run's functional maps already use "
                        f"{self.fmap_k} (--fmap-k); pass --refine-k above {self.fmap_k}, or --no-refine"
                    )
                log.warning("no refinement: the run computes %d eigenpairs per shape, its maps use %d", self.spec.k, self.fmap_k)
            else:
                self.k_refine = k
        if int(refine_full) < 0:
            raise ConfigError(f"refine_full must be 0 or more iterations (got {refine_full})")
        self.refine_step, self.refine_points, self.refine_full = int(refine_step), int(refine_points), int(refine_full)
        self.adapt_steps, self.adapt_lr, self.source = int(adapt_steps), float(adapt_lr), source
        self.fix_flips = bool(fix_flips)

    @property
    def refines(self) -> bool:
        return self.k_refine is not None

    def operators(self, shape: Any, cache: Any = None) -> Any:
        """The shape's operators (numpy) with the run's spec, read from / written to ``cache``."""
        from ..geometry.operators import compute_operators

        return compute_operators(shape, self.spec, cache=cache)

    def prepare(self, shape: Any, ops: Any, name: str | None = None) -> PreparedShape:
        """A shape and its operators (numpy, or torch) ready for :meth:`map`.

        Raises
        ------
        InvalidMeshError
            The shape has fewer eigenpairs than the functional maps (``fmap_k``) or the
            refinement (``k_refine``) need (a shape with fewer vertices than that).
        """
        label = name or getattr(shape, "source", None) or getattr(shape, "name", None) or "shape"
        n_eig = 0 if getattr(ops, "evecs", None) is None else int(ops.evecs.shape[1])
        need, what, fix = self.fmap_k, "the run's functional maps use", "match shapes with more vertices"
        if self.k_refine is not None and n_eig >= self.fmap_k:
            need, what, fix = self.k_refine, "the refinement needs", f"pass --refine-k {n_eig} (or less) or --no-refine"
        if n_eig < need:
            raise InvalidMeshError(
                f"{where(label)}has {n_eig} eigenpairs ({shape.n_verts} vertices) but {what} {need}; {fix}"
            )
        o = ops.to(self.device)
        x = input_features(o, self.config.inputs)
        desc = None
        if not self.adapt_steps:
            with torch.no_grad():
                desc = self.model.descriptors(x, o)
        points = None
        if self.k_refine is not None and 0 < self.refine_points < shape.n_verts:
            from ..geometry.pooling import farthest_point_sampling

            n = max(self.refine_points, 2 * self.k_refine)
            points = torch.from_numpy(farthest_point_sampling(np.asarray(shape.verts), n)).to(self.device)
        prepared = PreparedShape(str(label), o, x, desc, points)
        if self.fix_flips:
            prepared.orientation = _orientation_data(shape, self.spec)
        return prepared

    def _orient(self, a: PreparedShape, b: PreparedShape, pair: PairMap) -> PairMap:
        """``pair``, or its mirror image on B when that agrees better with the orientation
        (``fix_flips``, when a reflection of B was detected)."""
        from ..correspondence.orientation import choose_orientation

        if not self.fix_flips or a.orientation is None or b.orientation is None or b.orientation[2] is None:
            return pair
        (chi_a, mass_a, _), (chi_b, _, reflection) = a.orientation, b.orientation
        _, flipped, _, _ = choose_orientation(pair.final, reflection, chi_a, chi_b, mass_a)
        if not flipped:
            return pair
        refined = None if pair.refined is None else reflection[pair.refined]
        return PairMap(reflection[pair.initial], refined, flipped=True)

    @torch.no_grad()
    def map(self, a: PreparedShape, b: PreparedShape) -> PairMap:
        """The map A -> B: ``(Va,)`` vertices of B, before and after refinement."""
        from ..correspondence import adapt_to_pair, fmap_to_pointwise, zoomout

        model, da, db = self.model, a.desc, b.desc
        if self.adapt_steps:
            model = adapt_to_pair(self.model, b.x, b.ops, a.x, a.ops, steps=self.adapt_steps, lr=self.adapt_lr)
            da, db = model.descriptors(a.x, a.ops), model.descriptors(b.x, b.ops)
        # the pair (B, A) in the correspondence modules' convention: C takes functions on B to A,
        # and its pointwise map sends every vertex of A to one of B
        maps = model.maps(db, b.ops, da, a.ops, soft=self.source == "soft")
        C = (maps.C_ab if self.source == "solver" else maps.C_ab_soft)[0]
        eb, ea = b.ops.evecs.to(C.dtype), a.ops.evecs.to(C.dtype)
        initial = fmap_to_pointwise(C, eb, ea, chunk=model.chunk)
        refined = None
        if self.k_refine is not None:
            points = None
            if a.points is not None or b.points is not None:
                points = (_all_if_none(b), _all_if_none(a))
            _, refined = zoomout(C, eb, ea, a.ops.mass, k_final=self.k_refine, step=self.refine_step,
                                 chunk=model.chunk, points=points, full_iterations=self.refine_full)
            refined = refined.cpu().numpy()
        return self._orient(a, b, PairMap(initial.cpu().numpy(), refined))


def _orientation_data(shape: Any, spec: OperatorSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(oriented WKS pairs (V, P), vertex areas (V,), detected reflection (V,) or None) of a shape:
    128 unit-area WKS energies and the tangent gradients, on the run's Laplacian."""
    from ..correspondence.orientation import oriented_descriptor_pairs
    from ..errors import MeshlearnError
    from ..geometry.operators import compute_operators
    from ..geometry.symmetry import detect_reflections

    o = compute_operators(shape, OperatorSpec(operators=frozenset({"wks", "gradients"}), k=spec.k, n_wks=128,
                                              laplacian=spec.laplacian, knn=spec.knn, dtype="float64"))
    chi = oriented_descriptor_pairs(o.wks, o.grad_x, o.grad_y, o.mass)
    # the search's own basis (REFLECTION_K + 1 eigenpairs of the robust Laplacian) is the start of
    # these eigenpairs when they come from that Laplacian and are enough: no second eigensolve
    basis = {}
    if spec.laplacian == "robust" and o.evecs.shape[1] > REFLECTION_K:
        basis = dict(evals=o.evals[: REFLECTION_K + 1], evecs=o.evecs[:, : REFLECTION_K + 1], mass=o.mass)
    reflection = None
    try:
        found = detect_reflections(shape, k=REFLECTION_K, **basis)
        if found:
            reflection = np.asarray(found[0].vertex_map, dtype=np.int64)
        else:
            log.info("%s: no reflection, its maps are kept as they are (%s)", shape.name, found.message)
    except MeshlearnError as e:
        log.warning("%s: no symmetry detection (%s); its maps are kept as they are", shape.name, e)
    return chi, np.asarray(o.mass, dtype=np.float64), reflection


def _all_if_none(p: PreparedShape) -> torch.Tensor:
    if p.points is not None:
        return p.points
    return torch.arange(p.n_verts, device=p.x.device)


def match_files(
    path_a: str | os.PathLike,
    path_b: str | os.PathLike,
    run_dir: str | os.PathLike,
    *,
    checkpoint: str | None = None,
    device: Any = "cpu",
    **matching: Any,
) -> tuple[np.ndarray, Any, Any]:
    """The map from the shape in ``path_a`` onto the shape in ``path_b`` with the run in ``run_dir``.

    Both files are read as the run's training shapes are (:func:`meshlearn.load`, never cleaned,
    the run's normalisation): meshes, meshes with several components or boundaries, and point
    clouds alike (the run's Laplacian, robust by default, works on all of them). Their operators
    are computed with the run's spec and kept in the run's operator cache. ``matching`` holds
    :class:`FmapMatcher`'s options.

    Returns
    -------
    T : (Va,) int64, for every vertex of A (0-based) a vertex of B (0-based)
    shape_a, shape_b : Shape, as loaded (normalised)
    """
    from ..cache import OperatorCache
    from ..datasets.readers import load_shape

    config, meta, model = load_matching_run(run_dir, checkpoint, device)
    matcher = FmapMatcher(config, meta, model, device=device, **matching)
    cache = OperatorCache(config.cache or Path(run_dir) / "cache")
    prepared, shapes = [], []
    for path in (path_a, path_b):
        shape = load_shape(path, config.normalize)
        ops = matcher.operators(shape, cache)
        shapes.append(shape)
        prepared.append(matcher.prepare(shape, ops, str(path)))
    return matcher.map(prepared[0], prepared[1]).final, shapes[0], shapes[1]
