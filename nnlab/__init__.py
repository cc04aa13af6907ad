"""nnlab: train and study multi-layer perceptrons in NumPy from one YAML file.

``nnlab.load_run(path, checkpoint="best")`` loads a trained run folder as a model with ``predict`` and
``predict_proba`` (imported on first use, so that ``import nnlab`` stays light).
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# OpenBLAS's idle threads spin for ~0.1 s after each matmul before they sleep, holding the cores that the
# optimizer's update (split across threads, nnlab.parallel) needs between two matmuls: Adam's epoch on
# Fashion-MNIST took 0.85 s spinning, 0.69 s with them asleep at once. Read by OpenBLAS when it loads, so
# only set here before NumPy is imported, and never over a value the user chose.
if "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__all__ = ["__version__", "load_run"]


def __getattr__(name):
    if name == "load_run":
        from nnlab.inference import load_run

        return load_run
    raise AttributeError(f"module 'nnlab' has no attribute '{name}'")
