"""Synthetic scans of body families for shape correspondence, in the FAUST_r / SCAPE_r layout.

Each family (:mod:`meshlearn.datasets.body_families`) has its own template: the canonical body
remeshed once on the family's own grid and shown in the family's base proportions. A shape is

1. the canonical rest surface remeshed on its own (marching cubes on a randomly rotated grid with
   random offset and a slightly anisotropic spacing chosen for a vertex count drawn log-uniformly
   in ``vertices``, checked and corrected to within 4 %);
2. moved by the generator's known map (:class:`ScanDeformation`): local bulges along the normal,
   a small anisotropic stretch, the identity's proportions with a little "breathing" of the girths,
   a random pose by blend skinning, then a random rigid motion (any rotation, or about the vertical
   only with ``upright``) and translation;
3. noised along its normals like a scan.

Ground truth is exact to the generator: line i of ``<name>.vts`` is the 1-based vertex of the
shape whose canonical rest position is nearest to the canonical position of template point i;
``<name>.sym.vts`` the same for the mirror image (x -> -x) of that position (the canonical body
is exactly left-right symmetric; posed identities are not, as real people are not).

Letters: V vertices of a shape, F faces, T template points, J parts, B bulges.

On disk (:func:`write_scan_dataset`), in the ``faust_r`` layout
:func:`meshlearn.datasets.read_dataset` reads::

    DIR/template.ply, DIR/template_labels.txt   the family template (base person at rest), part labels
    DIR/parts.txt                               part names
    DIR/family.json                             the family, every identity's proportions and split
    DIR/shapes.csv                              name, split, identity, vertex count
    DIR/test_pairs.txt                          every unordered pair of test shapes, "name_a name_b"
    DIR/{train,test}/off/<name>.off             the shape
    DIR/{train,test}/corres/<name>.vts          template point i -> 1-based vertex (T lines)
    DIR/{train,test}/corres/<name>.sym.vts      mirror image of template point i -> 1-based vertex

Shapes of family ``faust`` are named ``faust_<identity>_<pose>``; with two or more identities the
test split holds the last ``round(test_fraction * identities)`` identities, never seen in
training. A one-identity family (``scape``: ``scape_<pose>``) splits by shape.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ..errors import ConfigError
from ..geometry.frames import normals
from ..geometry.rotations import random_rotation
from ..io import save
from ..shape import Shape
from .body import PART_NAMES, Body, Pose, random_pose
from .body_families import BodyFamily, Proportions, draw_identity, family
from .synthetic import body_marching_cubes

__all__ = [
    "FamilyTemplate",
    "ScanDeformation",
    "SyntheticScan",
    "make_family_template",
    "generate_scan",
    "scan_dataset_plan",
    "write_scan_dataset",
    "DEFAULT_VERTICES",
    "PlannedShape",
    "surface_normals",
]

log = logging.getLogger(__name__)

#: Default range of vertex counts per shape (each drawn log-uniformly in it).
DEFAULT_VERTICES: tuple[int, int] = (2000, 15000)

_MIRROR = np.array([-1.0, 1.0, 1.0])
_COUNT_TOLERANCE = 0.04  # relative; the grid is refined until the count is this close to the target


@dataclass
class FamilyTemplate:
    """A family's template: the points every ``.vts`` of the family refers to.

    family : BodyFamily
    canonical : (T, 3) float64
        Template points on the canonical body's rest surface.
    verts : (T, 3) float64
        The same points on the family's base person at rest (what ``template.ply`` shows).
    faces : (F_t, 3) int64
    labels : (T,) int64
        Part labels.
    density : float
        Marching-cubes vertices per unit area at unit spacing on the canonical body (``V * h**2``).
    """

    family: BodyFamily
    canonical: np.ndarray
    verts: np.ndarray
    faces: np.ndarray
    labels: np.ndarray
    density: float

    @property
    def n_points(self) -> int:
        return int(self.canonical.shape[0])


@dataclass(frozen=True)
class ScanDeformation:
    """The generator's map from canonical rest points to a written shape (before the scan noise).

    pose : Pose
        Joint angles and the identity's proportions (with this shape's breathing).
    bulge_centres : (B, 3) float64, bulge_heights : (B,) float64, bulge_widths : (B,) float64
        Gaussian bumps along the outward normal at rest, centred on template points (metres;
        negative heights are dents).
    stretch : (3, 3) float64
        Symmetric near-identity matrix applied at rest about the pelvis.
    rotation : (3, 3) float64, translation : (3,) float64
        The final rigid motion ``x -> rotation @ x + translation``.
    """

    pose: Pose
    bulge_centres: np.ndarray
    bulge_heights: np.ndarray
    bulge_widths: np.ndarray
    stretch: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, body: Body, pts: np.ndarray) -> np.ndarray:
        """(N, 3) positions on the shape of canonical rest-surface points ``pts`` (N, 3)."""
        pts = np.asarray(pts, dtype=np.float64)
        x = pts + surface_normals(body, pts) * self.bulge(pts)[:, None]
        pelvis = body.joints[0]
        x = pelvis + (x - pelvis) @ self.stretch.T
        posed = body.pose_points(x, body.skinning_weights(pts), self.pose)
        return posed @ self.rotation.T + self.translation

    def bulge(self, pts: np.ndarray) -> np.ndarray:
        """(N,) normal displacement of the bulges at canonical points ``pts``."""
        d2 = ((pts[:, None, :] - self.bulge_centres[None]) ** 2).sum(-1)
        return (self.bulge_heights * np.exp(-d2 / (2.0 * self.bulge_widths**2))).sum(1)


@dataclass
class SyntheticScan:
    """One generated shape and its ground truth.

    shape : Shape
        The written mesh.
    canonical : (V, 3) float64
        Each vertex's position on the canonical rest surface.
    vts : (T,) int64
        0-based vertex nearest (canonically) to each template point.
    sym_vts : (T,) int64
        0-based vertex nearest (canonically) to the mirror image of each template point.
    labels : (V,) int64
        Part labels.
    deformation : ScanDeformation
    identity : int
        Index of the person in the dataset.
    target_vertices : int
        The vertex count drawn for this shape.
    """

    shape: Shape
    canonical: np.ndarray
    vts: np.ndarray
    sym_vts: np.ndarray
    labels: np.ndarray
    deformation: ScanDeformation
    identity: int
    target_vertices: int


def surface_normals(body: Body, pts: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """(N, 3) unit outward normals of the body's implicit surface at ``pts`` (central differences)."""
    g = np.zeros((len(pts), 3))
    for k in range(3):
        e = np.zeros(3)
        e[k] = eps
        g[:, k] = body.sdf(pts + e) - body.sdf(pts - e)
    return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-300)


