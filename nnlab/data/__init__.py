"""Datasets (a registry of loaders), splits and preprocessing."""

from nnlab.data.core import Dataset, Splits, load_splits

__all__ = ["Dataset", "Splits", "load_splits"]
