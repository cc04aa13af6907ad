"""The run folder (DESIGN §5): its layout, and atomic writes of every file in it."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from nnlab.errors import CheckpointError

CONFIG, METRICS, SUMMARY, CHECKPOINTS = "config.yaml", "metrics.csv", "summary.json", "checkpoints"
LAST = "last.safetensors"


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of one:
    a temporary file in the same folder, flushed and fsynced, then ``os.replace``."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a run's files get the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def new_run_dir(runs_dir: str | Path, name: str, checkpoints: bool = True) -> Path:
    """``runs/<name>-<YYYYMMDD-HHMMSS>-<4 hex>/``, created exclusively: two runs never share one."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for _ in range(100):
        path = runs_dir / f"{name}-{stamp}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        if checkpoints:
            (path / CHECKPOINTS).mkdir()
        return path
    raise CheckpointError(f"could not create a new run folder in '{runs_dir}'")


def check_run_dir(path: str | Path) -> Path:
    """A folder written by ``nnlab train``, else a clear error."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"run folder '{path}' not found")
    if not path.is_dir() or not (path / CONFIG).exists() or not (path / CHECKPOINTS).is_dir():
        raise CheckpointError(
            f"'{path}' is not a run folder (a run folder holds {CONFIG}, {SUMMARY} and {CHECKPOINTS}/)"
        )
    return path


def read_summary(path: str | Path) -> dict:
    p = Path(path) / SUMMARY
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CheckpointError(f"'{p}' is not readable JSON: {e}") from None


@contextmanager
def hold_run_dir(path: str | Path):
    """Hold an exclusive lock on the run folder while a process trains in it, so that a second process
    (``--resume`` in another terminal) is refused instead of writing the same files. The lock is on the
    folder itself (no lock file) and the kernel drops it when the process ends, however it ends (SIGKILL
    included), so a crashed run never stays locked. Where ``fcntl`` is missing (Windows), no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointError(
                f"run folder '{path}' is in use: another nnlab process is training it right now"
            ) from None
        yield
    finally:
        os.close(fd)


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files that a killed ``atomic_write`` of the trainer left in a run folder."""
    path = Path(path)
    names = (CONFIG, METRICS, SUMMARY, LAST, "best.safetensors", "epoch-")
    removed = []
    for folder in (path, path / CHECKPOINTS):
        for tmp in folder.glob(".*.tmp"):
            if any(tmp.name.startswith(f".{n}") for n in names):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed
