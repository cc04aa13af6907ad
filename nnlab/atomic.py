"""Writing a file so that a reader sees the old version or the new one, never half of one: the one helper
every file nnlab writes goes through (run folders, sweep folders, the data cache, predictions, plots)."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

from nnlab.errors import NnlabError, one_line

#: the errors of a write that only more room on the disk (or a higher quota or file-size limit) cures
DISK_FULL = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if e is not None)
#: the errors of a folder or file that nnlab may not write to
READ_ONLY = frozenset((errno.EACCES, errno.EPERM, errno.EROFS))


class WriteError(NnlabError, OSError):
    """A file could not be written: the disk is full (``disk_full``) or the folder is read-only. Still an
    ``OSError`` for code that catches those; a ``NnlabError`` for the CLI, which prints its one line."""

    def __init__(self, message: str, path: Path, cause: OSError):
        super().__init__(message)
        self.path, self.errno, self.strerror = Path(path), cause.errno, cause.strerror
        self.disk_full = cause.errno in DISK_FULL

    def __str__(self) -> str:
        return one_line(self.args[0])


def check_writable(folder: str | Path, what: str) -> None:
    """Refuse up front, before any work, a ``folder`` that nnlab is about to write into but may not (or
    that is no folder): ``what`` says what would be written there."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NnlabError(f"{what}: '{folder}' is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise NnlabError(
            f"{what}: folder '{folder}' is read-only (no permission to write in it); make it writable "
            f"(chmod u+w '{folder}') or copy what you need to a folder of yours"
        )


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, flushed and fsynced, then
    ``os.replace``. A crash or a kill at any moment leaves the previous version whole."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _write_error(path, e) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; nnlab's files get the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno in DISK_FULL | READ_ONLY:
            raise _write_error(path, e) from None
        raise


def _write_error(path: Path, e: OSError) -> OSError:
    """A ``WriteError`` with one line for a full disk or a read-only folder; other errors as they are."""
    if e.errno in DISK_FULL:
        return WriteError(
            f"the disk is full ({e.strerror}): could not write '{path}'; the file was left as it was "
            "(no part of the new version was kept); free some space and try again",
            path,
            e,
        )
    if e.errno in READ_ONLY:
        return WriteError(
            f"cannot write '{path}': {e.strerror} (folder '{path.parent}' is read-only); make it writable or "
            "write somewhere else",
            path,
            e,
        )
    return e


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj) -> None:
    """``obj`` as indented JSON (numpy scalars and arrays as numbers and lists), atomically."""
    atomic_write(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
