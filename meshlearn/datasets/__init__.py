"""Datasets: procedural bodies and shape classes with ground truth, readers for public layouts, a torch Dataset."""

from .body import PART_NAMES, Body
from .dataset import Item, MeshDataset, normalize_shape
from .shape_classes import SHAPE_CLASSES, ClassShape, generate_class_shape, write_class_dataset
from .readers import LAYOUTS, Record, Sample, Split, detect_layout, load_sample, read_dataset, read_split
from .synthetic import SyntheticShape, Template, generate_shape, generate_shapes, make_template, write_dataset

__all__ = [
    "LAYOUTS",
    "SHAPE_CLASSES",
    "ClassShape",
    "PART_NAMES",
    "Body",
    "Item",
    "MeshDataset",
    "Record",
    "Sample",
    "Split",
    "SyntheticShape",
    "Template",
    "detect_layout",
    "generate_class_shape",
    "generate_shape",
    "generate_shapes",
    "load_sample",
    "make_template",
    "normalize_shape",
    "read_dataset",
    "read_split",
    "write_class_dataset",
    "write_dataset",
]
