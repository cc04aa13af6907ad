"""``nnlab init``: a commented starter config for a dataset of the registry, sized from the data.

The dataset is built once, as a run builds it, to learn its task and how many examples, features and
classes it has; the model, optimizer, schedule and training settings follow from those by the rules of
``choose``. A dataset read from the user's own file (``csv``, ``idx``, ``npz``) is built from the
arguments given (``path=…``, ``target=…``); without them the starter is a template, its placeholders
marked ``←``, to fill in before training.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from nnlab.errors import ConfigError, did_you_mean

#: what each dataset argument means, for the comment beside it ((dataset, argument) first, then argument)
NOTES = {
    "n_samples": "examples in all, before the split",
    "noise": "standard deviation of the noise added to each point",
    ("xor", "noise"): "Gaussian noise added to the 0/1 inputs (0: the exact table)",
    ("and", "noise"): "Gaussian noise added to the 0/1 inputs (0: the exact table)",
    ("or", "noise"): "Gaussian noise added to the 0/1 inputs (0: the exact table)",
    "repeat": "copies of the four rows",
    "classes": "number of classes",
    ("blobs", "features"): "input dimensions",
    ("spirals", "classes"): "number of arms = number of classes",
    "spread": "distance of the cluster centres from the origin",
    "factor": "radius of the inner circle relative to the outer one",
    "periods": "periods of the sine over the x range",
    "turns": "how far each arm winds, in turns",
    "path": "← your file, relative to the folder you run nnlab in",
    ("fashion_mnist", "path"): "the folder of the four files",
    "target": "← the column to predict",
    "features": "the feature columns (default: every other numeric column)",
    "drop": "columns that are not features (ids, free text)",
    "task": "classification | regression (default: from the target)",
    "missing": "error | drop | mean: what to do with empty cells",
    "sep": "the column separator",
    "max_classes": "integer targets with at most this many values are classes",
    "images": "← your images file (IDX, gzipped or not)",
    "labels": "← its labels file",
    "test_images": "an official test pair, kept as the test split",
    "test_labels": "its labels",
    "class_names": "a name per class, in label order",
    "limit": "keep the first N training images, for quick trials",
    "test_limit": "keep the first N test images",
}
#: stand-ins for the arguments a file dataset needs (the template's ← lines)
PLACEHOLDERS = {
    ("csv", "path"): "data.csv",
    ("csv", "target"): "label",
    ("npz", "path"): "data.npz",
    ("idx", "images"): "train-images-idx3-ubyte.gz",
    ("idx", "labels"): "train-labels-idx1-ubyte.gz",
}
#: arguments worth showing, commented out, where their default is null
HINTS = {"limit": 5000, "test_limit": 1000, "drop": ["id"], "task": "classification"}


@dataclass
class Shape:
    """What the starter needs to know of the data."""

    task: str  # classification | regression
    n: int  # examples to split into train / val (/ test)
    n_features: int
    n_outputs: int
    whole_table: bool = False  # truth tables: every split is the whole table
    official_test: bool = False  # the dataset brings its own test split
    pixel_max: int | None = None  # whole-number pixels (images): their largest value
    known: bool = True  # False: a template, the data not read

    def describe(self) -> str:
        outputs = (
            _count(self.n_outputs, "class", "classes")
            if self.task == "classification"
            else (_count(self.n_outputs, "target", "targets"))
        )
        return f"{_count(self.n, 'example', 'examples')} of {_count(self.n_features, 'feature', 'features')}, {outputs}"


def shape_of(ds) -> Shape:
    """The shape of a built ``Dataset``."""
    X = ds.X
    pixel_max = int(X.max()) if X.dtype == np.uint8 and X.size else None  # images (digits, fashion_mnist, idx)
    return Shape(
        task=ds.task,
        n=len(X),
        n_features=X.shape[1],
        n_outputs=ds.n_outputs,
        whole_table=ds.whole_table,
        official_test=ds.X_test is not None,
        pixel_max=pixel_max if pixel_max and pixel_max > 1 else None,
    )


def choose(s: Shape) -> dict:
    """The settings for data of shape ``s``: sizes grow with the features, regularisation with scarcity."""
    if s.whole_table:  # four rows: full-batch descent with momentum learns them (configs/xor.yaml)
        return dict(
            split={"val": 0.0, "test": 0.0}, preprocess="none", hidden=[4], activation="tanh", dropout=0.0,
            optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9}, schedule="constant", l2=0.0,
            epochs=300, batch_size="full", patience=None,
        )  # fmt: skip
    if s.n_features >= 256:
        hidden = [256, 128]
    elif s.n_features >= 32:
        hidden = [128, 64]
    elif s.n < 400:
        hidden = [16]
    elif s.task == "classification" and s.n_outputs >= 3:
        hidden = [64, 64]
    else:
        hidden = [32, 32]
    epochs = 200 if s.n < 400 else 100 if s.n < 1000 else 50 if s.n < 20000 else 20
    return dict(
        split={"val": 0.1} if s.official_test else {"val": 0.2, "test": 0.2},
        preprocess={"name": "scale", "factor": s.pixel_max} if s.pixel_max else "standardize",
        hidden=hidden,
        activation="tanh" if s.task == "regression" or s.n < 400 else "relu",
        dropout=0.1 if s.n_features >= 32 else 0.0,
        optimizer={"name": "adam", "lr": 0.01 if s.n_features < 32 else 0.001},
        schedule="cosine",
        l2=0.001 if s.n < 400 else 0.0001,
        epochs=epochs,
        batch_size=16 if s.n < 200 else 32 if s.n < 20000 else 128,
        patience=max(5, epochs // 5),
    )


def starter_config(dataset: str, args: dict | None = None, filename: str | None = None) -> str:
    """The YAML text of a commented starter config for ``dataset`` (with its ``args``), checked to be a
    valid config. ``filename`` is where it will be written, for the "train it with" line."""
    from nnlab.config import parse_config

    name, args = _dataset(dataset, args or {})
    missing = [a for a in _required(name) if a not in args]
    shape = _template_shape(name) if missing else shape_of(_build(name, args))
    text = _render(name, args, missing, shape, choose(shape), filename)
    parse_config(text, source=f"the starter config of {name}")  # never hand out a config that does not load
    return text


def known_datasets() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every dataset of the registry, with what a file dataset needs."""
    from nnlab.registry import registry

    reg = registry("dataset")
    out = []
    for name in reg.names():
        needs = _required(name)
        given = f" Give {' '.join(f'{a}=…' for a in needs)}, or get a template to fill in." if needs else ""
        out.append((name, reg.describe(name) + given))
    return out


