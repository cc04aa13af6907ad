"""The config schema (pydantic v2), YAML loading, dotted ``-o key=value`` overrides and defaults.

The YAML becomes a tree of typed models once, here; everything below receives a ``Config``. Component
names and arguments are checked against the registry before anything is computed, and every error names
its dotted path and the value (and, where YAML knows it, the file and line).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nnlab.errors import ConfigError, NnlabError, did_you_mean
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
    if spec is None:
        return spec
    with _as_value_error():
        registry(kind).check(spec, **kw)
    return spec


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SplitConfig(_Model):
    val: float = Field(0.2, ge=0, lt=1, description="fraction of the data held out for validation")
    test: float = Field(
        0.0, ge=0, lt=1, description="fraction held out for testing (unless the dataset has its own test split)"
    )
    seed: int | None = Field(None, description="seed of the split; the run's seed when null")
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


class TrainingConfig(_Model):
    epochs: int = Field(20, ge=1)
    batch_size: int | Literal["full"] = Field(32, description="1 = SGD, B = mini-batch, 'full' = full-batch GD")
    early_stopping: EarlyStoppingConfig | None = None
    monitor: str | None = Field(
        None, description="metric that picks best.safetensors; default val_loss (train_loss without validation)"
    )
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm")
    checkpoint_every: int | None = Field(None, ge=1, description="also keep epoch-NNNN.safetensors every K epochs")
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

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError(f"must be a positive integer or 'full', got {v}")
        return v


class Config(_Model):
    name: str = "run"
    seed: int = 0
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
        _check_spec("optimizer", v)
        from nnlab.components.optimizers import OPTIMIZERS

        name, kwargs = OPTIMIZERS.split_spec(v)
        lr = kwargs.get("lr", 1.0)
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        return v

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
        from nnlab.components.regularizers import REGULARIZERS

        for name, value in (v or {}).items():
            if value is None or value is False:
                continue
            try:
                cls_ = REGULARIZERS.get(name)
                spec = {"name": name, **value} if isinstance(value, dict) else {"name": name, cls_.scalar_arg: value}
                REGULARIZERS.check(spec)
                REGULARIZERS.build(spec)
            except NnlabError as e:
                raise ValueError(str(e)) from None
            except (ValueError, TypeError) as e:
                raise ValueError(f"{name}: {e}") from None
        return v

    @model_validator(mode="before")
    @classmethod
    def _rule_defaults(cls, raw):
        """The perceptron and ADALINE rules bring their own defaults (RULE_DEFAULTS) where the config gives none."""
        training = raw.get("training") if isinstance(raw, dict) else None
        rule = training.get("rule") if isinstance(training, dict) else None
        defaults = RULE_DEFAULTS.get(rule) if isinstance(rule, str) else None
        if defaults is None:
            return raw
        raw = {**raw, "training": {"batch_size": defaults["batch_size"], **training}}
        for key in ("optimizer", "loss"):
            if raw.get(key) is None:
                raw[key] = defaults[key]
        model = raw.get("model")
        if isinstance(model, dict) and model.get("hidden") == [] and model.get("output_initializer") is None:
            raw["model"] = {**model, "output_initializer": "zeros"}
        return raw

    @model_validator(mode="after")
    def _rule_fits(self):
        if self.training.rule == "backprop":
            _check_backprop(self)
        else:
            _check_single_neuron_rule(self)
        return self

    @model_validator(mode="after")
    def _loss_fits_output(self):
        if self.loss is None or self.model.output is None:
            return self
        loss = registry("loss").build(self.loss)
        out_name = registry("activation").canonical(registry("activation").split_spec(self.model.output)[0])
        if loss.expects_output and out_name not in loss.expects_output:
            lname = registry("loss").canonical(registry("loss").split_spec(self.loss)[0])
            raise ValueError(
                f"loss '{lname}' needs a {' or '.join(loss.expects_output)} output, the model ends in {out_name}"
            )
        return self

    # ----- round trip -----
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


# ----------------------------------------------------------------------------------------------
# training rules (deck 002): what each one can train

#: defaults of the single-neuron rules: α = optimizer.lr, one example at a time, weights from zero
RULE_DEFAULTS = {
    "perceptron": {"optimizer": {"name": "sgd", "lr": 1.0}, "loss": "mistakes", "batch_size": 1},
    "adaline": {"optimizer": {"name": "sgd", "lr": 0.01}, "loss": "mse", "batch_size": 1},
}

_NO_HIDDEN = {
    "perceptron": "the perceptron rule trains a single layer of step units, so the model has no hidden layer "
    "(hidden: []): the rule corrects each output unit by its own error d − y, a hidden unit has no target d, "
    "and the step's derivative is zero, so no error can be passed back to it. A hidden layer needs "
    "training.rule: backprop with differentiable units such as sigmoid (configs/classic/xor_11_lines.yaml)",
    "adaline": "ADALINE is a single layer of linear units trained by the delta rule, so the model has no hidden "
    "layer (hidden: []): linear layers stacked are still one linear map, and a non-linear hidden layer "
    "needs training.rule: backprop",
}
_OUTPUTS = {
    "perceptron": "a step (Heaviside, targets d ∈ {0, 1}) or sign (targets d ∈ {−1, +1}) output",
    "adaline": "a linear output (identity, slope k = 1): the delta rule is derived for y = w·x + b",
}


def _canonical(kind: str, spec) -> tuple[str, dict]:
    name, kwargs = registry(kind).split_spec(spec)
    return registry(kind).canonical(name), kwargs


def _check_backprop(cfg: Config) -> None:
    """Backpropagation needs a derivative from every activation and from the loss (deck 000: H' = δ)."""
    m = cfg.model
    acts = []
    if m.hidden:
        acts.append(("model.activation", m.activation))
    if m.hidden is not None and m.output is not None:
        acts.append(("model.output", m.output))
    for i, spec in enumerate(m.layers or []):
        if registry("layer").canonical(spec["type"]) == "activation" and "activation" in spec:
            acts.append((f"model.layers[{i}].activation", spec["activation"]))
    for where, spec in acts:
        name, _ = _canonical("activation", spec)
        if not registry("activation").build(spec).differentiable:
            raise ValueError(
                f"{where}: '{name}' has a derivative that is zero almost everywhere, so backpropagation cannot "
                "train through it; use {name: sigmoid, c: 10} (a steep sigmoid that approximates the step, deck "
                "000), or training.rule: perceptron for a single layer of step units"
            )
    if cfg.loss is not None and not registry("loss").build(cfg.loss).differentiable:
        name, _ = _canonical("loss", cfg.loss)
        raise ValueError(
            f"loss: '{name}' is piecewise constant (its gradient is zero wherever it exists), so backpropagation "
            "cannot learn from it; use a differentiable loss (cross_entropy, bce, mse) or training.rule: perceptron"
        )


def _check_single_neuron_rule(cfg: Config) -> None:
    """The perceptron and ADALINE train one dense layer and its activation with their own update (deck 002)."""
    rule, m, t = cfg.training.rule, cfg.model, cfg.training
    who = "the perceptron rule" if rule == "perceptron" else "ADALINE's delta rule"
    if m.hidden:
        raise ValueError(f"model.hidden: {_NO_HIDDEN[rule]}")
    output = m.output
    if m.layers is not None:
        types = [registry("layer").canonical(s["type"]) for s in m.layers]
        if types != ["dense", "activation"]:
            raise ValueError(
                f"model.layers: {who} trains one dense layer and its activation ([dense, activation]), "
                f"got [{', '.join(types)}]"
            )
        output = m.layers[1].get("activation", "relu")
    if m.dropout or m.batchnorm:
        raise ValueError(f"model: {who} trains a single layer as the deck writes it, without dropout or batch norm")
    if output is not None:
        name, kwargs = _canonical("activation", output)
        ok = name in ("step", "sign") if rule == "perceptron" else name == "identity" and kwargs.get("k", 1) == 1
        if not ok:
            where = "model.layers[1].activation" if m.layers is not None else "model.output"
            raise ValueError(f"{where}: {who} needs {_OUTPUTS[rule]}, got '{name}'")
    loss, _ = _canonical("loss", cfg.loss)
    wanted = ("mistakes",) if rule == "perceptron" else ("mse", "sse")
    if loss not in wanted:
        why = (
            "the perceptron counts its mistakes (loss: mistakes)"
            if rule == "perceptron"
            else "the delta rule is gradient descent on the squared error (loss: mse or sse)"
        )
        raise ValueError(f"loss: {why}, got '{loss}'")
    opt, kwargs = _canonical("optimizer", cfg.optimizer)
    if opt != "sgd" or kwargs.get("momentum", 0) or kwargs.get("nesterov", False):
        raise ValueError(
            f"optimizer: {who} is its own update, w ← w + α (d − y) x; give its learning rate α as "
            f"{{name: sgd, lr: α}} (plain SGD, no momentum), got {cfg.optimizer}"
        )
    if rule == "perceptron" and t.batch_size != 1:
        raise ValueError(
            "training.batch_size: the perceptron rule updates the weights after every example (deck 002), "
            f"so batch_size is 1, got {t.batch_size!r}"
        )
    if any(v not in (None, False, 0) for v in cfg.regularization.values()):
        raise ValueError(f"regularization: {who} has no penalty term; leave regularization empty")
    if t.grad_clip is not None:
        raise ValueError(f"training.grad_clip: {who} takes no gradient to clip; leave grad_clip null")


# ----------------------------------------------------------------------------------------------
# loading


def load_config(path: str | Path, overrides: list[str] = (), seed: int | None = None) -> Config:
    """Read a YAML config file, apply ``key.path=value`` overrides, validate."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file '{path}' not found")
    if path.is_dir():
        raise ConfigError(f"'{path}' is a folder, not a config file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file '{path}': {e}") from None
    return parse_config(text, overrides, source=str(path), seed=seed)


def parse_config(text: str, overrides: list[str] = (), source: str = "<config>", seed: int | None = None) -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{source}:{where}: malformed YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a config is a mapping of keys (data, model, ...), got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    if seed is not None:
        raw["seed"] = seed
    return validate(raw, source=source, text=text)


def validate(raw: dict, source: str = "<config>", text: str | None = None) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_errors(e, raw, source, text)) from None


def apply_override(raw: dict, item: str) -> None:
    """Set ``a.b.c=value`` in the raw config; the value is parsed as YAML (``[64, 64]``, ``0.1``, ``true``)."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key.path=value (e.g. optimizer.lr=0.01)")
    key, _, text = item.partition("=")
    key = key.strip()
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override '{item}': the value '{text}' is not valid YAML") from None
    set_value(raw, key, value, item)


