"""Hyper-parameter search over a base config: random or grid, in local processes or on a Dask cluster."""

from nnlab.sweep.runner import run_sweep
from nnlab.sweep.space import SweepConfig, load_sweep, plan_trials

__all__ = ["SweepConfig", "load_sweep", "plan_trials", "run_sweep"]
