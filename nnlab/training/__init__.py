"""Training: the loop (``loop``), its callbacks (``callbacks``, ``persistence``), a run's state in a
checkpoint (``state``), resuming (``resuming``) and the learning rules (``rules``).

``train(config)`` starts a run and ``resume(run_dir)`` continues one; both return a ``RunResult``. The names
are imported on first use, so that ``nnlab.config`` can import ``nnlab.training.rules`` without the loop.
"""

__all__ = ["RunResult", "Trainer", "open_run", "resume", "start", "train"]

_WHERE = {
    "RunResult": "loop",
    "Trainer": "loop",
    "start": "loop",
    "train": "loop",
    "open_run": "resuming",
    "resume": "resuming",
}


def __getattr__(name):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"nnlab.training.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'nnlab.training' has no attribute '{name}'")
