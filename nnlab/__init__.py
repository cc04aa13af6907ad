"""nnlab: train and study multi-layer perceptrons in NumPy from one YAML file."""

__version__ = "0.1.0"
