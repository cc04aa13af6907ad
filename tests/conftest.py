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
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"
