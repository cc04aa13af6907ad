"""One seed, one independent random stream per purpose (SeedSequence.spawn), so that changing how many
draws one purpose makes never shifts another's."""

from __future__ import annotations

import numpy as np

#: a purpose added later goes at the end: SeedSequence.spawn's i-th child does not depend on how many there are,
#: so the streams of the others stay what they were
PURPOSES = ("data", "split", "init", "shuffle", "dropout", "overfit", "augment")


def streams(seed: int) -> dict[str, np.random.SeedSequence]:
    return dict(zip(PURPOSES, np.random.SeedSequence(seed).spawn(len(PURPOSES))))


def generators(seed: int) -> dict[str, np.random.Generator]:
    return {k: np.random.default_rng(ss) for k, ss in streams(seed).items()}
