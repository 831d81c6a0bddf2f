"""What is wrong with a shape: counts of every defect meshlearn knows, in one JSON-friendly report.

Letters used for array shapes: V vertices, F faces, E undirected edges.

Every check is vectorised (numpy sorting and grouping, scipy connected components), so a mesh with
hundreds of thousands of faces is checked in a fraction of a second. The helpers here are also what
:func:`meshlearn.load` uses when it cleans a shape, so that the report and the repairs agree on what
each defect means.

Definitions
-----------
non-finite vertex
    A vertex with a NaN or infinite coordinate.
out-of-range face
    A face with an index below 0 or at least V.
degenerate face
    A face that names the same vertex twice (combinatorially degenerate).
zero-area face
    A face with three distinct vertices whose area is at most ``1e-14 * d**2`` (d the bounding-box
    diagonal): collinear or coincident corners.
duplicate vertices
    Vertices with bitwise-equal coordinates (``-0.0`` and ``0.0`` count as equal); the count is the
    number of vertices that are copies of an earlier one.
duplicate faces
    Faces over the same three vertices, whatever their order or orientation; the count is the number
    of faces that repeat an earlier one.
non-manifold edge
    An edge shared by more than two faces.
non-manifold vertex
    A vertex whose incident faces form more than one fan (two cones touching at a tip, a "bowtie"),
    or that lies on a non-manifold edge.
unreferenced vertex
    A vertex that no face uses (an isolated vertex).
component
    A set of faces connected through manifold edges (edges with exactly two faces): two cones
    touching at their tips are two components, and so are the sheets of a non-manifold edge.
boundary loop
    A connected chain of boundary edges (edges with exactly one face); two holes that touch at a
    vertex count as one chain.
inconsistent winding
    An edge whose two faces traverse it in the same direction (their normals disagree).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .errors import InvalidMeshError, where
from .shape import Shape

__all__ = ["ValidationReport", "validate"]

#: Relative area below which a face counts as zero-area: ``area <= ZERO_AREA_RTOL * diagonal**2``.
ZERO_AREA_RTOL = 1e-14


@dataclass
class ValidationReport:
    """Counts of the defects of one shape, the problems in words, and the repairs already made.

    Attributes
    ----------
    source, name : str or None, str
        Where the shape came from and its short name.
    kind : str
        ``"mesh"`` or ``"point cloud"``.
    n_verts, n_faces : int
        Sizes (``n_faces`` is 0 for a point cloud).
    empty : bool
        True when there are no vertices.
    nonfinite_verts : int
        Vertices with a NaN or infinite coordinate.
    out_of_range_faces : int
        Faces with an index outside ``[0, V)``.
    max_face_index, min_face_index : int or None
        The largest and smallest face index (to say how far out of range they go).
    degenerate_faces, zero_area_faces : int
        Faces naming a vertex twice; faces with three distinct vertices and (near) zero area.
    duplicate_verts, duplicate_faces : int
        Copies of an earlier vertex (same coordinates) or face (same vertex set).
    non_manifold_edges, non_manifold_verts : int
        Edges with more than two faces; vertices whose faces form several fans.
    unreferenced_verts : int
        Vertices no face uses.
    components : int or None
        Connected components of the faces (None for a point cloud).
    boundary_edges, boundary_loops : int
        Edges with one face, and the chains they form (0 for a closed surface).
    inconsistent_winding_edges : int
        Edges whose two faces traverse them in the same direction.
    non_triangle_faces : int
        Polygons (quads and larger) the loader split into triangles.
    repairs : list of str
        What ``load(..., clean=True)`` changed, in words.
    problems : list of str
        Every defect found, in words (empty when the shape is fine).
    notes : list of str
        Facts worth knowing that are not defects (several components, boundary loops, polygons).
    """

    source: str | None
    name: str
    kind: str
    n_verts: int
    n_faces: int
    empty: bool = False
    nonfinite_verts: int = 0
    out_of_range_faces: int = 0
    max_face_index: int | None = None
    min_face_index: int | None = None
    degenerate_faces: int = 0
    zero_area_faces: int = 0
    duplicate_verts: int = 0
    duplicate_faces: int = 0
    non_manifold_edges: int = 0
    non_manifold_verts: int = 0
    unreferenced_verts: int = 0
    components: int | None = None
    boundary_edges: int = 0
    boundary_loops: int = 0
    inconsistent_winding_edges: int = 0
    non_triangle_faces: int = 0
    repairs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found (notes and past repairs do not count)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON types (``ok`` included)."""
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self) -> str:
        """A few human-readable lines: sizes, then problems, notes and repairs."""
        head = f"{self.name}: {self.kind}, {self.n_verts} vertices"
        if self.kind == "mesh":
            head += f", {self.n_faces} faces, {self.components} component(s)"
        lines = [head, "  status: ok" if self.ok else f"  status: {len(self.problems)} problem(s)"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  repaired: {r}" for r in self.repairs]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# vectorised helpers (shared with the cleaning in meshlearn.io.repair)
# --------------------------------------------------------------------------------------------


def nonfinite_vertex_mask(verts: np.ndarray) -> np.ndarray:
    """(V,) bool: vertices with a NaN or infinite coordinate."""
    return ~np.isfinite(verts).all(axis=1)


def out_of_range_face_mask(faces: np.ndarray, n_verts: int) -> np.ndarray:
    """(F,) bool: faces with an index below 0 or at least ``n_verts``."""
    return ((faces < 0) | (faces >= n_verts)).any(axis=1)


def degenerate_face_mask(faces: np.ndarray) -> np.ndarray:
    """(F,) bool: faces that name one vertex twice."""
    return (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])


