"""``method: tpe``: Optuna's TPE sampler through its ask-and-tell interface (the optional extra ``optuna``).

The study lives in ``optuna.journal`` in the sweep folder (Optuna's JournalStorage on a file), so that
``optuna-dashboard optuna.journal`` opens a running or finished sweep, and a resumed sweep finds the study
as it was: the values of every trial that was asked for are read back, never drawn again.

Each job of a trial is an Optuna trial: a new trial's values are asked for; a trial promoted by ASHA or
Hyperband continues as a new Optuna trial with the same values (enqueued), which carries the values
reported at the rungs before. A job told ``pruned`` (paused at a rung) keeps its intermediate values, from
which TPE learns as soon as the rung ends; a job that reached the last rung is told ``complete``. The user
attribute ``nnlab_trial`` names the sweep's trial (its run folder ``trial-NNN-*``).

Each ask uses a sampler seeded from the sweep's seed and the trial's number, so that the serial executor
asks for the same values whether or not the sweep was interrupted and resumed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from nnlab.errors import ConfigError

JOURNAL = "optuna.journal"
STUDY = "nnlab"


def require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError(
            'method: tpe needs Optuna: pip install "nnlab[optuna]" (in a source checkout: pip install -e ".[optuna]")'
        ) from None


def _label(value):
    """A choice as Optuna can store it: a scalar as itself, a list or mapping as its JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def distributions(parameters: dict) -> dict:
    """The sweep's space as Optuna distributions, by dotted path."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for path, d in parameters.items():
        if d.distribution == "choice":
            out[path] = CategoricalDistribution([_label(v) for v in d.values])
        elif d.distribution == "int":
            out[path] = IntDistribution(math.ceil(d.low), math.floor(d.high), log=d.log)
        else:
            out[path] = FloatDistribution(d.low, d.high, log=d.distribution != "uniform")
    return out


def decode(parameters: dict, params: dict) -> dict:
    """An Optuna trial's params as the sweep's values (choices back to their lists; q rounding applied)."""
    values = {}
    for path, d in parameters.items():
        v = params[path]
        if d.distribution == "choice":
            v = d.values[[_label(c) for c in d.values].index(v)]
        elif d.distribution == "qloguniform":
            v = float(max(d.low, round(v / d.q) * d.q))
        values[path] = v
    return values


class Study:
    """The sweep's Optuna study, in the sweep folder's journal file."""

    def __init__(self, sweep_dir, sweep):
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.sweep = optuna, sweep
        storage = JournalStorage(JournalFileBackend(str(Path(sweep_dir) / JOURNAL)))
        direction = "maximize" if sweep.mode == "max" else "minimize"
        self.study = optuna.create_study(study_name=STUDY, storage=storage, direction=direction, load_if_exists=True)
        self.dists = distributions(sweep.parameters)

    def _sampler(self, index: int):
        import numpy as np

        seed = int(np.random.SeedSequence([self.sweep.seed, index]).generate_state(1)[0])
        startup = min(10, max(2, self.sweep.trials // 5))
        return self.optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)

    def asked(self) -> dict[int, dict]:
        """The values of every sweep trial asked for so far, by trial number (a resumed sweep's)."""
        out = {}
        for t in self.study.get_trials(deepcopy=False):
            index = t.user_attrs.get("nnlab_trial")
            if index is not None and t.user_attrs.get("job") == 0 and set(self.dists) <= set(t.params):
                out[int(index)] = decode(self.sweep.parameters, t.params)
        return out

    def ask(self, index: int) -> tuple[dict, int]:
        """New values for trial ``index``: ``(values, optuna trial number)``."""
        self.study.sampler = self._sampler(index)
        trial = self.study.ask(self.dists)
        trial.set_user_attr("nnlab_trial", index)
        trial.set_user_attr("job", 0)
        return decode(self.sweep.parameters, trial.params), trial.number

    def promote(self, index: int, values: dict, rungs: dict, job: int) -> int:
        """A new Optuna trial for trial ``index``'s next job, with its values and the rungs it reported."""
        params = {}
        for path, d in self.sweep.parameters.items():
            v = values[path]
            params[path] = _label(v) if d.distribution == "choice" else v
        self.study.enqueue_trial(params, user_attrs={"nnlab_trial": index, "job": job}, skip_if_exists=False)
        self.study.sampler = self._sampler(index)
        trial = self.study.ask(self.dists)
        for epochs, value in rungs.items():
            if value is not None and value == value:
                trial.report(float(value), int(epochs))
        return trial.number

    def tell(self, number: int, state: str, value: float | None, step: int | None) -> None:
        """End Optuna trial ``number``: ``complete`` (with ``value``), ``pruned`` (with ``value`` reported at
        ``step``, its epochs) or ``fail``. A trial told before (by a sweep interrupted since) stays as told."""
        from optuna.trial import Trial, TrialState

        frozen = self.study.get_trials(deepcopy=False)[number]
        if frozen.state.is_finished():
            return
        ok = value is not None and value == value and math.isfinite(value)
        if state == "complete" and ok:
            self.study.tell(number, float(value), skip_if_finished=True)
            return
        if state == "pruned" and ok:
            if step is not None and step not in frozen.intermediate_values:
                Trial(self.study, frozen._trial_id).report(float(value), int(step))
            self.study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
            return
        self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