def _density(body: Body, rot: np.ndarray, h: float) -> float:
    v, _ = body_marching_cubes(body, rot, np.full(3, h), np.full(3, 0.5 * h))
    return v.shape[0] * h**2


def make_family_template(fam: BodyFamily | str, n_points: int | None = None) -> FamilyTemplate:
    """The template of family ``fam`` (a name or a :class:`BodyFamily`).

    Parameters
    ----------
    n_points : int, optional
        Approximate template size. default: the family's ``template_vertices``
    """
    fam = family(fam) if isinstance(fam, str) else fam
    n_points = int(n_points or fam.template_vertices)
    if n_points < 300:
        raise ConfigError(f"a family template needs at least 300 points for a recognisable body (got {n_points})")
    body = Body()
    rng = np.random.default_rng(fam.template_seed)
    rot = random_rotation(rng)
    h0 = 0.04
    density = _density(body, rot, h0)
    verts = faces = None
    for _ in range(4):
        h = float(np.sqrt(density / n_points))
        verts, faces = body_marching_cubes(body, rot, np.full(3, h), np.full(3, 0.5 * h))
        density = verts.shape[0] * h**2
        if abs(verts.shape[0] / n_points - 1.0) < _COUNT_TOLERANCE:
            break
    base = Pose(rotations=np.zeros((body.n_parts, 3)), **fam.base.scales(body))
    shown = body.pose_points(verts, body.skinning_weights(verts), base)
    return FamilyTemplate(fam, verts, shown, faces, body.labels(verts), density)