def zero_area_face_mask(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) bool: faces whose area is at most ``ZERO_AREA_RTOL * diagonal**2`` (NaN areas are not
    counted). ``faces`` must be in range."""
    if len(faces) == 0:
        return np.zeros(0, dtype=bool)
    finite = verts[np.isfinite(verts).all(1)]
    if len(finite) == 0:
        return np.zeros(len(faces), dtype=bool)
    # measured on verts / m (m the largest coordinate) so that huge coordinates do not overflow
    m = float(np.abs(finite).max()) or 1.0
    diag = float(np.linalg.norm(finite.max(0) / m - finite.min(0) / m))
    tri = verts[faces] / m
    with np.errstate(invalid="ignore", over="ignore"):
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        return area <= ZERO_AREA_RTOL * diag * diag


def first_occurrence_groups(rows: np.ndarray) -> np.ndarray:
    """(N,) int64: for each row of ``rows`` (N, K), the index of the first row equal to it (itself
    when it is new). A stable lexicographic sort, so it runs in O(N log N) without Python loops."""
    n = len(rows)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rows = rows.reshape(n, -1)
    order = np.lexsort(rows.T[::-1])
    srt = rows[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (srt[1:] != srt[:-1]).any(axis=1)
    start = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    rep = np.empty(n, dtype=np.int64)
    rep[order] = order[start[group]]
    return rep


def duplicate_vertex_representatives(verts: np.ndarray) -> np.ndarray:
    """(V,) int64: for each vertex, the first vertex with bitwise-equal coordinates (``-0.0 == 0.0``)."""
    return first_occurrence_groups(verts + 0.0)


def duplicate_face_mask(faces: np.ndarray) -> np.ndarray:
    """(F,) bool: faces over the same vertex set as an earlier face (any order or orientation)."""
    rep = first_occurrence_groups(np.sort(faces, axis=1))
    return rep != np.arange(len(faces))


def half_edges(faces: np.ndarray) -> np.ndarray:
    """(3F, 2) int64 directed half-edges: half-edge ``3 f + k`` goes from corner k to corner k+1."""
    return np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)


def edge_topology(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges of triangles (in range, no repeated index).

    Returns
    -------
    edges : (E, 2) int64
        Each undirected edge once, smaller index first.
    counts : (E,) int64
        How many faces use each edge.
    half_to_edge : (3F,) int64
        For half-edge ``3 f + k`` (from corner k to corner k+1 of face f), its edge in ``edges``.
    """
    und = np.sort(half_edges(faces), axis=1)
    n = int(und.max()) + 1 if len(und) else 1
    key = und[:, 0] * n + und[:, 1]
    ukey, half_to_edge, counts = np.unique(key, return_inverse=True, return_counts=True)
    edges = np.stack([ukey // n, ukey % n], axis=1)
    return edges.astype(np.int64), counts.astype(np.int64), half_to_edge.ravel().astype(np.int64)


def inconsistent_winding_count(faces: np.ndarray) -> int:
    """Number of edges traversed twice in the same direction (by two faces that disagree)."""
    if len(faces) == 0:
        return 0
    half = half_edges(faces)
    n = int(half.max()) + 1
    _, counts = np.unique(half[:, 0] * n + half[:, 1], return_counts=True)
    return int((counts > 1).sum())


def _fans_per_vertex(faces: np.ndarray, n_verts: int, edges: np.ndarray, half_to_edge: np.ndarray) -> np.ndarray:
    """(V,) int64: how many fans (groups of faces linked through edges at the vertex) meet at each
    vertex; 0 for unreferenced vertices."""
    n_corners = 3 * len(faces)
    corner = np.arange(n_corners, dtype=np.int64)
    f, k = corner // 3, corner % 3
    start_corner = corner
    end_corner = 3 * f + (k + 1) % 3
    flat = faces.ravel()
    # records: (edge, vertex at that end of the edge, corner of the face at that vertex)
    rec_edge = np.concatenate([half_to_edge, half_to_edge])
    rec_vert = np.concatenate([flat[start_corner], flat[end_corner]])
    rec_corner = np.concatenate([start_corner, end_corner])
    slot = 2 * rec_edge + (rec_vert != edges[rec_edge, 0])  # (edge, which end) as one integer
    order = np.argsort(slot, kind="stable")
    slot_s, c_s = slot[order], rec_corner[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = slot_s[1:] != slot_s[:-1]
    group_first = c_s[np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))]
    graph = sp.coo_matrix((np.ones(len(order)), (c_s, group_first)), shape=(n_corners, n_corners))
    _, labels = connected_components(graph, directed=False)
    pairs = np.unique(flat * n_corners + labels)
    return np.bincount(pairs // n_corners, minlength=n_verts)


def count_components(edges: np.ndarray, n_verts: int, referenced: np.ndarray) -> int:
    """Connected components among the referenced vertices of the graph ``edges`` (E, 2)."""
    graph = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_verts, n_verts))
    n, _ = connected_components(graph, directed=False)
    return int(n - (n_verts - int(referenced.sum())))


