"""A procedural articulated body: an implicit surface made of tapered capsules, and its skeleton.

The body stands along +y (up), faces +z (forward), and its left side is +x; units are metres
(about 1.7 m tall). It has twelve parts (see :data:`PART_NAMES`); the left and right limbs are
mirror images, so only pose and context tell them apart.

Letters: N query points, P primitives (capsules), J parts (= joints, one rigid bone per part).

Conventions
-----------
- The surface is the zero level set of :meth:`Body.sdf`: negative inside, positive outside,
  approximately the Euclidean distance near the surface (Lipschitz constant below 1.3).
- Each part is a union of capsules; :meth:`Body.part_distances` gives the distance to each part
  and the part label of a point is the nearest part.
- Every part turns about its joint (``joints[j]``); ``parents[j]`` is the part it hangs from
  (-1 for the torso, the root). Rotations are rotation vectors (axis times angle, radians),
  expressed in the rest pose's world axes and applied relative to the parent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PART_NAMES", "Body", "Pose", "random_pose", "rotation_matrix"]

#: Part labels in order: label ``i`` is ``PART_NAMES[i]``.
PART_NAMES: tuple[str, ...] = (
    "torso",
    "head",
    "left_upper_arm",
    "left_forearm",
    "right_upper_arm",
    "right_forearm",
    "left_thigh",
    "left_shin",
    "left_foot",
    "right_thigh",
    "right_shin",
    "right_foot",
)

_BLEND = 0.01  # smooth-union radius (m) of the log-sum-exp union of the parts


def rotation_matrix(rotvec: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix of a rotation vector (axis times angle in radians, Rodrigues)."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.eye(3)
    k = rotvec / angle
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * (K @ K)


def _mirror(v: np.ndarray) -> np.ndarray:
    return v * np.array([-1.0, 1.0, 1.0])


def _mirror_rotvec(r: np.ndarray) -> np.ndarray:
    # Reflection x -> -x maps a rotation vector (a pseudovector) to (rx, -ry, -rz).
    return r * np.array([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Pose:
    """A posed, reproportioned body.

    rotations : (J, 3) float64
        Local rotation vector of each part about its joint, relative to its parent (radians).
    length_scale : (J,) float64
        Scale of each part along its bone.
    thickness_scale : (J,) float64
        Scale of each part across its bone.
    global_scale : float
        Overall size factor.
    depth_scale : (J,) float64, optional
        Scale of each part along its depth axis (``Body.depth_axes``, across the bone), with
        ``thickness_scale`` then scaling the remaining cross direction only. default: None
        (``thickness_scale`` in every direction across the bone)
    joint_shift : (J, 3) float64, optional
        Rest-pose displacement (metres) of each part's joint from where the canonical body has it,
        relative to its parent (wider shoulders or hips, a longer neck); the root's row is unused.
        default: None (no displacement)
    """

    rotations: np.ndarray
    length_scale: np.ndarray
    thickness_scale: np.ndarray
    global_scale: float = 1.0
    depth_scale: np.ndarray | None = None
    joint_shift: np.ndarray | None = None


class Body:
    """The rest-pose body: capsule primitives, part labels and skeleton.

    Examples
    --------
    >>> body = Body()
    >>> float(body.sdf(np.array([[0.0, 1.2, 0.0]]))[0]) < 0    # inside the torso
    True
    """

    def __init__(self) -> None:
        prims: list[tuple[np.ndarray, np.ndarray, float, float, int, float]] = []

        def cap(a, b, ra, rb, part, flat=1.0):
            prims.append((np.asarray(a, float), np.asarray(b, float), ra, rb, part, flat))

        pelvis, chest = np.array([0.0, 0.95, 0.0]), np.array([0.0, 1.36, 0.0])
        head = np.array([0.0, 1.64, 0.015])
        cap(pelvis, chest, 0.15, 0.16, 0, flat=0.62)
        cap(head, head + [0, 0.02, 0], 0.105, 0.10, 1)
        cap(chest + [0, 0.06, 0], head, 0.055, 0.05, 1)
        joints = np.zeros((len(PART_NAMES), 3))
        joints[0] = pelvis
        joints[1] = chest + [0, 0.1, 0]
        arm = np.array([np.cos(np.pi / 4), -np.sin(np.pi / 4), 0.0])
        leg = np.array([0.0, -1.0, 0.0])
        for side, (ua, fa, th, sh, ft) in ((1, (2, 3, 6, 7, 8)), (-1, (4, 5, 9, 10, 11))):
            f = (lambda v: np.asarray(v, float)) if side > 0 else (lambda v: _mirror(np.asarray(v, float)))
            a_dir = f(arm)
            shoulder = f([0.19, 1.42, 0.0])
            elbow = shoulder + 0.29 * a_dir
            wrist = elbow + 0.26 * a_dir
            cap(shoulder, elbow, 0.055, 0.044, ua)
            cap(elbow, wrist, 0.042, 0.032, fa)
            cap(wrist, wrist + 0.14 * a_dir + [0, 0, 0.01], 0.036, 0.028, fa)
            hip = f([0.1, 0.92, 0.0])
            knee = hip + 0.41 * leg + [0, 0, 0.01]
            ankle = knee + 0.41 * leg - [0, 0, 0.01]
            toe = f([0.12, 0.045, 0.17])
            cap(hip, knee, 0.085, 0.056, th)
            cap(knee, ankle, 0.053, 0.038, sh)
            cap(ankle + [0, -0.04, -0.035], toe, 0.042, 0.032, ft)
            joints[ua], joints[fa] = shoulder, elbow
            joints[th], joints[sh], joints[ft] = hip, knee, ankle
        self.a = np.stack([p[0] for p in prims])
        self.b = np.stack([p[1] for p in prims])
        self.ra = np.array([p[2] for p in prims])
        self.rb = np.array([p[3] for p in prims])
        self.part = np.array([p[4] for p in prims], dtype=np.int64)
        self.flat = np.array([p[5] for p in prims])
        self.joints = joints
        self.parents = np.array([-1, 0, 0, 2, 0, 4, 0, 6, 7, 0, 9, 10], dtype=np.int64)
        # Bone axis of each part (unit), used for length / thickness scaling.
        axis = np.zeros_like(joints)
        axis[0] = [0, 1, 0]
        axis[1] = [0, 1, 0]
        axis[2] = axis[3] = arm
        axis[4] = axis[5] = _mirror(arm)
        for j in (6, 7, 9, 10):
            axis[j] = leg
        axis[8] = axis[11] = [0, 0, 1]
        self.axes = axis
        # Depth axis of each part (unit, across its bone): forward (+z), or up for the feet.
        depth = np.zeros_like(joints)
        depth[:] = [0.0, 0.0, 1.0]
        depth[8] = depth[11] = [0.0, 1.0, 0.0]
        self.depth_axes = depth
        # Elbow and knee hinge axes: bending moves the forearm forward (+z), the shin backward.
        self.hinge = np.zeros_like(joints)
        for j in (3, 5):
            h = np.cross(axis[j], [0.0, 0.0, 1.0])
            h /= np.linalg.norm(h)
            if (rotation_matrix(0.5 * h) @ axis[j])[2] < 0:
                h = -h
            self.hinge[j] = h
        for j in (7, 10):
            self.hinge[j] = [1.0, 0.0, 0.0]  # rotating -y about +x by a positive angle goes to -z
        self.n_parts = len(PART_NAMES)
        self.adjacent = np.eye(self.n_parts, dtype=bool)
        for j, p in enumerate(self.parents):
            if p >= 0:
                self.adjacent[j, p] = self.adjacent[p, j] = True

    # ----------------------------------------------------------------- implicit surface
    def primitive_distances(self, pts: np.ndarray) -> np.ndarray:
        """(N, P) approximate signed distance of each point to each capsule."""
        pts = np.asarray(pts, dtype=np.float64)
        ba = self.b - self.a  # (P, 3)
        pa = pts[:, None, :] - self.a[None]  # (N, P, 3)
        t = np.clip((pa * ba).sum(-1) / (ba * ba).sum(-1), 0.0, 1.0)
        r = self.ra + (self.rb - self.ra) * t
        off = pa - t[..., None] * ba
        # A flattened capsule (the torso) is squashed along z by `flat`.
        off[..., 2] /= self.flat
        d = np.linalg.norm(off, axis=-1)
        scale = np.where(self.flat < 1.0, 0.5 * (1.0 + self.flat), 1.0)
        return (d - r) * scale

    def part_distances(self, pts: np.ndarray) -> np.ndarray:
        """(N, J) signed distance of each point to each part (the nearest of its capsules)."""
        dp = self.primitive_distances(pts)
        out = np.full((dp.shape[0], self.n_parts), np.inf)
        for j in range(self.n_parts):
            out[:, j] = dp[:, self.part == j].min(1)
        return out

    def sdf(self, pts: np.ndarray) -> np.ndarray:
        """(N,) signed distance of the smooth union of the parts (negative inside)."""
        d = self.part_distances(pts)
        m = d.min(1)
        return m - _BLEND * np.log(np.exp(-(d - m[:, None]) / _BLEND).sum(1))

    def labels(self, pts: np.ndarray) -> np.ndarray:
        """(N,) int64 part label of each rest-pose point: its nearest part."""
        return self.part_distances(pts).argmin(1).astype(np.int64)

    def bounds(self, margin: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box (lo, hi) holding the rest-pose surface with ``margin`` to spare."""
        r = np.maximum(self.ra, self.rb)[:, None] / np.minimum(self.flat, 1.0)[:, None]
        lo = np.minimum(self.a - r, self.b - r).min(0) - margin
        hi = np.maximum(self.a + r, self.b + r).max(0) + margin
        return lo, hi

    # ----------------------------------------------------------------- skinning
    def skinning_weights(self, pts: np.ndarray, sigma: float = 0.015) -> np.ndarray:
        """(N, J) linear-blend-skinning weights of rest-pose points; rows sum to 1.

        A point follows its nearest part and, smoothly near a joint, the parts adjacent to it in
        the skeleton: weight ``exp(-(d_j - d_min) / sigma)`` over those parts.
        """
        d = self.part_distances(pts)
        nearest = d.argmin(1)
        w = np.exp(-(d - d.min(1, keepdims=True)) / sigma)
        w *= self.adjacent[nearest]
        return w / w.sum(1, keepdims=True)

    def part_transforms(self, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """Affine map of each part, rest pose -> posed: ``x' = A[j] @ x + t[j]``.

        Returns
        -------
        A : (J, 3, 3) float64
        t : (J, 3) float64
        """
        J = self.n_parts
        S = np.zeros((J, 3, 3))
        for j in range(J):
            u = self.axes[j][:, None]
            P = u @ u.T
            S[j] = pose.length_scale[j] * P + pose.thickness_scale[j] * (np.eye(3) - P)
            if pose.depth_scale is not None:
                d = self.depth_axes[j][:, None]
                S[j] += (pose.depth_scale[j] - pose.thickness_scale[j]) * (d @ d.T)
        shift = np.zeros((J, 3)) if pose.joint_shift is None else np.asarray(pose.joint_shift, dtype=np.float64)
        G = np.zeros((J, 3, 3))
        pivot = np.zeros((J, 3))
        for j in range(J):  # parents come before children in this ordering
            R = rotation_matrix(pose.rotations[j])
            p = self.parents[j]
            if p < 0:
                G[j] = R
                pivot[j] = self.joints[j]
            else:
                G[j] = G[p] @ R
                # The joint moves with its parent, whose own proportions stretch the offset.
                pivot[j] = pivot[p] + G[p] @ S[p] @ (self.joints[j] + shift[j] - self.joints[p])
        A = pose.global_scale * (G @ S)
        t = pose.global_scale * (pivot - np.einsum("jab,jb->ja", G @ S, self.joints))
        return A, t

    def pose_points(self, pts: np.ndarray, weights: np.ndarray, pose: Pose) -> np.ndarray:
        """(N, 3) rest-pose points moved by linear blend skinning with ``weights`` (N, J)."""
        A, t = self.part_transforms(pose)
        per_part = np.einsum("jab,nb->nja", A, pts) + t[None]
        return np.einsum("nj,nja->na", weights, per_part)


def random_pose(body: Body, rng: np.random.Generator, amount: float = 1.0) -> Pose:
    """A random pose and proportions; ``amount`` (0..1) scales every joint angle range.

    Joint ranges (radians, before ``amount``): torso bend/twist/lean, head nod/turn/tilt, arms
    raised or lowered, swung and twisted, elbows and knees bent 0..1.7, legs swung forward and
    back and spread, feet flexed. Left and right limbs are drawn independently.
    """
    J = body.n_parts
    rot = np.zeros((J, 3))
    u = lambda lo, hi: rng.uniform(lo, hi) * amount  # noqa: E731
    rot[0] = [u(-0.25, 0.35), u(-0.4, 0.4), u(-0.15, 0.15)]
    rot[1] = [u(-0.4, 0.4), u(-0.7, 0.7), u(-0.3, 0.3)]
    for ua, fa, mirror in ((2, 3, False), (4, 5, True)):
        r = np.array([u(-0.9, 0.9), u(-0.3, 0.3), u(-0.6, 0.9)])
        rot[ua] = _mirror_rotvec(r) if mirror else r
        rot[fa] = body.hinge[fa] * u(0.0, 1.7)
    for th, sh, ft, mirror in ((6, 7, 8, False), (9, 10, 11, True)):
        r = np.array([u(-1.1, 0.4), u(-0.3, 0.3), u(-0.1, 0.45)])
        rot[th] = _mirror_rotvec(r) if mirror else r
        rot[sh] = body.hinge[sh] * u(0.0, 1.7)
        rot[ft] = [u(-0.4, 0.4), 0.0, 0.0]
    return Pose(
        rotations=rot,
        length_scale=rng.uniform(0.88, 1.12, J),
        thickness_scale=rng.uniform(0.85, 1.2, J),
        global_scale=float(rng.uniform(0.9, 1.1)),
    )
