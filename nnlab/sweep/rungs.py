"""Early stopping of hopeless trials: the median rule, and successive halving on epochs (ASHA, Hyperband).

ASHA (Li et al., MLSys 2020) trains each new trial to the first rung, ``min_epochs`` epochs, where it waits
(status ``paused``). Rung k is ``min_epochs · η^k`` epochs (η = ``reduction_factor``), up to ``max_epochs``.
Whenever a worker is free it takes the best job there is: the best paused trial that ranks in the top 1/η
of all the trials that reached its rung (the highest rung first), else a new trial. Nothing ever waits for
a rung to fill. A promoted trial continues in its own run folder, resumed exactly from its checkpoint, so
that its metrics and checkpoints are those of a run trained that long without a stop.

Hyperband (Li et al., JMLR 2018) in its asynchronous form runs several such ladders ("brackets") side by
side: bracket s starts its trials at ``min_epochs · η^s`` epochs, so bracket 0 is the most aggressive and
the last the most patient; new trials go to the brackets in turn (trial i to bracket i mod brackets).

A trial's score at a rung is the best value of the sweep's metric over its epochs up to that rung.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

#: the keys each rule takes (besides ``rule``)
RULE_KEYS = {
    "median": {"after", "min_trials"},
    "asha": {"min_epochs", "max_epochs", "reduction_factor"},
    "hyperband": {"min_epochs", "max_epochs", "reduction_factor", "brackets"},
}


class PruneConfig(BaseModel):
    """``prune:`` of a sweep file. median: ``after``, ``min_trials``; asha: ``min_epochs``, ``max_epochs``
    (default: the base config's training.epochs), ``reduction_factor``; hyperband: those and ``brackets``."""

    model_config = ConfigDict(extra="forbid")
    rule: Literal["median", "asha", "hyperband"] = "median"
    after: StrictInt = Field(5, ge=1, description="epochs a trial runs before it can be pruned")
    min_trials: StrictInt = Field(2, ge=1, description="finished trials needed before the median means anything")
    min_epochs: StrictInt = Field(1, ge=1, description="the first rung, in epochs")
    max_epochs: StrictInt | None = Field(None, ge=1, description="the last rung (default: training.epochs)")
    reduction_factor: StrictInt = Field(3, ge=2, description="η: the top 1/η of a rung is promoted")
    brackets: StrictInt | None = Field(None, ge=1, description="hyperband's brackets (default: every one)")

    @model_validator(mode="after")
    def _keys_of_the_rule(self):
        stray = sorted(self.model_fields_set - RULE_KEYS[self.rule] - {"rule"})
        if stray:
            takes = ", ".join(sorted(RULE_KEYS[self.rule]))
            raise ValueError(f"rule {self.rule} does not take {', '.join(stray)} (it takes {takes})")
        if self.max_epochs is not None and self.min_epochs > self.max_epochs:
            raise ValueError(f"min_epochs ({self.min_epochs}) must be ≤ max_epochs ({self.max_epochs})")
        return self

    @property
    def halving(self) -> bool:
        return self.rule in ("asha", "hyperband")


class Rungs:
    """The rungs (in epochs) of every bracket of an ASHA or Hyperband schedule."""

    def __init__(self, min_epochs: int, max_epochs: int, eta: int, brackets: int | None, hyperband: bool):
        self.eta, self.max = eta, max_epochs
        self.ladder = ladder(min_epochs, max_epochs, eta)
        most = len(self.ladder)
        if brackets is not None and brackets > most:
            raise ValueError(f"brackets: at most {most} with these rungs ({', '.join(map(str, self.ladder))} epochs)")
        self.brackets = (brackets or most) if hyperband else 1

    @classmethod
    def of(cls, prune: PruneConfig, max_epochs: int) -> Rungs:
        return cls(prune.min_epochs, max_epochs, prune.reduction_factor, prune.brackets, prune.rule == "hyperband")

    def levels(self, bracket: int) -> list[int]:
        """The epochs of bracket ``bracket``'s rungs, the last being ``max_epochs``."""
        return self.ladder[bracket:]

    def bracket_of(self, index: int) -> int:
        return index % self.brackets

    def first(self, index: int) -> int:
        """The epochs a new trial ``index`` trains before its first rung."""
        return self.levels(self.bracket_of(index))[0]

    def rung_of(self, bracket: int, epochs: int) -> int | None:
        levels = self.levels(bracket)
        return levels.index(epochs) if epochs in levels else None

    def promotion(self, trials, mode: str):
        """``(trial, epochs)``: the paused trial to train on and to which rung, the highest rung first (then
        the lowest bracket, then the best score); None where no paused trial ranks in its rung's top 1/η."""
        best = None
        for bracket in range(self.brackets):
            levels = self.levels(bracket)
            for k in range(len(levels) - 2, -1, -1):
                at = [t for t in trials if t.bracket == bracket and str(levels[k]) in t.rungs]
                top = sorted(at, key=lambda t, e=levels[k]: score_key(t.rungs[str(e)], mode, t.index))
                top = top[: len(at) // self.eta]
                waiting = [t for t in top if t.status == "paused" and t.epochs == levels[k]]
                if waiting and (best is None or levels[k] > best[2]):
                    best = (waiting[0], levels[k + 1], levels[k])
                if waiting:
                    break
        return None if best is None else best[:2]


def ladder(min_epochs: int, max_epochs: int, eta: int) -> list[int]:
    """``min_epochs · η^k`` below ``max_epochs``, then ``max_epochs``: ``ladder(1, 27, 3) == [1, 3, 9, 27]``."""
    out, r = [], min_epochs
    while r < max_epochs:
        out.append(r)
        r *= eta
    return [*out, max_epochs]


def score_key(value, mode: str, index: int) -> tuple:
    """Sort key of a score: the best first, a missing one (None, NaN) last, ties by trial number."""
    if value is None or value != value:
        return (1, 0.0, index)
    return (0, -value if mode == "max" else value, index)