def face_components(n_faces: int, half_to_edge: np.ndarray, counts: np.ndarray) -> tuple[int, np.ndarray]:
    """Components of faces linked through manifold edges (edges of exactly two faces); faces that
    meet only at a vertex or along a non-manifold edge are in different components.

    Returns the number of components and the (F,) int64 component of each face.
    """
    face_of_half = np.arange(len(half_to_edge)) // 3
    manifold = counts[half_to_edge] == 2
    face_of_half = face_of_half[manifold]
    half_to_edge = half_to_edge[manifold]
    order = np.argsort(half_to_edge, kind="stable")
    e_s = half_to_edge[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = e_s[1:] != e_s[:-1]
    first_face = face_of_half[order][np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))]
    graph = sp.coo_matrix((np.ones(len(order)), (face_of_half[order], first_face)), shape=(n_faces, n_faces))
    n, labels = connected_components(graph, directed=False)
    return int(n), labels.astype(np.int64)


def validate(shape: Shape) -> ValidationReport:
    """Check a shape for every defect meshlearn knows and report counts, problems and past repairs.

    Parameters
    ----------
    shape : Shape
        A mesh (``faces`` (F, 3) int64) or point cloud (``faces is None``), e.g. from
        :func:`meshlearn.load`. ``meshlearn.validate`` (:func:`meshlearn.io.check.validate`) also
        takes anything :func:`meshlearn.load` accepts and loads it first, without cleaning, so the
        report shows the input as it is.

    Returns
    -------
    ValidationReport
        Counts of each defect (see the module docstring for the definitions), ``problems`` in words,
        ``notes`` on facts that are not defects, and ``repairs`` copied from ``shape.repairs``.

    Raises
    ------
    InvalidMeshError
        When the input is not a Shape, or its arrays are not (V, 3) / (F, 3).

    Examples
    --------
    >>> from meshlearn.testing import icosphere
    >>> validate(icosphere(1)).ok
    True
    """
    if not isinstance(shape, Shape):
        raise InvalidMeshError(
            f"meshlearn.validate.validate checks a Shape (got {type(shape).__name__}); call meshlearn.validate(...), "
            "which loads files, arrays and mesh objects first, or load it with meshlearn.load"
        )
    verts = shape.verts
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise InvalidMeshError(
            f"{where(shape.source)}expected verts of shape (V, 3) (got {verts.shape}); load the shape with meshlearn.load"
        )
    V = len(verts)
    report = ValidationReport(
        source=shape.source,
        name=shape.name,
        kind="mesh" if shape.is_mesh else "point cloud",
        n_verts=V,
        n_faces=shape.n_faces,
        repairs=list(shape.repairs),
    )
    problems, notes = report.problems, report.notes
    report.non_triangle_faces = int(shape.meta.get("non_triangle_faces", 0))
    if V == 0:
        report.empty = True
        problems.append("the shape has no vertices")
        return report

    bad_v = nonfinite_vertex_mask(verts)
    report.nonfinite_verts = int(bad_v.sum())
    if report.nonfinite_verts:
        problems.append(f"{report.nonfinite_verts} vertices have NaN or infinite coordinates")
    finite_verts = verts[~bad_v]
    reps = duplicate_vertex_representatives(finite_verts)
    report.duplicate_verts = int((reps != np.arange(len(finite_verts))).sum())
    if report.duplicate_verts:
        problems.append(f"{report.duplicate_verts} vertices duplicate the coordinates of another vertex")

    if not shape.is_mesh:
        return report

    faces = shape.faces
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise InvalidMeshError(
            f"{where(shape.source)}expected faces of shape (F, 3) (got {faces.shape}); load the shape with meshlearn.load"
        )
    if report.non_triangle_faces:
        notes.append(f"{report.non_triangle_faces} polygon faces were split into triangles on loading")
    if len(faces) == 0:
        problems.append("the mesh has no faces")
        report.unreferenced_verts = V
        report.components = 0
        return report
    report.max_face_index, report.min_face_index = int(faces.max()), int(faces.min())
    oob = out_of_range_face_mask(faces, V)
    report.out_of_range_faces = int(oob.sum())
    if report.out_of_range_faces:
        problems.append(out_of_range_message(faces, V))
    faces = faces[~oob]

    degenerate = degenerate_face_mask(faces)
    report.degenerate_faces = int(degenerate.sum())
    if report.degenerate_faces:
        problems.append(f"{report.degenerate_faces} faces name the same vertex twice (degenerate)")
    touches_bad = bad_v[faces].any(axis=1) if report.nonfinite_verts else np.zeros(len(faces), bool)
    zero = zero_area_face_mask(verts, faces) & ~degenerate & ~touches_bad
    report.zero_area_faces = int(zero.sum())
    if report.zero_area_faces:
        problems.append(f"{report.zero_area_faces} faces have zero area (collinear or coincident corners)")

    tri = faces[~degenerate]
    report.duplicate_faces = int(duplicate_face_mask(tri).sum())
    if report.duplicate_faces:
        problems.append(f"{report.duplicate_faces} faces repeat the vertices of another face")

    referenced = np.zeros(V, dtype=bool)
    referenced[faces.ravel()] = True
    report.unreferenced_verts = int(V - referenced.sum())
    if report.unreferenced_verts:
        problems.append(f"{report.unreferenced_verts} vertices are not used by any face (isolated)")

    if len(tri) == 0:
        report.components = 0
        problems.append("no face has three distinct vertices")
        return report
    edges, counts, half_to_edge = edge_topology(tri)
    nm_edge = counts > 2
    report.non_manifold_edges = int(nm_edge.sum())
    if report.non_manifold_edges:
        problems.append(f"{report.non_manifold_edges} edges are shared by more than two faces (non-manifold)")
    fans = _fans_per_vertex(tri, V, edges, half_to_edge)
    nm_vert = fans > 1
    nm_vert[edges[nm_edge].ravel()] = True
    report.non_manifold_verts = int(nm_vert.sum())
    if report.non_manifold_verts:
        problems.append(
            f"{report.non_manifold_verts} vertices are non-manifold (several fans of faces meet there, "
            "or a non-manifold edge ends there)"
        )
    report.inconsistent_winding_edges = inconsistent_winding_count(tri)
    if report.inconsistent_winding_edges:
        problems.append(
            f"{report.inconsistent_winding_edges} edges have faces on both sides with opposite normals "
            "(inconsistent winding)"
        )

    report.components, _ = face_components(len(tri), half_to_edge, counts)
    if report.components > 1:
        notes.append(f"{report.components} connected components")
    boundary = edges[counts == 1]
    report.boundary_edges = int(len(boundary))
    if len(boundary):
        on_boundary = np.zeros(V, dtype=bool)
        on_boundary[boundary.ravel()] = True
        report.boundary_loops = count_components(boundary, V, on_boundary)
        notes.append(f"{report.boundary_loops} boundary loop(s) of {report.boundary_edges} edges (open surface)")
    return report


def out_of_range_message(faces: np.ndarray, n_verts: int) -> str:
    """Words for the out-of-range faces of ``faces`` (F, 3): how many, which index, how many vertices.

    ``"12 faces reference vertex 5001 but the mesh has 5000 vertices"`` when one index is wrong;
    otherwise the count, the valid range and the farthest index as an example.
    """
    oob = out_of_range_face_mask(faces, n_verts)
    n = int(oob.sum())
    bad = faces[oob]
    values = np.unique(bad[(bad < 0) | (bad >= n_verts)])
    faces_word = "1 face references" if n == 1 else f"{n} faces reference"
    if len(values) == 1:
        return f"{faces_word} vertex {int(values[0])} but the mesh has {n_verts} vertices"
    worst = int(values[-1]) if values[-1] >= n_verts else int(values[0])
    return (
        f"{faces_word} vertices outside 0..{n_verts - 1} (e.g. vertex {worst}) "
        f"but the mesh has {n_verts} vertices"
    )