def _draw_deformation(body: Body, identity: Proportions, template: FamilyTemplate, rng: np.random.Generator,
                      upright: bool, breathing: float, bulges: float, stretch: float) -> ScanDeformation:
    rot = random_pose(body, rng, template.family.pose_amount).rotations
    scales = identity.scales(body)
    girth = 1.0 + breathing * rng.normal(0.0, 1.0, 2)  # torso, limbs
    torso = np.arange(body.n_parts) == 0
    limb = np.arange(body.n_parts) >= 2
    for key in ("thickness_scale", "depth_scale"):
        s = np.array(scales[key])
        s[torso] *= girth[0]
        s[limb] *= girth[1]
        scales[key] = s
    pose = Pose(rotations=rot, **scales)
    n_b = int(rng.integers(4, 9))
    centres = template.canonical[rng.integers(template.n_points, size=n_b)]  # on the surface
    heights = bulges * rng.uniform(-0.6, 1.0, n_b)
    widths = rng.uniform(0.04, 0.1, n_b)
    axes = random_rotation(rng)
    S = axes @ np.diag(1.0 + stretch * rng.uniform(-1.0, 1.0, 3)) @ axes.T
    full = random_rotation(rng)
    yaw = rng.uniform(0.0, 2.0 * np.pi)  # both drawn, so `upright` changes nothing else
    c, s_ = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, 0.0, s_], [0.0, 1.0, 0.0], [-s_, 0.0, c]]) if upright else full
    t = rng.normal(0.0, 0.3, 3)
    return ScanDeformation(pose, centres, heights, widths, S, R, t)


def generate_scan(
    template: FamilyTemplate,
    identity: Proportions,
    seed: int | np.random.SeedSequence,
    *,
    vertices: tuple[int, int] = DEFAULT_VERTICES,
    upright: bool = False,
    noise: float = 0.15,
    breathing: float = 0.03,
    bulges: float = 0.012,
    stretch: float = 0.04,
    identity_index: int = 0,
    name: str = "scan",
) -> SyntheticScan:
    """One independently remeshed, deformed, posed and noised shape of ``template``'s family.

    Parameters
    ----------
    template : FamilyTemplate
    identity : Proportions
        The person (from :func:`~meshlearn.datasets.body_families.draw_identity`).
    seed : int or SeedSequence
        Everything random about this shape (not the person) comes from it.
    vertices : (int, int)
        Range of the vertex count, drawn log-uniformly. default: (2000, 15000)
    upright : bool
        Turn the shape about the vertical only (else a uniformly random rotation). default: False
    noise : float
        Standard deviation of the displacement along the normals, in mean edge lengths. default: 0.15
    breathing : float
        Relative standard deviation of this shape's torso and limb girths. default: 0.03
    bulges : float
        Largest bulge height (metres; dents reach 60 % of it). default: 0.012
    stretch : float
        Largest relative stretch of the anisotropic rest-pose stretch. default: 0.04
    identity_index : int, name : str
        Recorded in the result.
    """
    lo_v, hi_v = _check_vertices(vertices)
    body = Body()
    rng = np.random.default_rng(seed)
    # Aim inside the range by the tolerance, so the corrected count lands in it.
    lo_t, hi_t = lo_v * (1 + _COUNT_TOLERANCE), hi_v * (1 - _COUNT_TOLERANCE)
    if lo_t >= hi_t:
        lo_t = hi_t = np.sqrt(lo_v * hi_v)
    target = float(np.exp(rng.uniform(np.log(lo_t), np.log(hi_t))))
    aniso = rng.uniform(0.85, 1.15, 3)
    aniso /= np.prod(aniso) ** (1.0 / 3.0)
    grid = random_rotation(rng)
    offset = rng.uniform(0.0, 1.0, 3)
    density = template.density
    for _ in range(6):
        h = np.sqrt(density / target) * aniso
        rest, faces = body_marching_cubes(body, grid, h, offset * h)
        density = rest.shape[0] * float(np.prod(h)) ** (2.0 / 3.0)
        if abs(rest.shape[0] / target - 1.0) < _COUNT_TOLERANCE:
            break
    deformation = _draw_deformation(body, identity, template, rng, upright, breathing, bulges, stretch)
    verts = deformation.apply(body, rest)
    mesh = Shape(verts, faces)
    edge = np.linalg.norm(verts[faces[:, 0]] - verts[faces[:, 1]], axis=1).mean()
    verts = verts + normals(mesh) * rng.normal(0.0, noise * edge, (len(verts), 1))
    tree = cKDTree(rest)
    _, vts = tree.query(template.canonical)
    _, sym = tree.query(template.canonical * _MIRROR)
    return SyntheticScan(
        shape=Shape(verts, faces, source=f"synthetic {template.family.name} scan {name}", name=name),
        canonical=rest,
        vts=vts.astype(np.int64),
        sym_vts=sym.astype(np.int64),
        labels=body.labels(rest),
        deformation=deformation,
        identity=int(identity_index),
        target_vertices=int(round(target)),
    )


