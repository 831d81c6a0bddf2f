"""The operator types: OperatorSpec, Operators, GaugeData, PatchData.

These are the contract between geometry, the cache, datasets and nets. This module imports
nothing of meshlearn but its errors, so every other module can import it without a cycle.

Letters: V vertices, F faces, K eigenpairs, E directed edges, P patch entries, T descriptor scales.

Operator kinds and the fields of :class:`Operators` they fill:

==============  =====================================================================================
``laplacian``   ``L`` (V, V) CSR, PSD weak Laplacian (not divided by mass); ``mass`` (V,) lumped mass
``spectral``    ``laplacian`` + ``evals`` (K,) ascending, ``evecs`` (V, K) M-orthonormal
``hks``         ``hks`` (V, T) heat kernel signature (needs ``spectral``)
``wks``         ``wks`` (V, T) wave kernel signature (needs ``spectral``)
``frames``      ``frames`` (V, 3, 3): rows x, y, n (right-handed; n outward, x towards a neighbour)
``gradients``   ``frames`` + ``grad_x``, ``grad_y`` (V, V) CSR: tangent gradient in each frame
``gauge``       ``frames`` + ``gauge``: GaugeData (edge_index (2, E), angle (E,), transport (E,))
``patches``     ``frames`` + ``patches``: PatchData (local geodesic polar coordinates)
``gauge_pool``  ``gauge`` + ``pool``: GaugePoolData (coarser levels for parallel-transport pooling)
``geodesics``   ``geodesics`` (V, V) float32 all-pairs geodesic distances (small shapes only)
==============  =====================================================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError

__all__ = [
    "GEOMETRY_VERSION",
    "OPERATOR_KINDS",
    "OPERATOR_FIELDS",
    "OperatorSpec",
    "Operators",
    "GaugeData",
    "GaugePoolData",
    "PatchData",
    "operator_closure",
]

#: Bump whenever a change in meshlearn.geometry changes any computed number: old cache files
#: then stop matching and are recomputed.
GEOMETRY_VERSION = "6"

# kind -> kinds it depends on
OPERATOR_DEPENDS: dict[str, tuple[str, ...]] = {
    "laplacian": (),
    "spectral": ("laplacian",),
    "hks": ("spectral",),
    "wks": ("spectral",),
    "frames": (),
    "gradients": ("frames",),
    "gauge": ("frames",),
    "patches": ("frames",),
    "gauge_pool": ("gauge",),
    "geodesics": (),
}
OPERATOR_KINDS: tuple[str, ...] = tuple(OPERATOR_DEPENDS)


def operator_closure(kinds: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    stack = list(kinds)
    while stack:
        kind = stack.pop()
        if kind not in OPERATOR_DEPENDS:
            raise ConfigError(
                f"unknown operator kind {kind!r}: expected one of {', '.join(OPERATOR_KINDS)}"
            )
        if kind not in out:
            out.add(kind)
            stack.extend(OPERATOR_DEPENDS[kind])
    return frozenset(out)


@dataclass(frozen=True)
class OperatorSpec:
    """Which operators to compute, and with which parameters. Frozen: it is part of the cache key.

    Parameters
    ----------
    operators : frozenset of str
        Operator kinds (see the module docstring); dependencies are added automatically.
    k : int
        Number of eigenpairs for ``spectral``. default: 128
    laplacian : {"robust", "cotan"}
        Laplacian discretisation. default: "robust" (tufted intrinsic Delaunay; works on
        non-manifold meshes and point clouds)
    n_hks, n_wks : int
        Number of HKS times / WKS energies. default: 16
    descriptor_grid : {"unit_area", "spectrum"}
        Where the HKS times and WKS energies lie (:mod:`meshlearn.geometry.spectral`):
        ``unit_area`` a fixed grid for the shape scaled to unit area, the same on every shape and
        for every k; ``spectrum`` each shape's own spectrum (older runs; a stored spec with HKS or
        WKS and no ``descriptor_grid`` reads as ``spectrum``). Part of the key only when HKS or WKS
        are asked for. default: "unit_area"
    knn : int
        Neighbours used on point clouds (gradients, gauge edges, normals). default: 16
    patch_radius : float
        Patch radius for ``patches``, as a fraction of sqrt(surface area) (of the bounding-box
        diagonal for point clouds). default: 0.05
    patch_max : int
        At most this many neighbours per patch (the nearest ones). default: 32
    dtype : {"float32", "float64"}
        Storage precision of every computed float array in :class:`Operators` and the cache
        (sparse matrices, gauge and patch angles included); ``verts`` stay float64 and
        ``geodesics`` float32. default: "float32"
    pool_levels : int
        Coarser levels for ``gauge_pool``. default: 2 (the three scales of GEM-CNN's multi-scale model)
    pool_ratio : float
        Fraction of a level's vertices that the next coarser level keeps. default: 0.25
    eigen_coarse : int
        0: exact eigenpairs. N > 0: approximate eigenpairs for shapes of more than 2 N vertices,
        solved on a copy simplified to about N vertices and interpolated back, then made exact
        within their span (:func:`~meshlearn.geometry.coarse_spectral.coarse_eigenbasis`; at
        164k vertices and N = 20000 about 3x faster, eigenvalues 0.6% high, 1.3% at most).
        Meshes only: point clouds are solved exactly. default: 0
    """

    operators: frozenset[str] = frozenset({"spectral"})
    k: int = 128
    laplacian: str = "robust"
    n_hks: int = 16
    n_wks: int = 16
    knn: int = 16
    patch_radius: float = 0.05
    patch_max: int = 32
    dtype: str = "float32"
    eigen_coarse: int = 0
    descriptor_grid: str = "unit_area"
    pool_levels: int = 2
    pool_ratio: float = 0.25

    def __post_init__(self) -> None:
        ops = self.operators
        if isinstance(ops, str):
            ops = [s for s in ops.replace(" ", "").split(",") if s]
        object.__setattr__(self, "operators", operator_closure(ops))
        if self.laplacian not in ("robust", "cotan"):
            raise ConfigError(f"laplacian must be 'robust' or 'cotan' (got {self.laplacian!r})")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be 'float32' or 'float64' (got {self.dtype!r})")
        for name in ("k", "n_hks", "n_wks", "knn", "patch_max"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be a positive integer (got {getattr(self, name)!r})")
        if not self.patch_radius > 0:
            raise ConfigError(f"patch_radius must be positive (got {self.patch_radius!r})")
        if self.descriptor_grid not in ("unit_area", "spectrum"):
            raise ConfigError(f"descriptor_grid must be 'unit_area' or 'spectrum' (got {self.descriptor_grid!r})")
        if int(self.pool_levels) < 1:
            raise ConfigError(f"pool_levels must be a positive integer (got {self.pool_levels!r})")
        if not 0.0 < float(self.pool_ratio) < 1.0:
            raise ConfigError(f"pool_ratio must be between 0 and 1 (got {self.pool_ratio!r})")
        if int(self.eigen_coarse) < 0:
            raise ConfigError(f"eigen_coarse must be 0 (exact) or a vertex count (got {self.eigen_coarse!r})")

    @classmethod
    def for_net(cls, net: Any, *, inputs: str = "xyz", **params: Any) -> "OperatorSpec":
        """The spec a network class (or instance) needs: its ``requires`` plus what ``inputs`` needs.

        ``inputs`` is ``"xyz"`` (nothing extra), ``"hks"`` or ``"wks"``.
        """
        requires = set(getattr(net, "requires", ()))
        # parameters a net instance needs, e.g. GemCNN(scales=3) -> pool_levels=2; explicit ones win
        params = {**dict(getattr(net, "operator_params", None) or {}), **params}
        if not requires:
            raise ConfigError(f"{net!r} declares no `requires` set of operator kinds")
        if inputs in ("hks", "wks"):
            requires.add(inputs)
        elif inputs != "xyz":
            raise ConfigError(f"inputs must be 'xyz', 'hks' or 'wks' (got {inputs!r})")
        return cls(operators=frozenset(requires), **params)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["operators"] = sorted(self.operators)
        if not d["eigen_coarse"]:  # exact: left out, so that caches written before it existed stay valid
            del d["eigen_coarse"]
        if not self.operators & {"hks", "wks"}:  # no descriptors: keys of spectral-only specs unchanged
            del d["descriptor_grid"]
        if "gauge_pool" not in self.operators:  # likewise the pooling parameters when not used
            del d["pool_levels"], d["pool_ratio"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OperatorSpec":
        d = dict(d)
        d["operators"] = frozenset(d.get("operators", ()))
        if d["operators"] & {"hks", "wks"} and "descriptor_grid" not in d:
            d["descriptor_grid"] = "spectrum"  # stored before the fixed grid existed
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def key(self) -> str:
        """A short stable hash of the spec and the geometry version."""
        blob = json.dumps({"spec": self.to_dict(), "version": GEOMETRY_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def same_params(self, other: "OperatorSpec") -> bool:
        """True when both specs agree on every parameter except the operator kinds and k (and the
        descriptor grid, unless both hold HKS or WKS)."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        skip = {"operators", "k"}
        descriptors = {"hks", "wks"}
        if not (self.operators & descriptors and other.operators & descriptors):
            skip.add("descriptor_grid")  # it only matters where both hold descriptors
        return all(mine[n] == theirs[n] for n in mine if n not in skip)

    def covers(self, other: "OperatorSpec") -> bool:
        """True when operators computed with this spec answer ``other``: a superset of its kinds,
        the same parameters, at least ``other.k`` eigenpairs, and exactly ``other.k`` when
        ``other`` asks for HKS or WKS (descriptors sum over the eigenpairs they were given)."""
        if not (other.operators <= self.operators and self.same_params(other)):
            return False
        if other.operators & {"hks", "wks"}:
            return self.k == other.k
        return "spectral" not in other.operators or self.k >= other.k

    def union(self, other: "OperatorSpec") -> "OperatorSpec":
        """This spec with the operators of ``other`` added and the larger k.

        When the two k differ and HKS or WKS are involved the result covers only one of them;
        check with :meth:`covers`.
        """
        return dataclasses.replace(
            self, operators=self.operators | other.operators, k=max(self.k, other.k)
        )


def to_torch(value: Any, device: Any, dtype: Any) -> Any:
    import torch

    if value is None:
        return None
    if sp.issparse(value):
        coo = value.tocoo()
        idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        vals = torch.from_numpy(np.asarray(coo.data)).to(dtype)
        return torch.sparse_coo_tensor(idx, vals, coo.shape, check_invariants=False).coalesce().to(device)
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)
    if isinstance(value, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(value))
        if t.is_floating_point():
            t = t.to(dtype)
        return t.to(device)
    if hasattr(value, "to") and dataclasses.is_dataclass(value):
        return value.to(device, dtype)
    return value


