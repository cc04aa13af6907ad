import numpy as np
import pytest


def numerical_grad(f, x, eps=1e-6):
    """Centred differences (f(x + ε) − f(x − ε)) / 2ε for every entry of x (deck 004)."""
    g = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a, n):
    """‖a − n‖ / (‖a‖ + ‖n‖): per-entry ratios would be dominated by the finite differences' round-off
    on entries near zero; gradients that are zero in theory (a bias before batch norm) compare absolutely."""
    a, n = np.ravel(a), np.ravel(n)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-7))


@pytest.fixture
def cli():
    """``cli("train", path, ...)``: run the command line in this process, as a user types it."""
    from click.testing import CliRunner

    from nnlab.cli import main

    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [str(a) for a in args])

    return run


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Parsed IDX files go to a cache of the test session, never to the user's ~/.cache."""
    import os

    old = os.environ.get("NNLAB_CACHE")
    os.environ["NNLAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("NNLAB_CACHE", None)
    else:
        os.environ["NNLAB_CACHE"] = old


@pytest.fixture
def fashion_mnist_available():
    """Skip where Fashion-MNIST is not installed, except where NNLAB_REQUIRE_DATA=1 (CI) demands it."""
    import os

    from nnlab.data.real import find_fashion_mnist
    from nnlab.errors import DataError

    try:
        return find_fashion_mnist()
    except DataError as e:
        if os.environ.get("NNLAB_REQUIRE_DATA") == "1":
            raise
        pytest.skip(f"Fashion-MNIST is not installed here: {str(e).splitlines()[0]}")


@pytest.fixture(scope="session")
def resign_checkpoint():
    """``resign_checkpoint(path, edit)``: ``edit(meta)`` changes a checkpoint's metadata in place, and the
    file is written again with its checksum recomputed, so a reader meets the edit, not the checksum."""

    def resign(path, edit) -> None:
        import json

        from safetensors.numpy import load

        from nnlab.runs.checkpoint import encode

        data = path.read_bytes()
        n = int.from_bytes(data[:8], "little")
        meta = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["meta"])
        edit(meta)
        path.write_bytes(encode(load(data), meta))

    return resign