def _check_vertices(vertices) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in vertices)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"vertices must be a (min, max) pair of integers (got {vertices!r})") from e
    if not 300 <= lo <= hi:
        raise ConfigError(f"vertices must satisfy 300 <= min <= max (got {lo}, {hi})")
    return lo, hi


# ---------------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class PlannedShape:
    """One shape of a dataset: name, split, person and seed."""

    name: str
    split: str
    identity: int
    seed: np.random.SeedSequence


def scan_dataset_plan(fam: BodyFamily, n: int, seed: int, n_identities: int, test_fraction: float
                      ) -> tuple[list[Proportions], list[PlannedShape]]:
    """The people and the shapes of a dataset: shape i depends only on (seed, i, n, n_identities).

    Shapes come in contiguous blocks per person (as equal as ``n`` allows). With two or more
    people the last ``round(test_fraction * n_identities)`` (at least one, at most all but one) are
    the test people; with one person the last ``round(test_fraction * n)`` shapes are test shapes.
    """
    if n < 2:
        raise ConfigError(f"n must be at least 2 (one train and one test shape; got {n})")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must lie strictly between 0 and 1 (got {test_fraction})")
    if not 1 <= n_identities <= n:
        raise ConfigError(f"identities must lie between 1 and n = {n} (got {n_identities})")
    if fam.spread == 0 and n_identities != 1:
        raise ConfigError(f"family {fam.name!r} is one person; identities must be 1 (got {n_identities})")
    # the family enters the seed: two families made with one seed share no remeshing grids
    id_ss, shape_ss = np.random.SeedSequence([int(seed), fam.template_seed]).spawn(2)
    people = [draw_identity(fam, np.random.default_rng(s)) for s in id_ss.spawn(n_identities)]
    who = np.arange(n) * n_identities // n
    if n_identities >= 2:
        n_test_ids = min(max(1, int(round(test_fraction * n_identities))), n_identities - 1)
        test = who >= n_identities - n_test_ids
    else:
        n_test = min(max(1, int(round(test_fraction * n))), n - 1)
        test = np.arange(n) >= n - n_test
    plan = []
    for i, s in enumerate(shape_ss.spawn(n)):
        k = int(who[i])
        if n_identities >= 2:
            name = f"{fam.name}_{k:02d}_{i - int(np.searchsorted(who, k)):02d}"
        else:
            name = f"{fam.name}_{i:03d}"
        plan.append(PlannedShape(name, "test" if test[i] else "train", k, s))
    return people, plan


