"""The run folder (DESIGN §5): ``RunFolder`` is the only code that knows the names and layout of its files,
and the only code that writes them (atomically, fsynced: ``nnlab.atomic``).

    <runs>/<name>-<YYYYMMDD-HHMMSS>-<4 hex>/
      config.yaml, metrics.csv, summary.json
      checkpoints/best.safetensors, last.safetensors, epoch-0010.safetensors
      checkpoints/swa.safetensors, ema.safetensors       (training.swa / training.ema)
      snapshots.safetensors                           (training.snapshots: the weights every K epochs)
      eval-<split>.json, confusion-<split>.csv        (written by nnlab eval)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path

from nnlab.atomic import WriteError, atomic_write, check_writable, write_json
from nnlab.errors import CheckpointError, ConfigError

_EPOCH = re.compile(r"epoch-(\d+)$")
#: what ``new_folder`` adds to a name: ``-YYYYMMDD-HHMMSS-abcd``
SUFFIX_LENGTH = len("-20250101-120000-abcd")


def check_new_folder(parent: str | Path, name: str) -> None:
    """Refuse, before any work and without creating anything, a folder ``new_folder`` could not make: a name
    that is not a plain file name or too long for the file system with its suffix, a ``parent`` path through
    a file, or a parent (or the nearest folder above it that exists) that may not be written."""
    parent = Path(parent)
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ConfigError(f"name: {name!r} is not usable as a folder name (no /, \\, NUL, '.' or '..'; not empty)")
    existing = parent
    while not existing.exists():
        if existing.is_symlink():  # a link to nowhere
            raise CheckpointError(f"runs folder '{parent}': '{existing}' is a broken link")
        existing = existing.parent
    if not existing.is_dir():
        raise CheckpointError(
            f"runs folder '{parent}' cannot be created: '{existing}' is a file, not a folder; give --runs-dir a folder"
        )
    limit = _name_max(existing)
    size = len(name.encode("utf-8", "surrogateescape")) + SUFFIX_LENGTH
    if size > limit:
        raise ConfigError(
            f"name: {len(name)} characters is too long for a folder name ('{name[:20]}...'): with the date, time "
            f"and id nnlab adds, the folder's name would be {size} bytes and the file system allows {limit}; "
            f"give a name of at most {limit - SUFFIX_LENGTH} bytes"
        )
    check_writable(
        existing, f"runs folder '{parent}'" if existing == parent else f"runs folder '{parent}' (in '{existing}')"
    )


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no pathconf (Windows)
        return 255


def new_folder(parent: str | Path, name: str) -> Path:
    """``<parent>/<name>-<YYYYMMDD-HHMMSS>-<4 hex>/``, created exclusively: two runs (or sweeps) started in
    the same second never share one. A folder that cannot be made is refused before anything is created
    (``check_new_folder``)."""
    parent = Path(parent)
    check_new_folder(parent, name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            path = parent / f"{name}-{stamp}-{secrets.token_hex(2)}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
    except OSError as e:
        raise CheckpointError(f"cannot create a folder in '{parent}': {e.strerror or e}") from None
    raise CheckpointError(f"could not create a new folder in '{parent}'")


class RunFolder:
    """One run folder: where each file is, reading it, and writing it."""

    CONFIG, METRICS, SUMMARY, CHECKPOINTS = "config.yaml", "metrics.csv", "summary.json", "checkpoints"
    SNAPSHOTS = "snapshots.safetensors"
    #: checkpoints kept by name; the others are ``epoch-NNNN``
    NAMED = ("best", "last", "swa", "ema")
    SUFFIX = ".safetensors"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder('{self.path}')"

    def __fspath__(self) -> str:
        return str(self.path)

    @classmethod
    def create(cls, runs_dir: str | Path, name: str) -> RunFolder:
        """A new, empty run folder under ``runs_dir``."""
        folder = cls(new_folder(runs_dir, name))
        folder.checkpoints_dir.mkdir()
        return folder

    #: ``check_new(runs_dir, name)``: refuse up front a run folder ``create`` could not make
    check_new = staticmethod(check_new_folder)

    def check_writable(self, why: str = "nnlab writes its files there") -> None:
        """Refuse up front a run folder (or its checkpoints/) that nnlab may not write: ``why`` says what for."""
        for folder in (self.path, self.checkpoints_dir):
            if folder.is_dir():
                check_writable(folder, f"run '{self.path}' ({why})")

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """An existing run folder, else a clear error."""
        folder = cls(path)
        if not folder.path.exists():
            raise CheckpointError(f"run folder '{folder.path}' not found")
        if not cls.is_run(folder.path):
            raise CheckpointError(
                f"'{folder.path}' is not a run folder (a run folder holds {cls.CONFIG}, {cls.SUMMARY} and "
                f"{cls.CHECKPOINTS}/)"
            )
        return folder

    @classmethod
    def is_run(cls, path: str | Path) -> bool:
        path = Path(path)
        return path.is_dir() and (path / cls.CONFIG).is_file() and (path / cls.CHECKPOINTS).is_dir()

    # ----- where things are -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics_file(self) -> Path:
        return self.path / self.METRICS

    @property
    def summary_file(self) -> Path:
        return self.path / self.SUMMARY

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def snapshots_file(self) -> Path:
        return self.path / self.SNAPSHOTS

    @staticmethod
    def epoch_name(epoch: int) -> str:
        """The name of the checkpoint kept after ``epoch``: ``epoch-0010``."""
        return f"epoch-{int(epoch):04d}"

    @staticmethod
    def epoch_of(name: str) -> int | None:
        """The epoch of an ``epoch-NNNN`` checkpoint name (None for best, last or anything else)."""
        m = _EPOCH.match(name)
        return int(m.group(1)) if m else None

    @classmethod
    def is_checkpoint_name(cls, name: str) -> bool:
        """best, last, epoch-NNNN or a bare epoch number."""
        return name in cls.NAMED or cls.epoch_of(name) is not None or name.isdigit()

    def checkpoint_file(self, name: str | int) -> Path:
        """The file of the checkpoint ``name``: best, last, epoch-NNNN, or an epoch number."""
        name = str(name)
        if name.isdigit():
            name = self.epoch_name(int(name))
        return self.checkpoints_dir / f"{name}{self.SUFFIX}"

    def checkpoints(self) -> list[str]:
        """The checkpoints this folder holds: best, last, then epoch-NNNN in epoch order."""
        names = [p.name[: -len(self.SUFFIX)] for p in self.checkpoints_dir.glob(f"*{self.SUFFIX}")]
        epochs = sorted((n for n in names if self.epoch_of(n) is not None), key=self.epoch_of)
        return [n for n in self.NAMED if n in names] + epochs

    def find_checkpoint(self, checkpoint: str | int | Path = "best") -> Path:
        """The file of ``checkpoint``: best, last, epoch-NNNN (or the epoch, 10), or the path of a checkpoint
        file; a clear error that lists what the folder holds otherwise."""
        name = str(checkpoint)
        have = ", ".join(self.checkpoints()) or "none"
        if self.is_checkpoint_name(name):
            path = self.checkpoint_file(name)
            if not path.is_file():
                raise CheckpointError(
                    f"run '{self.path}' has no '{path.stem}' checkpoint ({path} not found; it has: {have})"
                )
            return path
        if Path(checkpoint).is_file():
            return Path(checkpoint)
        raise CheckpointError(
            f"checkpoint '{checkpoint}' not found: give best, last, epoch-NNNN or the path of a {self.SUFFIX} file "
            f"(run '{self.path}' has: {have})"
        )

    # ----- reading ----------------------------------------------------------------------------
    def read_config(self):
        """config.yaml as a validated ``Config``."""
        from nnlab.config import load_config

        return load_config(self.config_file)

    def default_checkpoint(self) -> str:
        """best (the checkpoint of the summary's test figures), or last where no epoch of the run was ever
        best (its monitor never measured, e.g. val_loss without a validation split, or a run that diverged
        before any good epoch)."""
        if self.checkpoint_file("best").is_file() or self.read_summary().get("best") is not None:
            return "best"
        return "last"

    def read_summary(self) -> dict:
        """summary.json ({} where the run has not written one yet)."""
        try:
            summary = json.loads(self.summary_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise CheckpointError(f"'{self.summary_file}' is not readable JSON: {e}") from None
        if not isinstance(summary, dict) or not isinstance(summary.get("status", ""), (str, type(None))):
            raise CheckpointError(
                f"'{self.summary_file}' is not a run's summary (a JSON object with a status); it was edited: "
                "delete it to let nnlab write it again"
            )
        return summary

    def read_metrics(self):
        """metrics.csv as a pandas DataFrame; a clear error where it is missing or unreadable."""
        import pandas as pd

        if not self.metrics_file.is_file():
            raise CheckpointError(f"run '{self.path}' has no {self.METRICS} yet (no epoch finished)")
        try:
            return pd.read_csv(self.metrics_file)
        except (OSError, ValueError) as e:
            raise CheckpointError(f"'{self.metrics_file}' is not a readable CSV file: {e}") from None

    def load_checkpoint(self, name: str | int) -> tuple[dict, dict]:
        from nnlab.runs.checkpoint import load_checkpoint

        return load_checkpoint(self.checkpoint_file(name))

    # ----- writing ----------------------------------------------------------------------------
    def write_config(self, yaml_text: str) -> None:
        with self._writing():
            atomic_write(self.config_file, yaml_text)

    def write_metrics(self, csv_text: str) -> None:
        with self._writing():
            atomic_write(self.metrics_file, csv_text)

    def write_summary(self, summary: dict) -> None:
        with self._writing():
            write_json(self.summary_file, summary)

    def save_checkpoint(self, name: str | int, tensors: dict, meta: dict, encoded: dict | None = None) -> None:
        """Write checkpoint ``name`` (see ``nnlab.runs.checkpoint.encode``)."""
        from nnlab.runs.checkpoint import encode

        with self._writing():
            atomic_write(self.checkpoint_file(name), encode(tensors, meta, encoded))

    @contextmanager
    def _writing(self):
        """A full disk while the run writes: one line that says which files are whole and how to go on."""
        try:
            yield
        except WriteError as e:
            if not e.disk_full:
                raise
            raise CheckpointError(f"cannot write '{e.path}' ({e.strerror}): {self._safe()}") from None

    def _safe(self) -> str:
        """What survives a failed write, and the command that goes on from there."""
        import shlex

        from nnlab.runs.checkpoint import peek_meta

        last = self.checkpoint_file("last")
        epoch = (peek_meta(last) or {}).get("epoch") if last.is_file() else None
        if epoch is None:
            return (
                "the disk is full (or a file-size limit was reached) and no checkpoint was complete yet; free some "
                "space, then start again: "
                f"nnlab train {shlex.quote(str(self.config_file))}"
            )
        return (
            "the disk is full (or a file-size limit was reached); every file of the run is whole (each is "
            f"replaced only once its new version is written) and its last complete checkpoint is {last} (epoch {epoch}); free some space, then continue "
            f"with: nnlab train --resume {shlex.quote(str(self.path))}"
        )

    def save_snapshots(self, tensors: dict, meta: dict) -> None:
        """Write snapshots.safetensors (``nnlab.training.snapshots``), in the checkpoint format."""
        from nnlab.runs.checkpoint import encode

        atomic_write(self.snapshots_file, encode(tensors, meta))

    def write_report(self, stem: str, obj) -> Path:
        """``eval-<stem>.json`` (``nnlab eval``'s report)."""
        path = self.path / f"eval-{stem}.json"
        write_json(path, obj)
        return path

    def write_table(self, stem: str, csv_text: str) -> Path:
        """``<stem>.csv`` beside the report (the confusion matrix of ``nnlab eval``)."""
        path = self.path / f"{stem}.csv"
        atomic_write(path, csv_text)
        return path

    @contextmanager
    def lock(self):
        """Hold an exclusive lock on the folder while a process trains in it, so that a second process
        (``--resume`` in another terminal) is refused instead of writing the same files. The lock is on the
        folder itself (no lock file) and the kernel drops it when the process ends, however it ends (SIGKILL
        included), so a crashed run never stays locked. Where ``fcntl`` is missing (Windows), no lock."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            yield
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CheckpointError(
                    f"run folder '{self.path}' is in use: another nnlab process is training it right now"
                ) from None
            yield
        finally:
            os.close(fd)

    def is_held(self) -> bool | None:
        """Whether a live process holds the folder's ``lock()`` (trains it) right now; None where ``fcntl``
        is missing (Windows) and it cannot be told. Asks for a shared lock without waiting and gives it back
        at once: a run whose summary says running but whose folder nobody holds was killed (``stale``)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing the descriptor gives back a shared lock it took
        return False

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files that a killed atomic write of the trainer left in the folder."""
        names = (
            self.CONFIG,
            self.METRICS,
            self.SUMMARY,
            self.SNAPSHOTS,
            *(f"{n}{self.SUFFIX}" for n in self.NAMED),
            "epoch-",
        )
        removed = []
        for folder in (self.path, self.checkpoints_dir):
            for tmp in folder.glob(".*.tmp"):
                if any(tmp.name.startswith(f".{n}") for n in names):
                    tmp.unlink(missing_ok=True)
                    removed.append(tmp)
        return removed
