"""Body families: people of one procedural body with their own proportions.

A family is a base set of :class:`Proportions` (the family's template person) and a spread of
identities around it. The surface of every identity is the canonical
:class:`~meshlearn.datasets.body.Body` moved by a known map (per-part stretches across and along
the bones and displaced joints, through blend skinning), so a point of the canonical surface names
the same anatomical point on every identity of every family.

Two families are defined (:data:`FAMILIES`):

- ``faust``: many identities (heights 1.5 to 1.9 m, slim to heavy torsos, narrow to broad
  shoulders and hips, short to long limbs, small left-right differences), a few poses each, like
  FAUST (10 people in 10 poses);
- ``scape``: one person with proportions outside the ``faust`` family's base (taller, long limbs,
  broad shoulders, deep chest, slim limbs, smaller head), in many poses, like SCAPE.

Letters: J parts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ..errors import ConfigError
from .body import PART_NAMES, Body

__all__ = ["FAMILIES", "BodyFamily", "Proportions", "draw_identity", "family"]

_P = {name: i for i, name in enumerate(PART_NAMES)}


@dataclass(frozen=True)
class Proportions:
    """One person's proportions as factors on the canonical body (1, or 0 for shifts, is canonical).

    height : float
        Overall scale (the canonical body is about 1.7 m tall).
    torso_length, torso_width, torso_depth : float
        Torso scale along the spine, left-right and front-back (chest and belly).
    shoulder_width, hip_width : float
        Outward shift of each shoulder and hip joint (metres, before ``height``).
    neck : float
        Upward shift of the head (metres).
    head : float
        Head size.
    arm_length, leg_length : float
        Scale of the whole arm / leg along its bones.
    forearm_ratio, shin_ratio : float
        Extra scale of the forearm / shin against the upper arm / thigh.
    arm_girth, leg_girth : float
        Scale across the bones of the arms / legs (upper parts; the lower parts follow at 90 %).
    asymmetry : float
        Size of random left-right differences in limb lengths and girths (relative, e.g. 0.02),
        drawn from ``asymmetry_seed``.
    asymmetry_seed : int
    """

    height: float = 1.0
    torso_length: float = 1.0
    torso_width: float = 1.0
    torso_depth: float = 1.0
    shoulder_width: float = 0.0
    hip_width: float = 0.0
    neck: float = 0.0
    head: float = 1.0
    arm_length: float = 1.0
    forearm_ratio: float = 1.0
    leg_length: float = 1.0
    shin_ratio: float = 1.0
    arm_girth: float = 1.0
    leg_girth: float = 1.0
    asymmetry: float = 0.0
    asymmetry_seed: int = 0

    def scales(self, body: Body) -> dict[str, np.ndarray | float]:
        """Per-part scales and joint shifts for :class:`~meshlearn.datasets.body.Pose`.

        Returns
        -------
        dict with ``length_scale`` (J,), ``thickness_scale`` (J,), ``depth_scale`` (J,),
        ``joint_shift`` (J, 3) and ``global_scale`` (float).
        """
        J = body.n_parts
        length, thick, depth = np.ones(J), np.ones(J), np.ones(J)
        shift = np.zeros((J, 3))
        length[_P["torso"]] = self.torso_length
        thick[_P["torso"]] = self.torso_width
        depth[_P["torso"]] = self.torso_depth
        length[_P["head"]] = thick[_P["head"]] = depth[_P["head"]] = self.head
        shift[_P["head"], 1] = self.neck
        rng = np.random.default_rng(self.asymmetry_seed)
        for side, sign in (("left", 1.0), ("right", -1.0)):
            a = 1.0 + self.asymmetry * rng.uniform(-1.0, 1.0, 4)  # arm / leg length, arm / leg girth
            ua, fa = _P[f"{side}_upper_arm"], _P[f"{side}_forearm"]
            th, sh, ft = _P[f"{side}_thigh"], _P[f"{side}_shin"], _P[f"{side}_foot"]
            length[ua] = self.arm_length * a[0]
            length[fa] = self.arm_length * self.forearm_ratio * a[0]
            thick[ua] = depth[ua] = self.arm_girth * a[2]
            thick[fa] = depth[fa] = (0.1 + 0.9 * self.arm_girth) * a[2]
            length[th] = self.leg_length * a[1]
            length[sh] = self.leg_length * self.shin_ratio * a[1]
            thick[th] = depth[th] = self.leg_girth * a[3]
            thick[sh] = depth[sh] = (0.1 + 0.9 * self.leg_girth) * a[3]
            thick[ft] = depth[ft] = 0.5 + 0.5 * self.leg_girth
            shift[ua, 0] = sign * self.shoulder_width
            shift[th, 0] = sign * self.hip_width
        return dict(length_scale=length, thickness_scale=thick, depth_scale=depth, joint_shift=shift,
                    global_scale=float(self.height))


#: Range of each proportion across a family's identities, as (low, high) offsets from the base.
_SPREAD: dict[str, tuple[float, float]] = {
    "height": (-0.1, 0.1),
    "torso_length": (-0.07, 0.07),
    "torso_width": (-0.12, 0.25),
    "torso_depth": (-0.15, 0.35),
    "shoulder_width": (-0.02, 0.03),
    "hip_width": (-0.015, 0.025),
    "neck": (-0.01, 0.02),
    "head": (-0.07, 0.07),
    "arm_length": (-0.08, 0.08),
    "forearm_ratio": (-0.06, 0.06),
    "leg_length": (-0.09, 0.09),
    "shin_ratio": (-0.06, 0.06),
    "arm_girth": (-0.15, 0.25),
    "leg_girth": (-0.12, 0.25),
}


@dataclass(frozen=True)
class BodyFamily:
    """A family of bodies: base proportions, how much identities vary, and its template.

    name : str
    base : Proportions
        The family's template person.
    spread : float
        Scales the identity ranges (0: every shape is the base person).
    n_identities : int
        Default number of people in a dataset of this family.
    n_shapes : int
        Default number of shapes in a dataset of this family.
    template_vertices : int
        Approximate vertex count of the family's template (the length of its ``.vts`` files).
    template_seed : int
        Seed of the template's remeshing grid (the template is the family's, not a dataset's).
    pose_amount : float
        Scales the joint angle ranges of :func:`~meshlearn.datasets.body.random_pose`.
    """

    name: str
    base: Proportions
    spread: float
    n_identities: int
    n_shapes: int
    template_vertices: int
    template_seed: int
    pose_amount: float = 1.0


#: The families by name.
FAMILIES: dict[str, BodyFamily] = {
    "faust": BodyFamily("faust", Proportions(), spread=1.0, n_identities=10, n_shapes=100,
                        template_vertices=5000, template_seed=1001, pose_amount=1.0),
    "scape": BodyFamily(
        "scape",
        Proportions(height=1.06, torso_length=1.04, torso_width=0.94, torso_depth=1.18, shoulder_width=0.035,
                    hip_width=-0.012, neck=0.015, head=0.93, arm_length=1.08, forearm_ratio=0.95,
                    leg_length=1.08, shin_ratio=1.04, arm_girth=0.9, leg_girth=0.93, asymmetry=0.015,
                    asymmetry_seed=7),
        spread=0.0, n_identities=1, n_shapes=71, template_vertices=6500, template_seed=2002, pose_amount=1.0,
    ),
}


def family(name: str) -> BodyFamily:
    """The family called ``name``; ConfigError listing the names otherwise."""
    if name not in FAMILIES:
        raise ConfigError(f"unknown body family {name!r}; expected one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def draw_identity(fam: BodyFamily, rng: np.random.Generator) -> Proportions:
    """A random person of ``fam``: each proportion uniform in the family range (times ``spread``)
    around the base, left-right differences of 2 % (the base person's own when ``spread`` is 0)."""
    if fam.spread == 0:
        return fam.base
    values = {}
    for f in fields(Proportions):
        if f.name in _SPREAD:
            lo, hi = _SPREAD[f.name]
            values[f.name] = getattr(fam.base, f.name) + fam.spread * rng.uniform(lo, hi)
    # Wide shoulders go with a broad chest more often than not.
    values["shoulder_width"] += 0.04 * (values["torso_width"] - fam.base.torso_width)
    return replace(fam.base, asymmetry=0.02 * fam.spread, asymmetry_seed=int(rng.integers(2**31)), **values)
