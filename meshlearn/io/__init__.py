"""Files and objects in, :class:`~meshlearn.shape.Shape` out, and back to files.

- :func:`load` (:mod:`.load`): paths, arrays, trimesh / open3d / pyvista objects -> Shape, with
  optional repair (:mod:`.repair`) and normalisation (:mod:`.normalize`);
- :func:`read_file` (:mod:`.formats`): a file's vertices and polygons, each format through the
  reader measured to read it right;
- :func:`save` (:mod:`.save`): a Shape to ``.obj .ply .off .stl .xyz .pts``, atomically;
- :func:`validate` (:mod:`.check`): load anything as it is and report its defects.
"""

from .check import validate
from .formats import FILE_EXTENSIONS, MESH_EXTENSIONS, POINT_CLOUD_EXTENSIONS, read_file
from .load import load
from .normalize import DEFAULT_NORMALIZE, NORMALIZE_KINDS, normalize
from .polygons import Polygons, fan_triangulate
from .repair import Repaired, repair
from .save import save

__all__ = [
    "FILE_EXTENSIONS",
    "MESH_EXTENSIONS",
    "DEFAULT_NORMALIZE",
    "NORMALIZE_KINDS",
    "POINT_CLOUD_EXTENSIONS",
    "Polygons",
    "Repaired",
    "fan_triangulate",
    "load",
    "normalize",
    "read_file",
    "repair",
    "save",
    "validate",
]
