"""One seed, one independent random stream per purpose (SeedSequence.spawn), so that changing how many
draws one purpose makes never shifts another's."""

from __future__ import annotations

import numpy as np

PURPOSES = ("data", "split", "init", "shuffle", "dropout")


def streams(seed: int) -> dict[str, np.random.SeedSequence]:
    return dict(zip(PURPOSES, np.random.SeedSequence(seed).spawn(len(PURPOSES))))


def generators(seed: int) -> dict[str, np.random.Generator]:
    return {k: np.random.default_rng(ss) for k, ss in streams(seed).items()}