def _worker(args: tuple) -> SyntheticScan:
    template, identity, seed, kwargs = args
    return generate_scan(template, identity, seed, **kwargs)


def _write_text(path: Path, text: str) -> None:
    from ..cache import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


def write_scan_dataset(
    out: str | os.PathLike,
    family_name: str = "faust",
    n: int | None = None,
    seed: int = 0,
    *,
    identities: int | None = None,
    vertices: tuple[int, int] = DEFAULT_VERTICES,
    upright: bool = False,
    test_fraction: float = 0.2,
    template_points: int | None = None,
    workers: int = 1,
    progress: bool = True,
    **kwargs,
) -> Path:
    """Generate a dataset of family ``family_name`` and write it to ``out`` (layout in the module
    docstring). Same arguments, same bytes.

    Parameters
    ----------
    n : int, optional
        Number of shapes. default: the family's (100 faust, 71 scape)
    identities : int, optional
        Number of people. default: the family's (10 faust, 1 scape)
    template_points : int, optional
        Template size. default: the family's
    kwargs
        Passed to :func:`generate_scan` (``noise``, ``breathing``, ``bulges``, ``stretch``).
    """
    fam = family(family_name)
    n = fam.n_shapes if n is None else int(n)
    n_ids = fam.n_identities if identities is None else int(identities)
    vertices = _check_vertices(vertices)
    people, plan = scan_dataset_plan(fam, n, seed, n_ids, test_fraction)
    template = make_family_template(fam, template_points)
    out = Path(out)
    for split in ("train", "test"):
        for sub in ("off", "corres"):
            (out / split / sub).mkdir(parents=True, exist_ok=True)
    save(Shape(template.verts, template.faces), out / "template.ply")
    _write_text(out / "template_labels.txt", "".join(f"{v}\n" for v in template.labels))
    _write_text(out / "parts.txt", "".join(f"{p}\n" for p in PART_NAMES))
    splits = {k: sorted({p.split for p in plan if p.identity == k}) for k in range(n_ids)}
    meta = {
        "family": fam.name,
        "template_points": template.n_points,
        "vertices": list(vertices),
        "upright": bool(upright),
        "seed": int(seed),
        "identities": [dict(asdict(p), index=k, splits=splits[k]) for k, p in enumerate(people)],
    }
    _write_text(out / "family.json", json.dumps(meta, indent=1) + "\n")
    jobs = [
        (template, people[p.identity], p.seed,
         dict(vertices=vertices, upright=upright, identity_index=p.identity, name=p.name, **kwargs))
        for p in plan
    ]
    from tqdm.auto import tqdm

    rows = ["name,split,identity,vertices\n"]
    bar = tqdm(total=n, desc=f"{fam.name} scans", unit="shape", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        results = pool.map(_worker, jobs, chunksize=1) if pool else map(_worker, jobs)
        for p, item in zip(plan, results):
            d = out / p.split
            save(Shape(item.shape.verts, item.shape.faces), d / "off" / f"{p.name}.off")
            _write_text(d / "corres" / f"{p.name}.vts", "".join(f"{v + 1}\n" for v in item.vts))
            _write_text(d / "corres" / f"{p.name}.sym.vts", "".join(f"{v + 1}\n" for v in item.sym_vts))
            rows.append(f"{p.name},{p.split},{p.identity},{item.shape.n_verts}\n")
            bar.update()
    finally:
        bar.close()
        if pool:
            pool.shutdown()
    _write_text(out / "shapes.csv", "".join(rows))
    test = [p.name for p in plan if p.split == "test"]
    _write_text(out / "test_pairs.txt", "".join(f"{a} {b}\n" for i, a in enumerate(test) for b in test[i + 1:]))
    log.info("wrote %d %s shapes (%d test) to %s", n, fam.name, len(test), out)
    return out
