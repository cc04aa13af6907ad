"""IDX files (the MNIST format), gzipped or not, parsed once and cached as ``.npy``.

An IDX file is a 4-byte magic number — two zero bytes, a type code (0x08 unsigned byte, 0x09 signed
byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and the number of dimensions — then one
big-endian int32 per dimension, then the values, big-endian, in C order.

Parsing Fashion-MNIST's gzipped images takes about a second; the parsed array is saved in a cache folder
(``$NNLAB_CACHE``, else ``$XDG_CACHE_HOME/nnlab``, else ``~/.cache/nnlab``) under a key made of the source
file's path, size and modification time, so the next load is a plain ``np.load`` of the uint8 array.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from pathlib import Path

import numpy as np

from nnlab.atomic import atomic_write
from nnlab.errors import DataError

TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | Path, cache: bool = True) -> np.ndarray:
    """The array stored in the IDX file ``path`` (native byte order; uint8 stays uint8)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as e:
        raise DataError(f"cannot read IDX file '{path}': {e.strerror or e}") from None
    cached = _cache_file(path, stat) if cache else None
    if cached is not None and cached.is_file():
        arr = _load_cached(cached)
        if arr is not None:
            return arr
    gzipped = False
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
            size = _gzip_size(raw, stat.st_size) if gzipped else stat.st_size
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) if gzipped else raw as f:
                arr = _parse(f, str(path), size)
    except OSError as e:
        if gzipped:
            raise DataError(f"'{path}' is a damaged gzip file: {e}") from None
        raise DataError(f"cannot read IDX file '{path}': {e.strerror or e}") from None
    except (EOFError, zlib.error) as e:
        raise DataError(f"'{path}' is a damaged or truncated gzip file: {e or 'it ends too early'}") from None
    if cached is not None:
        _save_cached(cached, arr)
    return arr


def _gzip_size(raw, compressed: int) -> int:
    """The most bytes a gzip file's contents can hold: its trailer's size (kept modulo 2³²) where that tells,
    else deflate's largest ratio (1032 : 1) times the compressed size."""
    largest = compressed * 1032
    if compressed < 18:
        return largest
    raw.seek(-4, os.SEEK_END)
    stated = int.from_bytes(raw.read(4), "little")
    return stated if largest < 1 << 32 else largest


def _parse(f, source: str, size: int | None = None) -> np.ndarray:
    """Read an IDX stream straight into its array (no intermediate copy of the data); ``size``, the bytes the
    stream holds where known, refuses a header that declares more before anything is allocated."""
    head = f.read(4)
    if len(head) < 4:
        raise DataError(f"'{source}' is not an IDX file: {len(head)} bytes, shorter than the 4-byte magic number")
    code, ndim = head[2], head[3]
    if head[:2] != b"\0\0" or code not in TYPES or ndim == 0:
        raise DataError(
            f"'{source}' is not an IDX file: wrong magic number 0x{int.from_bytes(head, 'big'):08x} (expected "
            f"0x0000TTNN: two zero bytes, a type code TT among {', '.join(f'{t:02x}' for t in TYPES)} and the "
            "number of dimensions NN, e.g. 0x00000803 for images, 0x00000801 for labels)"
        )
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(f"'{source}' is truncated: its header declares {ndim} dimensions but the file ends first")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    dtype = TYPES[code]
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size is not None and 4 + 4 * ndim + declared > size:
        raise DataError(
            f"'{source}' is truncated or damaged: its header declares shape {shape} ({declared} bytes of data), "
            f"the file holds {max(size - 4 - 4 * ndim, 0)}"
        )
    try:
        arr = np.empty(shape, dtype=dtype)
    except (MemoryError, ValueError):
        raise DataError(
            f"'{source}' declares shape {shape} ({declared} bytes): more than this machine can hold"
        ) from None
    view = memoryview(arr.reshape(-1).view(np.uint8))
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    if got < len(view):
        raise DataError(
            f"'{source}' is truncated: its header declares shape {shape} ({len(view)} bytes of data), "
            f"the file holds {got}"
        )
    if f.read(1):
        raise DataError(
            f"'{source}' holds more data than the shape {shape} its header declares; "
            "the file is damaged or not an IDX file"
        )
    return arr.astype(dtype.newbyteorder("=")) if dtype.byteorder == ">" else arr


# ----- the cache ------------------------------------------------------------------------------


def cache_dir() -> Path:
    """``$NNLAB_CACHE``, else ``$XDG_CACHE_HOME/nnlab``, else ``~/.cache/nnlab``."""
    if os.environ.get("NNLAB_CACHE"):
        return Path(os.environ["NNLAB_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nnlab"


def _cache_file(path: Path, stat: os.stat_result) -> Path:
    where = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    version = hashlib.sha1(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:8]
    stem = path.name.removesuffix(".gz")
    return cache_dir() / "idx" / f"{stem}-{where}-{version}.npy"


def _load_cached(cached: Path) -> np.ndarray | None:
    try:
        return np.load(cached, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # damaged: parse the source again and rewrite it
        return None


def _save_cached(cached: Path, arr: np.ndarray) -> None:
    """Write atomically and drop older versions of the same source; a cache that cannot be written is skipped."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        data = io.BytesIO()
        np.save(data, arr, allow_pickle=False)
        atomic_write(cached, data.getvalue())
        prefix = cached.name.rsplit("-", 1)[0] + "-"
        for old in cached.parent.glob(f"{prefix}*.npy"):
            if old != cached:
                old.unlink(missing_ok=True)
    except OSError:
        pass
