"""nnlab: train and study multi-layer perceptrons in NumPy from one YAML file.

The library, for a notebook (each name imported on first use, so that ``import nnlab`` stays light):

- ``nnlab.build(config)``: the ``Experiment`` of a config (a dict, a YAML file, a ``Config``): data,
  network, loss, optimizer, schedule, built and not trained;
- ``nnlab.train(config, runs_dir)``: train it into a run folder; the result holds the trained network;
- ``nnlab.resume(run_dir)``: continue a stopped run exactly;
- ``nnlab.gradcheck(config_or_experiment)``: backprop against finite differences;
- ``nnlab.load_run(path, checkpoint=None)``: a trained run (best, or last where it never had a best) with ``predict`` and ``predict_proba``;
- ``nnlab.inspect(config_or_run_dir)``: each layer's activations, gradients and update ratios on a batch;
- ``nnlab.load_config(path, overrides)``: a validated ``Config``.
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

__all__ = ["Experiment", "__version__", "build", "gradcheck", "inspect", "load_config", "load_run", "resume", "train"]

_WHERE = {
    "build": "nnlab.api",
    "train": "nnlab.api",
    "gradcheck": "nnlab.api",
    "resume": "nnlab.training.resuming",
    "load_run": "nnlab.inference",
    "inspect": "nnlab.inspection",
    "load_config": "nnlab.config",
    "Experiment": "nnlab.experiment",
}


#: submodules a notebook reaches as attributes after a bare ``import nnlab`` (``nnlab.registry.build(...)``)
_SUBMODULES = ("registry", "config", "metrics")


def __getattr__(name):
    import importlib

    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"nnlab.{name}")
    raise AttributeError(f"module 'nnlab' has no attribute '{name}'")
