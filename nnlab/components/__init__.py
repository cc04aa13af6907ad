"""Built-in components; importing this package registers them all."""

from nnlab.components import (  # noqa: F401
    activations,
    initializers,
    layers,
    losses,
    optimizers,
    regularizers,
    schedules,
)