def set_value(raw: dict, key: str, value, item: str | None = None) -> None:
    """Set ``value`` at the dotted path ``key`` of a raw config, creating sections the schema knows."""
    item = item or key
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"override '{item}': '{key}' is not a dotted key path")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if isinstance(child, str) and part in _SPEC_KEYS:
            child = node[part] = {"name": child}  # optimizer: adam  →  {name: adam}, to set optimizer.lr
        elif child is None:
            _check_known(parts[: i + 1], item)
            child = node[part] = _default_mapping(parts[: i + 1], raw)
        elif not isinstance(child, dict):
            raise ConfigError(f"override '{item}': '{'.'.join(parts[: i + 1])}' is {child!r}, not a mapping")
        node = child
    _check_known(parts, item)
    node[parts[-1]] = value


_SPEC_KEYS = {"optimizer", "schedule", "loss", "activation", "output", "initializer", "bias_initializer", "preprocess"}


def _check_known(parts: list[str], item: str) -> None:
    """An override must name a key of the schema (free-form mappings: data and spec arguments excepted)."""
    model: type[BaseModel] | None = Config
    for depth, part in enumerate(parts):
        if model is None or model is DataConfig and part not in model.model_fields:
            return  # dataset and component arguments are checked by the registry
        fields = model.model_fields
        if part not in fields:
            path = ".".join(parts[: depth + 1])
            raise ConfigError(f"override '{item}': unknown key '{path}'{did_you_mean(part, fields)}")
        model = _submodel(fields[part].annotation)