# ----- the dataset ------------------------------------------------------------------------------


def _dataset(dataset: str, args: dict) -> tuple[str, dict]:
    from nnlab.registry import registry

    reg = registry("dataset")
    if dataset not in reg:
        raise ConfigError(
            f"unknown dataset '{dataset}'{did_you_mean(dataset.lower(), reg.names())} "
            f"(datasets: {', '.join(reg.names())}; nnlab init --list describes them)"
        )
    name = reg.canonical(dataset)
    for key in args:  # their types are checked when the dataset is built
        if key not in _arguments(name):
            raise ConfigError(
                f"dataset '{name}' has no argument '{key}'{did_you_mean(key, _arguments(name))} "
                f"(accepted: {', '.join(_arguments(name)) or 'none'})"
            )
    return name, args


def _arguments(name: str) -> dict[str, inspect.Parameter]:
    from nnlab.registry import registry

    return registry("dataset").arguments(name, exclude=("rng",))


def _required(name: str) -> list[str]:
    return [a for a, p in _arguments(name).items() if p.default is inspect.Parameter.empty]


def _build(name: str, args: dict):
    from nnlab.registry import registry
    from nnlab.seeds import streams

    return registry("dataset").build({"name": name, **args}, rng=np.random.default_rng(streams(0)["data"]))


def _template_shape(name: str) -> Shape:
    """What a user's file most often holds, until it is read: MNIST-like images for ``idx``, a few numeric
    features and classes otherwise."""
    if name == "idx":
        return Shape(task="classification", n=60000, n_features=784, n_outputs=10, pixel_max=255, known=False)
    return Shape(task="classification", n=1000, n_features=8, n_outputs=2, known=False)


# ----- the text ---------------------------------------------------------------------------------


def _render(name: str, args: dict, missing: list[str], s: Shape, c: dict, filename: str | None) -> str:
    lines = _header(name, missing, s, c, filename)
    run_name = _run_name(name, args)
    lines += [("", None), (f"name: {run_name}", "prefix of the run folder's name: runs/<name>-<date>-<time>-<hex>/")]
    lines += [("seed: 0", "one seed → bit-identical runs"), ("dtype: float32", "or float64 for the whole run")]
    lines += [("", None), ("data:", None), (f"  name: {name}", "a dataset of the registry (nnlab init --list)")]
    lines += _data_arguments(name, args, missing)
    lines += _split_lines(s, c)
    lines += [("", None), ("model:", None), (f"  hidden: {_flow(c['hidden'])}", _hidden_note(s, c))]
    lines += [(f"  activation: {c['activation']}", _activation_note(c["activation"]))]
    if c["dropout"]:
        lines += [(f"  dropout: {_flow(c['dropout'])}", "inverted dropout after each hidden activation")]
    loss = "cross_entropy" if s.task == "classification" else "mse"
    lines += [("", None), (f"loss: {loss}", _loss_note(loss))]
    lines += [(f"optimizer: {_flow(c['optimizer'])}", _optimizer_note(c["optimizer"]))]
    lines += [(f"schedule: {c['schedule']}", _schedule_note(c["schedule"]))]
    if c["l2"]:
        lines += [(f"regularization: {{l2: {_flow(c['l2'])}}}", "adds λ/2 Σw² over the weights (never biases)")]
    lines += [("", None), ("training:", None), (f"  epochs: {c['epochs']}", "passes over the training split")]
    lines += [(f"  batch_size: {c['batch_size']}", "1 = SGD, B = mini-batches, full = full-batch descent")]
    if c["patience"]:
        lines += [("  early_stopping:", "stop when val_loss has not improved for `patience` epochs")]
        lines += [("    monitor: val_loss", None), (f"    patience: {c['patience']}", None)]
        lines += [("    restore_best: true", "and go back to the best epoch's weights")]
    return "\n".join(_line(text, note) for text, note in lines) + "\n"


