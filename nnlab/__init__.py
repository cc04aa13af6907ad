"""nnlab: train and study multi-layer perceptrons in NumPy from one YAML file.

``nnlab.load_run(path, checkpoint="best")`` loads a trained run folder as a model with ``predict`` and
``predict_proba`` (imported on first use, so that ``import nnlab`` stays light).
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_run"]


def __getattr__(name):
    if name == "load_run":
        from nnlab.inference import load_run

        return load_run
    raise AttributeError(f"module 'nnlab' has no attribute '{name}'")
