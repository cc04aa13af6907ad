"""The config schema (pydantic v2): sections, their fields and defaults, and the checks across them.

Component names and arguments are checked against the registry as the YAML is read; what each training rule
can train is asked of ``nnlab.training.rules``, and which loss fits which output of
``nnlab.components.compat``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Literal, Union

from pydantic import ConfigDict, Field, field_validator, model_validator

from nnlab.config.base import Section
from nnlab.config.yamlio import dump_yaml
from nnlab.errors import NnlabError
from nnlab.registry import registry

Spec = Union[str, dict[str, Any]]


@contextmanager
def _as_value_error(prefix: str = ""):
    """Registry errors raised inside a validator become pydantic's ValueError, so they get the dotted path."""
    try:
        yield
    except NnlabError as e:
        raise ValueError(f"{prefix}{e}") from None


def _check_spec(kind: str, spec, **kw):
    """The spec names a component of ``kind`` with arguments it accepts; built once, so that the component's
    own checks of its values (``momentum`` in [0, 1)) are the config's too, before anything runs."""
    if spec is None:
        return spec
    with _as_value_error():
        registry(kind).check(spec, **kw)
        if kind in ("activation", "loss", "optimizer"):
            registry(kind).build(spec)
    return spec


_Model = Section  # every section of this module derives from it


class SplitConfig(_Model):
    val: float = Field(0.2, ge=0, lt=1, description="fraction of the data held out for validation")
    test: float = Field(
        0.0, ge=0, lt=1, description="fraction held out for testing (unless the dataset has its own test split)"
    )
    seed: int | None = Field(None, ge=0, description="seed of the split; the run's seed when null")
    stratify: bool = True

    @model_validator(mode="after")
    def _fractions(self):
        if self.val + self.test >= 1:
            raise ValueError(f"val + test must be < 1, got {self.val} + {self.test}")
        return self