def _default_mapping(parts: list[str], raw: dict) -> dict:
    """The schema's default of a section an override reaches into (``optimizer`` → its default spec, the
    training rule's where the config names one)."""
    training = raw.get("training")
    rule = training.get("rule") if isinstance(training, dict) else None
    if parts == ["optimizer"] and isinstance(rule, str) and rule in RULE_DEFAULTS:
        return dict(RULE_DEFAULTS[rule]["optimizer"])
    model: type[BaseModel] | None = Config
    default = None
    for part in parts:
        if model is None or part not in model.model_fields:
            return {}
        default = model.model_fields[part].default
        model = _submodel(model.model_fields[part].annotation)
    if isinstance(default, str):
        return {"name": default}
    return dict(default) if isinstance(default, dict) else {}


def _submodel(annotation) -> type[BaseModel] | None:
    import typing

    for t in (annotation, *typing.get_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def format_errors(
    e: ValidationError, raw: dict, source: str, text: str | None, root: type[BaseModel] | None = None
) -> str:
    lines = []
    for err in e.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        path = _dotted(loc)
        msg = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1], root or Config)
            choices = model.model_fields if model else {}
            msg = f"unknown key{did_you_mean(str(loc[-1]), choices)}" + (
                f" (known: {', '.join(choices)})" if choices else ""
            )
        elif kind == "missing":
            msg = "is required"
        elif kind.startswith("value_error") or kind == "assertion_error":
            if msg.startswith("["):  # a list item: model.hidden[1] must be ...
                idx, _, rest = msg.partition("] ")
                path, msg = f"{path}{idx}]", rest
        else:
            msg = f"{msg[0].lower()}{msg[1:]}, got {err.get('input')!r}"
        if not path:  # a check across sections names its own place: "model.hidden: ..."
            head, sep, rest = msg.partition(": ")
            if sep and re.fullmatch(r"[a-z_]+(\.[a-z_]+|\[\d+\])*", head) and head.split(".")[0] in Config.model_fields:
                path, msg = head, rest
                loc = [int(p) if p.isdigit() else p for p in re.findall(r"[a-z_]+|\d+", head)]
        line = _line_of(text, loc) if text else None
        where = f" ({source}, line {line})" if line else f" ({source})" if source != "<config>" else ""
        lines.append(f"{path or 'config'}: {msg}{where}")
    # pydantic reports each branch of a union; keep the first message per path
    seen, out = set(), []
    for ln in lines:
        key = ln.split(":", 1)[0]
        if key not in seen:
            seen.add(key)
            out.append(ln)
    return "\n".join(out)


def _model_at(loc, root: type[BaseModel]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        model = _submodel(model.model_fields[part].annotation)
    return model


def _dotted(loc) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_of(text: str, loc) -> int | None:
    """The 1-based line of a dotted path in the YAML text, where it is there."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
