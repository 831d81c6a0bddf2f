"""Datasets: procedural bodies, body families' scans and shape classes with ground truth, readers
for public layouts, a streaming torch Dataset, validation splits."""

from .body import PART_NAMES, Body
from .body_families import FAMILIES, BodyFamily, Proportions
from .dataset import IndexEntry, Item, MeshDataset, collate_items, nbytes_of, normalize_shape
from .readers import (
    DEFAULT_NORMALIZE,
    LAYOUTS,
    Record,
    Sample,
    Split,
    detect_layout,
    load_sample,
    load_shape,
    read_dataset,
    read_split,
)
from .shape_classes import SHAPE_CLASSES, ClassShape, generate_class_shape, write_class_dataset
from .pairs import PAIRS_FILE, find_pairs_file, ordered_pairs, read_pairs
from .splits import stratum_of, validation_split
from .standard_splits import STANDARD_SPLITS, standard_split
from .synthetic import SyntheticShape, Template, generate_shape, generate_shapes, make_template, write_dataset
from .synthetic_scans import FamilyTemplate, SyntheticScan, generate_scan, make_family_template, write_scan_dataset

__all__ = [
    "DEFAULT_NORMALIZE",
    "FAMILIES",
    "BodyFamily",
    "FamilyTemplate",
    "Proportions",
    "SyntheticScan",
    "generate_scan",
    "make_family_template",
    "write_scan_dataset",
    "LAYOUTS",
    "PAIRS_FILE",
    "STANDARD_SPLITS",
    "SHAPE_CLASSES",
    "ClassShape",
    "PART_NAMES",
    "Body",
    "IndexEntry",
    "Item",
    "MeshDataset",
    "Record",
    "Sample",
    "Split",
    "SyntheticShape",
    "Template",
    "collate_items",
    "detect_layout",
    "find_pairs_file",
    "generate_class_shape",
    "generate_shape",
    "generate_shapes",
    "load_sample",
    "load_shape",
    "make_template",
    "nbytes_of",
    "normalize_shape",
    "ordered_pairs",
    "read_dataset",
    "read_pairs",
    "read_split",
    "standard_split",
    "stratum_of",
    "validation_split",
    "write_class_dataset",
    "write_dataset",
]
