"""Batch preprocessing: compute and cache the operators of a folder of shapes.

``meshlearn.preprocess(inputs, out, ...)`` and the ``meshlearn preprocess`` command. Work runs in
this process, on a local process pool, or on a Dask cluster; each shape's outcome is one line of
``OUT/manifest.jsonl``; a killed run loses only the shapes in progress and a rerun resumes.

On the top-level namespace ``meshlearn.preprocess`` is the function; import the helpers from this
package explicitly: ``from meshlearn.preprocess import read_manifest, expand_inputs``.
"""

from .api import NET_ALIASES, PreprocessInterrupted, preprocess, resolve_spec
from .inputs import SUPPORTED_SUFFIXES, expand_inputs
from .manifest import MANIFEST_NAME, latest_by_source, read_manifest
from .summary import Summary

__all__ = [
    "MANIFEST_NAME",
    "NET_ALIASES",
    "PreprocessInterrupted",
    "SUPPORTED_SUFFIXES",
    "Summary",
    "expand_inputs",
    "latest_by_source",
    "preprocess",
    "read_manifest",
    "resolve_spec",
]
