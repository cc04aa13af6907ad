"""Checkpoints: safetensors files (no pickle: loading one can never run code).

A checkpoint holds named tensors (``model.*`` parameters and buffers, ``optim.*`` optimizer state,
``preprocess.*`` statistics) and, as JSON metadata, everything else a run needs to continue or to be used:
the resolved config, the epoch, the metrics so far, the RNG states. A SHA-256 of the tensors and the
metadata is stored beside them, so a truncated or altered file is refused instead of loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from nnlab.errors import CheckpointError

FORMAT = "nnlab-checkpoint-1"


def _digest(tensors: dict[str, np.ndarray], meta_json: str) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    h.update(meta_json.encode())
    return h.hexdigest()


_SPLICE = "\x00{}\x00"  # a stand-in for a value encoded beforehand: no JSON of a run holds NUL characters


def encode(tensors: dict[str, np.ndarray], meta: dict, encoded: dict[str, str] | None = None) -> bytes:
    """The bytes of a checkpoint of ``tensors`` and ``meta`` (JSON-serialisable); ``RunFolder.save_checkpoint``
    writes them. ``encoded`` gives values of top-level keys of ``meta`` already as JSON text (a run's history,
    encoded row by row as it grew): they go into the metadata as they are, which is then the very text
    ``json.dumps`` would have made."""
    from safetensors.numpy import save

    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    meta_json = json.dumps({**meta, **{k: _SPLICE.format(k) for k in encoded or {}}}, sort_keys=True)
    for key, text in (encoded or {}).items():
        token = json.dumps(_SPLICE.format(key))
        if meta_json.count(token) != 1:  # the stand-in also stands elsewhere (it never should): encode it all
            return encode(tensors, {**meta, **{k: json.loads(v) for k, v in encoded.items()}})
        meta_json = meta_json.replace(token, text)
    header = {"format": FORMAT, "meta": meta_json, "sha256": _digest(tensors, meta_json)}
    return save(tensors, metadata=header)


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint file (``encode``'s bytes); a clear error for anything else."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' not found")
    try:
        data = path.read_bytes()
        tensors = load(data)
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"'{path}' is not a readable checkpoint (truncated or not safetensors): {e}") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is a safetensors file but not an nnlab checkpoint")
    meta_json = header.get("meta", "")
    if _digest(tensors, meta_json) != header.get("sha256"):
        raise CheckpointError(f"checkpoint '{path}' is corrupt: its contents do not match their checksum")
    try:
        meta = json.loads(meta_json)
    except ValueError:
        raise CheckpointError(f"checkpoint '{path}' has unreadable metadata") from None
    from nnlab.runs.meta import check_meta

    return tensors, check_meta(meta, path)


def peek_meta(path: str | Path) -> dict | None:
    """A checkpoint's metadata read from its header alone (no tensors, no checksum): a cheap look at what a
    file holds, for messages; None where it cannot be read."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(min(n, 1 << 28)))
        meta = json.loads(header["__metadata__"]["meta"])
        return meta if isinstance(meta, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def subset(tensors: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The tensors under ``prefix.``, with the prefix removed."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