class DataConfig(_Model):
    """A dataset of the registry by ``name``, its own arguments beside it."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    name: str
    split: SplitConfig = SplitConfig()
    preprocess: Spec = "none"
    augment: dict[str, Any] | None = Field(
        None, description="random variants of the training images (nnlab.data.augment)"
    )
    image_shape: list[int] | None = Field(None, description="[height, width] of an example's pixels; default: a square")

    @field_validator("augment", "image_shape")
    @classmethod
    def _augment(cls, v, info):
        from nnlab.data.augment import check_augment, check_image_shape

        return check_augment(v) if info.field_name == "augment" else check_image_shape(v)

    @model_validator(mode="after")
    def _dataset_args(self):
        extra = dict(self.model_extra or {})
        with _as_value_error():
            registry("dataset").check({"name": self.name, **extra}, exclude=("rng",))
        return self

    @field_validator("preprocess")
    @classmethod
    def _preprocess(cls, v):
        from nnlab.data.preprocess import check_preprocess

        check_preprocess(v)
        return v

    def dataset_args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelConfig(_Model):
    hidden: list[int] | None = Field(None, description="hidden layer sizes; input and output sizes come from the data")
    activation: Spec = "relu"
    output: Spec | None = Field(None, description="output activation; default from the loss")
    initializer: Spec | None = Field(None, description="weight initializer; default from the activation")
    output_initializer: Spec | None = Field(None, description="the output layer's; default from the output activation")
    bias_initializer: Spec = "zeros"
    dropout: float = Field(0.0, ge=0, lt=1)
    batchnorm: bool = False
    layers: list[dict[str, Any]] | None = None

    @field_validator("hidden")
    @classmethod
    def _hidden(cls, v):
        for i, h in enumerate(v or []):
            if not isinstance(h, int) or isinstance(h, bool) or h < 1:
                raise ValueError(f"[{i}] must be a positive integer, got {h!r}")
        return v

    @field_validator("activation", "output")
    @classmethod
    def _activation(cls, v):
        return _check_spec("activation", v)

    @field_validator("initializer", "output_initializer", "bias_initializer")
    @classmethod
    def _initializer(cls, v):
        return _check_spec("initializer", v)

    @field_validator("layers")
    @classmethod
    def _layers(cls, v):
        for i, spec in enumerate(v or []):
            if "type" not in spec:
                raise ValueError(f"[{i}] needs a 'type' (one of: {', '.join(registry('layer').names())}), got {spec}")
            with _as_value_error(f"[{i}] "):
                registry("layer").check({"name": spec["type"], **{k: x for k, x in spec.items() if k != "type"}})
        return v

    @model_validator(mode="after")
    def _hidden_or_layers(self):
        if self.hidden is None and self.layers is None:
            raise ValueError("give either hidden (a list of layer sizes, [] for none) or layers (explicit layers)")
        if self.hidden is not None and self.layers is not None:
            raise ValueError("give hidden or layers, not both")
        return self


class EarlyStoppingConfig(_Model):
    monitor: str = "val_loss"
    patience: int = Field(5, ge=1)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = True
    mode: Literal["auto", "min", "max"] = "auto"


class DivergenceConfig(_Model):
    """When a run whose loss stays finite counts as diverged (``training.divergence``)."""

    factor: float = Field(100.0, gt=1, description="a training loss above factor × the initial loss is out of bounds")
    patience: int = Field(3, ge=1, description="epochs in a row out of bounds that end the run as diverged")


class TrainingConfig(_Model):
    epochs: int = Field(20, ge=1)
    batch_size: int | Literal["full"] = Field(32, description="1 = SGD, B = mini-batch, 'full' = full-batch GD")
    early_stopping: EarlyStoppingConfig | None = None
    monitor: str | None = Field(
        None,
        description="metric that picks best.safetensors (and the checkpoint of the test figures); default: early "
        "stopping's monitor, else val_accuracy for classification, val_loss for regression, train_loss without "
        "validation",
    )
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm")
    checkpoint_every: int | None = Field(None, ge=1, description="also keep epoch-NNNN.safetensors every K epochs")
    snapshots: int | None = Field(
        None,
        ge=1,
        description="keep the network's weights every K epochs (and before the first) in snapshots.safetensors, "
        "for nnlab plot --animate; held in memory until the run ends: for small networks",
    )
    tol: float | None = Field(None, gt=0, description="stop when Σ|W − W_old| over an epoch < tol (deck 003)")
    save_interval: float = Field(
        1.0,
        ge=0,
        description="seconds: epochs shorter than this update the run folder at most this often (0: every epoch)",
    )
    rule: Literal["backprop", "perceptron", "adaline"] = Field(
        "backprop",
        description="how the weights learn: backprop (gradients through every layer), perceptron (Rosenblatt's "
        "rule on one layer of step units) or adaline (Widrow–Hoff's delta rule on a linear unit), deck 002",
    )
    shuffle: bool = Field(True, description="present the training examples in a new random order every epoch")
    swa: Any = Field(None, description="stochastic weight averaging, {start: 0.75} (nnlab.training.averaging)")
    ema: Any = Field(None, description="exponential moving average of the weights, {decay: 0.999}")
    tensorboard: bool = Field(
        False,
        description="write TensorBoard event files into the run folder's tensorboard/ while training "
        "(pip install 'nnlab[tensorboard]'; nnlab export tensorboard writes them for finished runs)",
    )

    @field_validator("swa", "ema")
    @classmethod
    def _averaging(cls, v, info):
        from nnlab.training.averaging import check_averaging

        return check_averaging(info.field_name, v)

    divergence: DivergenceConfig | None = Field(
        DivergenceConfig(),
        description="end the run as diverged when the training loss stays above factor × its initial loss for "
        "patience epochs in a row (a non-finite loss always does); off (false) to let such a run go on",
    )
    diagnostics: bool = Field(
        False,
        description="per-layer gradient norms and update/weight ratios, means over each epoch's batches, as "
        "metrics.csv columns grad_norm_1, ..., update_ratio_1, ...",
    )

    @field_validator("divergence", mode="before")
    @classmethod
    def _divergence(cls, v):
        """``off`` / ``false`` turn the rule off (as null does), ``on`` / ``true`` give its defaults."""
        return None if v is False else {} if v is True else v

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError(f"must be a positive integer or 'full', got {v}")
        return v


class Config(_Model):
    name: str = "run"
    seed: int = Field(0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"
    data: DataConfig
    model: ModelConfig
    loss: Spec | None = Field(None, description="default: cross_entropy for classification, mse for regression")
    optimizer: Spec = {"name": "adam", "lr": 0.001}
    schedule: Spec = "constant"
    regularization: dict[str, Any] = {}
    training: TrainingConfig = TrainingConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not v or any(c in v for c in "/\\\0") or v.startswith("."):
            raise ValueError(f"must be a plain name usable in a folder name, got {v!r}")
        return v

    @field_validator("loss")
    @classmethod
    def _loss(cls, v):
        return _check_spec("loss", v)

    @field_validator("optimizer")
    @classmethod
    def _optimizer(cls, v):
        with _as_value_error():
            name, kwargs = registry("optimizer").check(v)
        lr = kwargs.get("lr", 1.0)
        if not lr > 0:
            raise ValueError(f".lr: must be > 0, got {lr}")
        return _check_spec("optimizer", v)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v):
        from nnlab.components.schedules import check_schedule

        with _as_value_error():
            check_schedule(v)
        return v

    @field_validator("regularization")
    @classmethod
    def _regularization(cls, v):
        from nnlab.components.regularizers import build_regularizer

        for name, value in (v or {}).items():
            try:
                build_regularizer(name, value)
            except NnlabError as e:  # said of the key the config wrote: regularization.l2: must be ≥ 0
                raise ValueError(f".{name}: {e}") from None
            except (ValueError, TypeError) as e:
                raise ValueError(f".{name}: {e}") from None
        return v

    @model_validator(mode="before")
    @classmethod
    def _rule_defaults(cls, raw):
        """The perceptron and ADALINE rules bring their own defaults where the config gives none."""
        from nnlab.training.rules import with_rule_defaults  # imported here: the rules sit above the config

        return with_rule_defaults(raw)

    @model_validator(mode="after")
    def _rule_fits(self):
        """The training rule can train this model with this loss (backprop: through every activation)."""
        from nnlab.training.rules import check_config

        with _as_value_error():
            check_config(self)
        return self

    # ----- round trip -----
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict(), sort_keys=False, allow_unicode=True)