def _run_name(name: str, args: dict) -> str:
    """The dataset's name, or the stem of the user's file (penguins.csv → penguins)."""
    import re
    from pathlib import Path

    stem = Path(str(args.get("path") or args.get("images") or "")).stem.removesuffix(".gz")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).lstrip(".")
    return _flow(stem) if stem else name


def _line(text: str, note: str | None) -> str:
    if note is None:
        return text
    if not text:
        return f"{'':<32}# {note}"
    return f"{text:<31} # {note}" if len(text) < 32 else f"{text}  # {note}"


def _header(name, missing, s: Shape, c: dict, filename) -> list[tuple[str, None]]:
    import textwrap

    from nnlab.registry import registry

    sizes = "-".join(str(k) for k in [s.n_features, *c["hidden"], s.n_outputs])
    paragraphs = [f"{name}: {registry('dataset').describe(name)}"]
    if s.known:
        paragraphs += [f"Written by `nnlab init {name}` from the data ({s.describe()}): a {sizes} network."]
    else:
        given = " ".join(f"{a}=…" for a in missing)
        paragraphs += [
            f"A template: `nnlab init {name}` has not read your data. Replace the values marked ← "
            f"({', '.join(missing)}) and review model.hidden, sized here for {_guess(name)}; or run "
            f"`nnlab init {name} {given}`, which reads the data and sizes the network from it."
        ]
    paragraphs += [
        f"Train it with: nnlab train {filename or 'FILE.yaml'}. Change any value with -o key=value; every key "
        'is in the README, "A config, walked through"; `nnlab components` lists the choices.'
    ]
    wrapped = [textwrap.wrap(p, 98, break_on_hyphens=False) for p in paragraphs]
    return [(f"# {line}", None) for lines in wrapped for line in lines]


def _guess(name: str) -> str:
    return "28×28 images of 10 classes" if name == "idx" else "a few numeric features"


def _data_arguments(name: str, args: dict, missing: list[str]) -> list[tuple[str, str | None]]:
    out = []
    for arg, p in _arguments(name).items():
        if arg in args:
            value = args[arg]
        elif arg in missing:
            value = PLACEHOLDERS.get((name, arg), "…")
        elif p.default is not None:
            value = p.default
        elif arg in HINTS:
            out.append((f"  # {arg}: {_flow(HINTS[arg])}", NOTES.get(arg)))
            continue
        else:
            continue
        note = NOTES.get((name, arg), NOTES.get(arg))
        if note and note.startswith("←") and arg not in missing:
            note = note[2:]
        out.append((f"  {arg}: {_flow(value)}", note))
    return out


def _split_lines(s: Shape, c: dict) -> list[tuple[str, str]]:
    split, pre = c["split"], c["preprocess"]
    if s.whole_table:
        split_note = "nothing to hold out: the rows are the whole problem"
    elif s.official_test:
        split_note = "validation from the train images; the official test split stays the test split"
    else:
        split_note = "fractions held out" + (", stratified by class" if s.task == "classification" else "")
    if pre == "none":
        pre_note = "the inputs are used as they are"
    elif isinstance(pre, dict):
        pre_note = f"pixel values 0–{pre['factor']} → [0, 1]"
    else:
        pre_note = "zero mean, unit variance; statistics from the train split only"
    return [(f"  split: {_flow(split)}", split_note), (f"  preprocess: {_flow(pre)}", pre_note)]


def _hidden_note(s: Shape, c: dict) -> str:
    if not s.known:
        return "hidden layer sizes; the input and output sizes come from the data"
    sizes = " → ".join(str(k) for k in [s.n_features, *c["hidden"], s.n_outputs])
    return f"{sizes}: the input and output sizes come from the data"


def _activation_note(activation: str) -> str:
    if activation == "relu":
        return "initializer defaults to he_normal for the ReLU family"
    return "smooth, for small data and regression; initializer defaults to xavier_normal"


def _loss_note(loss: str) -> str:
    if loss == "cross_entropy":
        return "a softmax output follows from the loss"
    return "mean squared error; a linear (identity) output follows"


def _optimizer_note(spec: dict) -> str:
    if spec["name"] == "sgd":
        return "gradient descent with momentum (deck 002)"
    return "Adam; the learning rate is the first thing to tune"


def _schedule_note(schedule: str) -> str:
    if schedule == "constant":
        return "the learning rate stays the same"
    return "the learning rate falls from lr to 0 along a half cosine over the epochs"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _flow(value) -> str:
    """A value in YAML flow style; floats never in exponent form (YAML 1.1 would read 1e-05 as text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, trim="0")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        import yaml

        dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000)
        return dumped.removesuffix("\n").removesuffix("\n...")
    return str(value)
