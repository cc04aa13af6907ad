"""The same MLP trained by nnlab, PyTorch (CPU) and scikit-learn, epoch by epoch, for a fair side-by-side.

Each runner takes float32 arrays (features already scaled, class indices as targets) and yields after every
epoch, so the driver can interleave the frameworks and time each epoch under the same machine load.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np


def weights_of(sizes: list[int]) -> int:
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


# ----------------------------------------------------------------------------------------------- nnlab
def nnlab_config(data, hidden, optimizer, batch_size, epochs=1, activation="relu", loss=None, output=None, seed=0):
    return {
        "name": "bench",
        "seed": seed,
        "data": data,
        "model": {"hidden": list(hidden), "activation": activation, **({"output": output} if output else {})},
        "optimizer": optimizer,
        "training": {"epochs": epochs, "batch_size": batch_size},
        **({"loss": loss} if loss else {}),
    }


def nnlab_steps(data: dict, hidden, optimizer: dict, batch_size: int, seed=0):
    """``steps(n)``: n more of the training steps of nnlab's loop (a shuffled batch gathered, then
    ``Experiment.train_step``), without the epoch around them, so that a caller can time short runs of
    steps and interleave them finely."""
    return config_steps(nnlab_config(data, hidden, optimizer, batch_size, seed=seed))


def config_steps(raw: dict):
    """``nnlab_steps`` for a whole config (a dict, as a YAML file holds it); ``steps.experiment`` is the
    Experiment it trains."""
    from nnlab.config import validate
    from nnlab.experiment import Experiment

    exp = Experiment.from_config(validate(raw))
    X, y, B, seed = exp.splits.X_train, exp.splits.y_train, exp.batch_size, raw.get("seed", 0)
    lr = raw["optimizer"]["lr"]
    perm = np.random.default_rng(seed).permutation(len(X))
    xb, yb = np.empty((B, X.shape[1]), X.dtype), np.empty(B, y.dtype)
    at = [0]

    def steps(n: int) -> None:
        for _ in range(n):
            i = at[0] = (at[0] + B) % (len(X) - B)
            np.take(X, perm[i : i + B], axis=0, out=xb, mode="clip")
            np.take(y, perm[i : i + B], axis=0, out=yb, mode="clip")
            exp.train_step(xb, yb, lr)

    steps.experiment = exp
    return steps


def nnlab_epochs(
    data: dict,
    hidden,
    optimizer: dict,
    batch_size,
    epochs: int,
    activation="relu",
    loss=None,
    output=None,
    seed=0,
    between=None,
    before=None,
):
    """nnlab's own Trainer (the code path of `nnlab train`, without rendering). Returns the trainer, its
    result and each epoch's seconds, from the epoch's start to its end (its metrics included, the run
    folder's writes, at most once a second, not). ``between(trainer)``, called after each epoch, is where
    the other frameworks run theirs, so that all of them meet the machine's load alike; ``before(epoch)``,
    called before each epoch's clock starts, may change how the next epoch runs (nnlab's speed paths)."""
    from nnlab.config import validate
    from nnlab.training import start
    from nnlab.training.callbacks import Callback

    raw = nnlab_config(data, hidden, optimizer, batch_size, epochs, activation, loss, output, seed)

    class Clock(Callback):
        def __init__(self):
            self.times = []

        def on_epoch_begin(self, trainer, epoch):
            if before is not None:
                before(epoch)
            self.start = time.perf_counter()

        def on_epoch_end(self, trainer, epoch, row):
            self.times.append(time.perf_counter() - self.start)
            if between is not None:
                between(trainer)

    clock = Clock()
    with tempfile.TemporaryDirectory() as runs:
        trainer = start(validate(raw), runs, callbacks=[clock])
        result = trainer.fit()
    return trainer, result, np.array(clock.times)


# ---------------------------------------------------------------------------------------------- PyTorch
def torch_model(sizes, activation="relu", output_sigmoid=False, seed=0):
    import torch

    torch.manual_seed(seed)
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[activation]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return torch.nn.Sequential(*layers)


def torch_epochs(
    X,
    y,
    sizes,
    optimizer: str,
    lr: float,
    batch_size: int,
    epochs: int,
    activation="relu",
    binary=False,
    seed=0,
    threads=None,
    model=None,
):
    """A tight PyTorch loop: randperm, index, forward, loss, backward, step. Yields each epoch's seconds.
    ``threads``: torch.set_num_threads before each epoch (other runs in the process may set theirs between);
    ``model``: a model of one's own in place of ``torch_model(sizes)``; ``optimizer``: adam, adamw, sgd or
    ``("adamw", {"weight_decay": 0.05})``."""
    import torch

    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    yt = torch.from_numpy(y.astype(np.float32).reshape(-1, 1)) if binary else torch.from_numpy(y.astype(np.int64))
    model = torch_model(sizes, activation, seed=seed) if model is None else model
    name, extra = optimizer if isinstance(optimizer, tuple) else (optimizer, {})
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[name]
    opt = kind(model.parameters(), lr=lr, **extra)
    loss_fn = torch.nn.BCEWithLogitsLoss() if binary else torch.nn.CrossEntropyLoss()
    n = len(Xt)
    gen = torch.Generator().manual_seed(seed)
    full = batch_size >= n
    for _ in range(epochs):
        if threads:
            torch.set_num_threads(threads)
        t0 = time.perf_counter()
        perm = None if full else torch.randperm(n, generator=gen)
        for s in range(0, n, batch_size):
            if full:
                xb, yb = Xt, yt
            else:
                idx = perm[s : s + batch_size]
                xb, yb = Xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        yield time.perf_counter() - t0, model


def torch_shipped_model(sizes, dropout: float, seed=0):
    """The shipped Fashion-MNIST config's network in PyTorch: per hidden layer Linear, BatchNorm1d, ReLU,
    Dropout (nnlab's order), then a Linear output."""
    import torch

    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.BatchNorm1d(b), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
    return torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-2], sizes[-1])).train()


def torch_accuracy(model, X, y, binary=False) -> float:
    import torch

    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))
    pred = (out[:, 0] > 0).long().numpy() if binary else out.argmax(1).numpy()
    return float((pred == y).mean())


# ------------------------------------------------------------------------------------------- scikit-learn
def sklearn_epochs(X, y, hidden, optimizer: str, lr: float, batch_size: int, epochs: int, activation="relu", seed=0):
    """MLPClassifier.partial_fit: one epoch over X per call, float32 kept. Yields each epoch's seconds."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(hidden),
        activation=activation,
        solver=optimizer,
        learning_rate_init=lr,
        batch_size=batch_size,
        alpha=0.0,
        random_state=seed,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=True,
    )
    classes = np.unique(y)
    for _ in range(epochs):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(X, y, classes=classes)
        yield time.perf_counter() - t0, clf
