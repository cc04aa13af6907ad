"""nnlab.sklearn.MLPClassifier against scikit-learn's MLPClassifier on digits, with the same settings.

Both get the same arguments (scikit-learn's defaults unless given: one hidden layer of 100 relu units,
adam at 1e-3, batches of 200, α = 1e-4, at most 200 epochs, stopping when the training loss has not improved
by 1e-4 for 10 epochs), the same standardised features (a ``StandardScaler`` fitted on the train split) and
the same stratified 80/20 split. For each seed the two fit in turn, so that a change of the machine's load
falls on both; the script prints the load (``uptime``) before and after, each fit's seconds and test
accuracy, and the means and the time ratio.

    python benchmarks/sklearn_digits.py [--seeds 5] [--max-iter 200] [--hidden 100] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
import warnings


def load():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def fit_once(cls, settings: dict, seed: int, data) -> tuple[float, float, int]:
    X_train, X_test, y_train, y_test = data
    clf = cls(**settings, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ConvergenceWarning of a run that uses all its epochs
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    return seconds, clf.score(X_test, y_test), clf.n_iter_


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average: {os.getloadavg()}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads for both (default: BLAS's own)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        from nnlab import parallel

        parallel.blas_limit(args.threads)  # holds from here on (NumPy's BLAS loaded first)
        print(f"BLAS threads: {args.threads}")

    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from nnlab.sklearn import MLPClassifier as NnlabMLP

    data = load()
    settings = {"hidden_layer_sizes": (args.hidden,), "max_iter": args.max_iter}
    fit_once(NnlabMLP, {**settings, "max_iter": 2}, 0, data)  # imports and first calls out of the timings
    fit_once(SklearnMLP, {**settings, "max_iter": 2}, 0, data)
    print(f"digits: {len(data[0])} train / {len(data[1])} test examples; settings {settings}")
    print(f"load before: {uptime()}")
    results = {"nnlab": [], "scikit-learn": []}
    for seed in range(args.seeds):
        for name, cls in (("nnlab", NnlabMLP), ("scikit-learn", SklearnMLP)):
            seconds, acc, epochs = fit_once(cls, settings, seed, data)
            results[name].append((seconds, acc, epochs))
            print(f"seed {seed}  {name:<13} {seconds:6.2f} s  {epochs:3d} epochs  test accuracy {acc:.4f}")
    print(f"load after:  {uptime()}")
    means = {k: [statistics.mean(r[i] for r in v) for i in range(3)] for k, v in results.items()}
    for name, (seconds, acc, epochs) in means.items():
        print(f"mean {name:<13} {seconds:6.2f} s  {epochs:5.1f} epochs  test accuracy {acc:.4f}")
    ours, theirs = means["nnlab"], means["scikit-learn"]
    per_epoch = (ours[0] / ours[2]) / (theirs[0] / theirs[2])
    print(
        f"nnlab / scikit-learn: time {ours[0] / theirs[0]:.2f}x, time per epoch {per_epoch:.2f}x, "
        f"accuracy {100 * (ours[1] - theirs[1]):+.2f} points"
    )


if __name__ == "__main__":
    main()