@dataclass
class GaugeData:
    """What gauge-equivariant convolutions need, per directed edge e = (p, q) (p = edge_index[0, e]).

    edge_index : (2, E) int64
        Every directed mesh edge (both directions), or k-nearest-neighbour edges on a point cloud.
    angle : (E,) float
        Direction of q in p's tangent frame, radians, counter-clockwise about p's normal from x_p.
    transport : (E,) float
        Levi-Civita parallel-transport angle: rotating a tangent vector expressed in q's frame by
        this angle expresses its transport along the edge in p's frame.
    """

    edge_index: Any
    angle: Any
    transport: Any

    def to(self, device: Any = "cpu", dtype: Any = None) -> "GaugeData":
        import torch

        dtype = dtype or torch.float32
        return GaugeData(*(to_torch(getattr(self, f.name), device, dtype) for f in dataclasses.fields(self)))


@dataclass
class GaugePoolData:
    """Coarser levels of a shape and the parallel-transport pooling between them (levels 0..S,
    level 0 the shape itself; see :mod:`meshlearn.geometry.pooling` for the definitions).

    Per-level arrays are concatenated over the levels; :meth:`level` slices them.

    n_verts : (S + 1,) int64
        V_k, the vertices of every level.
    n_edges : (S,) int64
        E_k, the directed edges of levels 1..S.
    index : (V_1 + ... + V_S,) int64
        The vertices of level k as indices into level k - 1 (they keep those vertices' frames).
    cluster : (V_0 + ... + V_{S-1},) int64
        For every vertex of level k - 1, the vertex of level k it pools into (index in level k).
    pool_transport : same shape, float
        Angle rotating a tangent vector in the vertex's frame into its cluster vertex's frame
        (composed Levi-Civita transport along the shortest path between them).
    weight : same shape, float
        Pooling weight: the vertex's share of its cluster's area; sums to 1 over each cluster.
    edge_index : (2, E_1 + ... + E_S) int64
        The edges of levels 1..S (indices within their level), sorted by source then target.
    angle, transport : (E_1 + ... + E_S,) float
        Gauge data of those edges, with the conventions of :class:`GaugeData`.
    """

    n_verts: Any
    n_edges: Any
    index: Any
    cluster: Any
    pool_transport: Any
    weight: Any
    edge_index: Any
    angle: Any
    transport: Any

    @property
    def n_levels(self) -> int:
        """S, the number of coarser levels."""
        return len(self.n_edges)

    def level(self, k: int) -> tuple[Any, Any, Any, Any, GaugeData]:
        """Level ``k`` (1..S): ``(index, cluster, pool_transport, weight, gauge)``, where the
        first four describe the pooling from level k - 1 into level k and ``gauge`` is level
        k's :class:`GaugeData`."""
        nv = [int(n) for n in self.n_verts]
        ne = [int(n) for n in self.n_edges]
        if not 1 <= k <= len(ne):
            raise ConfigError(f"the pooling data have levels 1..{len(ne)} (asked for level {k})")
        v0, v1 = sum(nv[1:k]), sum(nv[1 : k + 1])
        f0, f1 = sum(nv[: k - 1]), sum(nv[:k])
        e0, e1 = sum(ne[: k - 1]), sum(ne[:k])
        gauge = GaugeData(self.edge_index[:, e0:e1], self.angle[e0:e1], self.transport[e0:e1])
        return self.index[v0:v1], self.cluster[f0:f1], self.pool_transport[f0:f1], self.weight[f0:f1], gauge

    def to(self, device: Any = "cpu", dtype: Any = None) -> "GaugePoolData":
        import torch

        dtype = dtype or torch.float32
        out = {f.name: to_torch(getattr(self, f.name), device, dtype) for f in dataclasses.fields(self)}
        # the sizes stay on the host: slicing by them needs no device synchronisation
        out["n_verts"] = tuple(int(n) for n in self.n_verts)
        out["n_edges"] = tuple(int(n) for n in self.n_edges)
        return GaugePoolData(**out)


