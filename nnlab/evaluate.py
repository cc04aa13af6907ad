"""``nnlab eval``: the figures of a run, or of an average of models, on one split of the run's data.

The split is rebuilt from the run's resolved config (the same seed gives the same rows) and every model
maps it with the preprocessing statistics stored in its own checkpoint. Averages follow deck 002: an
ensemble of independently trained runs, the checkpoints of one run saved at different epochs, or Monte-Carlo
dropout (several passes with random masks); and test-time augmentation, each model over fixed variants of
every image (mirrored, shifted by a pixel) as its ``data.augment`` trained it. Each averages the predicted
probabilities (values for regression), and the report keeps every single model's figures beside the
averaged ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlab.errors import CheckpointError, DataError, NnlabError
from nnlab.inference import TrainedModel, load_model, load_run
from nnlab.metrics import averages, confusion_matrix, loss_of, per_class, predicted_classes, scores
from nnlab.runs.folder import RunFolder

SPLITS = ("test", "val", "train")


@dataclass
class Member:
    label: str
    model: TrainedModel


def evaluate_runs(
    run_dirs,
    checkpoint=None,
    split=None,
    checkpoints: int | None = None,
    mc_dropout: int | None = None,
    seed=None,
    tta: bool = False,
) -> dict:
    """The report of ``nnlab eval`` as a dict (see ``write_report``); raises NnlabError for a user error
    before anything is computed or written. ``split`` None: the test split where the run has one, else
    val, else train (the report's notes say so). ``tta``: test-time augmentation, each model's outputs
    averaged over the fixed variants of every image that its ``data.augment`` trained on (``tta_views``);
    a single run's report then shows its plain figures beside the averaged ones."""
    from nnlab.data.core import raw_splits

    if split is not None and split not in SPLITS:
        raise NnlabError(f"--split must be one of {', '.join(SPLITS)}, got '{split}'")
    if tta and mc_dropout is not None:
        raise NnlabError("--tta and --mc-dropout are two averages of one model: choose one")
    mode, members = load_members(list(run_dirs), checkpoint, checkpoints, mc_dropout)
    views = {id(m): len(m.model.tta_views()) for m in members} if tta else {}  # refused here, before any work
    first = members[0].model
    raw = raw_splits(first.config.data, first.config.seed)
    split, notes = _choose_split(raw, split, first.name)
    X_raw, y = raw.split(split)
    notes += _leaks(members, raw, split) if mode == "ensemble" else []
    classify = first.task == "classification"
    rows, final, seed = _average(members, mode, X_raw, y, views, mc_dropout, seed)
    averaged = len(members) > 1 or mode == "mc_dropout" or tta
    metrics = _figures(first.loss.value(final, y), final, y, first) if averaged else rows[0]["metrics"]
    report = {
        "split": split,
        "examples": len(y),
        "task": first.task,
        "mode": mode,
        "run_dir": str(first.run_dir),  # where the report is written
        "runs": list(dict.fromkeys(str(m.model.run_dir) for m in members)),
        "members": rows,
        "averaged": averaged,
        "mc_dropout": mc_dropout,
        "checkpoints": checkpoints,
        "seed": seed,
        "tta": max(views.values(), default=None),
        "metrics": metrics,
        "notes": notes,
    }
    if classify:
        report.update(_classification(final, y, first))
    return _clean(report)


def _average(members, mode, X_raw, y, views: dict, mc_dropout, seed) -> tuple[list[dict], np.ndarray, int | None]:
    """Each member's row of figures and the averaged outputs (the single model's where nothing is averaged),
    and the seed of the Monte-Carlo masks. ``views``: each member's number of test-time views (``--tta``)."""
    first = members[0].model
    rows, outs = [], []
    for m in members:
        ym = y if first.task == "classification" else y.astype(m.model.dtype)
        n = views.get(id(m), 0)
        if not n or mode == "single":  # the model as it is (with --tta only a single run shows it, beside its average)
            Xp = m.model.preprocessor.transform(X_raw, m.model.dtype)
            value, out = loss_of(m.model.net, m.model.loss, Xp, ym)
            if n:
                rows.append(_row(m, _figures(value, out, ym, first)))
        if n:
            out = m.model.outputs(X_raw, tta=True)
            value = m.model.loss.value(out, ym)
        if not (n and mode == "single"):
            rows.append(_row(m, _figures(value, out, ym, first), n))
        outs.append(out)
    if mode != "mc_dropout":
        return rows, np.mean([o.astype(np.float64) for o in outs], axis=0) if len(outs) > 1 else outs[0], None
    seed = first.config.seed if seed is None else seed
    total, per_mask = np.zeros(outs[0].shape), []
    for out in first.mc_outputs(Xp, mc_dropout, np.random.default_rng(seed)):
        total += out
        per_mask.append(_figures(first.loss.value(out, ym), out, ym, first))
    rows.append({"label": f"one dropout mask (mean of {mc_dropout})", "metrics": _mean(per_mask)})
    return rows, total / mc_dropout, seed


def _choose_split(raw, split: str | None, name: str) -> tuple[str, list[str]]:
    """The split asked for, which must hold examples; or the first of test, val, train that does."""
    have = [s for s in SPLITS if len(raw.split(s)[0])]
    if split is None:
        if have[0] == "test":
            return "test", []
        return have[0], [f"run '{name}' has no test split (data.split.test is 0): evaluated on the {have[0]} split"]
    if split not in have:
        others = " or ".join(f"--split {s}" for s in have)
        raise DataError(f"run '{name}' has no {split} examples (data.split.{split} is 0); try {others}")
    return split, []


def load_members(run_dirs: list, checkpoint=None, checkpoints=None, mc_dropout=None) -> tuple[str, list[Member]]:
    """The models to evaluate and the mode: ``single``, ``ensemble``, ``checkpoints`` or ``mc_dropout``."""
    if not run_dirs:
        raise NnlabError("give at least one run folder")
    several = len(run_dirs) > 1
    if checkpoints is not None:
        if several or checkpoint is not None:
            raise NnlabError(
                "--checkpoints K averages the last K checkpoints of one run: give one run folder, no --checkpoint"
            )
        if checkpoints < 1:
            raise NnlabError(f"--checkpoints must be at least 1, got {checkpoints}")
        return "checkpoints", _checkpoint_members(RunFolder.open(run_dirs[0]), checkpoints)
    if mc_dropout is not None:
        if several:
            raise NnlabError("--mc-dropout N averages dropout masks of one run: give one run folder")
        if mc_dropout < 1:
            raise NnlabError(f"--mc-dropout must be at least 1, got {mc_dropout}")
    if checkpoint is not None and several and not RunFolder.is_checkpoint_name(str(checkpoint)):
        raise NnlabError(f"--checkpoint '{checkpoint}' names one file: with several run folders use best or last")
    folders = [RunFolder.open(d) for d in run_dirs]
    members: list[Member] = []
    for folder in folders:
        model = load_run(folder.path, folder.default_checkpoint() if checkpoint is None else str(checkpoint))
        members.append(Member(_label(model) if several else model.checkpoint.stem, model))
    if several:
        check_compatible([m.model for m in members])
        return "ensemble", members
    if mc_dropout is not None:
        if not members[0].model.dropout_layers:
            raise NnlabError(f"run '{members[0].model.name}' has no dropout layer: --mc-dropout needs one")
        members[0].label = "dropout off (standard)"
        return "mc_dropout", members
    return "single", members


def _label(model: TrainedModel) -> str:
    return f"{model.name} ({model.checkpoint.stem}, epoch {model.epoch})"


def _checkpoint_members(folder: RunFolder, k: int) -> list[Member]:
    """The last k distinct checkpoints of a run: epoch-NNNN files and last, in epoch order."""
    run_dir = folder.path
    last = load_model(folder.find_checkpoint("last"), run_dir)
    epochs = [n for n in folder.checkpoints() if (folder.epoch_of(n) or 0) and folder.epoch_of(n) < last.epoch]
    chosen = epochs[-(k - 1) :] if k > 1 else []
    if len(chosen) + 1 < k:
        have = ", ".join([*epochs, f"last (epoch {last.epoch})"])
        raise CheckpointError(
            f"--checkpoints {k}: run '{run_dir}' keeps only {len(chosen) + 1} distinct checkpoints ({have}); "
            "ask for fewer, or train with training.checkpoint_every set to keep more"
        )
    members = [Member(n, load_model(folder.find_checkpoint(n), run_dir)) for n in chosen]
    return members + [Member(f"last (epoch {last.epoch})", last)]


def check_compatible(models: list[TrainedModel]) -> None:
    """Models whose outputs can be averaged: the same data (dataset, features, classes), output shape and loss."""
    a = models[0]
    for b in models[1:]:
        pair = f"runs '{a.name}' and '{b.name}'"
        if a.task != b.task:
            raise NnlabError(f"{pair} do not share data: one is {a.task}, the other {b.task}")
        if _dataset(a) != _dataset(b):
            raise NnlabError(f"{pair} do not share data: trained on {_dataset(a)} and on {_dataset(b)}")
        if a.n_features != b.n_features or a.feature_names != b.feature_names:
            raise NnlabError(
                f"{pair} do not share data: features {_names(a.feature_names, a.n_features)} and "
                f"{_names(b.feature_names, b.n_features)}"
            )
        if a.class_names != b.class_names:
            raise NnlabError(f"{pair} do not share data: classes {a.class_names} and {b.class_names}")
        if a.n_outputs != b.n_outputs:
            raise NnlabError(
                f"{pair} do not share an output shape ({a.n_outputs} and {b.n_outputs} outputs): "
                "an ensemble averages outputs of the same shape"
            )
        if a.loss.registry_name != b.loss.registry_name:
            raise NnlabError(
                f"{pair} use different losses ({a.loss.registry_name}, {b.loss.registry_name}): "
                "their outputs mean different things and cannot be averaged"
            )


def _dataset(model: TrainedModel) -> str:
    args = model.config.data.dataset_args()
    return f"{model.config.data.name}({', '.join(f'{k}={v!r}' for k, v in sorted(args.items()))})"


def _names(names, n) -> str:
    return f"({', '.join(names)})" if names else f"({n} columns)"


def _leaks(members: list[Member], raw, split: str) -> list[str]:
    """Examples of the evaluated split that another run of the ensemble trained on (another split seed)."""
    from nnlab.data.core import raw_splits

    a = members[0].model.config
    others = [m for m in members[1:] if (m.model.config.seed, m.model.config.data.split) != (a.seed, a.data.split)]
    if split == "train" or not others:
        return []
    rows = [r.tobytes() for r in np.ascontiguousarray(raw.split(split)[0])]
    if not set(rows).isdisjoint(r.tobytes() for r in np.ascontiguousarray(raw.X_train)):
        return []  # no held-out rows in the first place (a truth table is its own test set)
    notes = []
    for m in others:
        cfg = m.model.config
        seen = {r.tobytes() for r in np.ascontiguousarray(raw_splits(cfg.data, cfg.seed).X_train)}
        n = sum(r in seen for r in rows)
        if n:
            notes.append(
                f"{n} of the {len(rows)} {split} examples were training examples of run '{m.model.name}' "
                "(split with another seed), so these figures are optimistic: give every run the same data.split.seed"
            )
    return notes


def _figures(value, out, y, model: TrainedModel) -> dict[str, float]:
    figures = {"loss": float(value), **scores(out, y, model.task)}
    if model.task == "classification":
        cm = confusion_matrix(y, predicted_classes(out), max(model.n_classes, 2))
        figures["macro_f1"] = averages(per_class(cm))["macro"]["f1"]
    return figures


def _row(member: Member, figures: dict, views: int = 0) -> dict:
    m = member.model
    return {
        "label": member.label + (f", {views} views" if views else ""),
        "run": str(m.run_dir),
        "checkpoint": str(m.checkpoint),
        "epoch": m.epoch,
        "metrics": figures,
    }


def _mean(rows: list[dict]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def _classification(out, y, model: TrainedModel) -> dict:
    n = max(model.n_classes, 2)
    cm = confusion_matrix(y, predicted_classes(out), n)
    report = per_class(cm)
    names = model.class_names or [str(i) for i in range(n)]
    return {
        "classes": names,
        "per_class": {
            name: {k: (int(report[k][i]) if k == "support" else float(report[k][i])) for k in report}
            for i, name in enumerate(names)
        },
        **averages(report),
        "confusion_matrix": cm.tolist(),
    }


def _clean(obj):
    """JSON-ready: NaN → None (R² of a constant target), numpy scalars → Python."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def report_name(report: dict) -> str:
    """eval-<split>.json, with the kind of average in the name: -ensemble, -checkpoints-K, -mc-dropout-N,
    then -tta for test-time augmentation."""
    suffix = {
        "single": "",
        "ensemble": "-ensemble",
        "checkpoints": f"-checkpoints-{report['checkpoints']}",
        "mc_dropout": f"-mc-dropout-{report['mc_dropout']}",
    }[report["mode"]]
    return f"{report['split']}{suffix}{'-tta' if report.get('tta') else ''}"


def write_report(report: dict, run_dir: str | Path) -> list[Path]:
    """eval-<…>.json and, for classification, confusion-<…>.csv (rows: true class, columns: predicted)."""
    folder = RunFolder(run_dir)
    name = report_name(report)
    paths = [folder.write_report(name, report)]
    if "confusion_matrix" in report:
        names = report["classes"]
        lines = [",".join(["true \\ predicted", *map(_csv_cell, names)])]
        lines += [",".join([_csv_cell(c), *map(str, row)]) for c, row in zip(names, report["confusion_matrix"])]
        paths.append(folder.write_table(f"confusion-{name}", "\n".join(lines) + "\n"))
    return paths


def _csv_cell(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text