@dataclass
class PatchData:
    """Local geodesic polar coordinates of the neighbours within a radius of every vertex.

    edge_index : (2, P) int64
        Pairs (centre, neighbour); the centre itself is included with radius 0.
    radius : (P,) float
        Geodesic distance from the centre.
    angle : (P,) float
        Direction of the neighbour in the centre's tangent frame, radians, counter-clockwise.
    max_radius : float
        The patch radius used (absolute units).
    """

    edge_index: Any
    radius: Any
    angle: Any
    max_radius: float = 0.0

    def to(self, device: Any = "cpu", dtype: Any = None) -> "PatchData":
        import torch

        dtype = dtype or torch.float32
        return PatchData(
            to_torch(self.edge_index, device, dtype),
            to_torch(self.radius, device, dtype),
            to_torch(self.angle, device, dtype),
            float(self.max_radius),
        )


@dataclass
class Operators:
    """The operators of one shape. numpy / scipy in the geometry layer; :meth:`to` gives torch.

    Fields not asked for by the spec are ``None``. See the module docstring for each field.
    """

    verts: Any
    faces: Any = None
    L: Any = None
    mass: Any = None
    evals: Any = None
    evecs: Any = None
    hks: Any = None
    wks: Any = None
    frames: Any = None
    grad_x: Any = None
    grad_y: Any = None
    gauge: GaugeData | None = None
    patches: PatchData | None = None
    pool: GaugePoolData | None = None
    geodesics: Any = None
    spec: OperatorSpec | None = None
    shape_hash: str = ""

    @property
    def n_verts(self) -> int:
        return int(self.verts.shape[0])

    def to(self, device: Any = "cpu", dtype: Any = None) -> "Operators":
        """A copy with every array as a torch tensor on ``device`` (floats in ``dtype``,
        default float32; sparse matrices as coalesced sparse COO tensors)."""
        import torch

        dtype = dtype or torch.float32
        kwargs = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kwargs[f.name] = value if f.name in ("spec", "shape_hash") else to_torch(value, device, dtype)
        return Operators(**kwargs)

    def restrict(self, spec: OperatorSpec) -> "Operators":
        """These operators trimmed to ``spec`` (fewer eigenpairs; kinds not asked for dropped)."""
        out = dataclasses.replace(self, spec=spec)
        if "spectral" in spec.operators and self.evecs is not None:
            out.evals = self.evals[: spec.k]
            out.evecs = self.evecs[:, : spec.k]
        for kind, names in OPERATOR_FIELDS.items():
            if kind not in spec.operators:
                for name in names:
                    if name not in ("verts", "faces"):
                        setattr(out, name, None)
        return out


OPERATOR_FIELDS: dict[str, tuple[str, ...]] = {
    "laplacian": ("L", "mass"),
    "spectral": ("evals", "evecs"),
    "hks": ("hks",),
    "wks": ("wks",),
    "frames": ("frames",),
    "gradients": ("grad_x", "grad_y"),
    "gauge": ("gauge",),
    "patches": ("patches",),
    "gauge_pool": ("pool",),
    "geodesics": ("geodesics",),
}
