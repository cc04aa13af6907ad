"""Image files and benchmarks: ``idx`` (any MNIST-format pair of files), ``iris`` (shipped CSV), ``digits``
(scikit-learn's 8×8 digits) and ``fashion_mnist`` (Zalando's 28×28 clothes, looked up on this machine).

Images stay uint8, one row of pixels per example; the preprocessing turns them into the run's dtype a
chunk at a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from nnlab.data.core import Dataset
from nnlab.data.files import csv_file, resolve_path
from nnlab.data.idx import read_idx
from nnlab.errors import DataError
from nnlab.registry import REGISTRIES

DATASETS = REGISTRIES["dataset"]

_ROOT = Path(__file__).resolve().parents[2]
#: a source checkout's datasets/ folder, where downloaded benchmarks may be put (git-ignored); None when
#: nnlab runs from an installed package
REPOSITORY_DATASETS = _ROOT / "datasets" if (_ROOT / "pyproject.toml").is_file() else None


def _check_limit(limit, name="limit"):
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"{name} must be a positive number of examples, got {limit!r}")


def load_idx_pair(images: Path, labels: Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images as rows of pixels (dtype as stored) and labels as int64, their counts checked."""
    X, y = read_idx(images), read_idx(labels)
    if X.ndim < 2:
        raise DataError(f"'{images}' holds a {X.ndim}-D array {X.shape}; an images file has one image per entry")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"'{labels}' holds a {y.ndim}-D {y.dtype} array; a labels file holds one integer per image")
    if len(y) == 0:
        raise DataError(f"'{labels}' holds no labels (and '{images}' {len(X)} images)")
    if y.min() < 0:
        raise DataError(f"'{labels}' holds a negative label ({int(y.min())}); class labels are 0, 1, 2, ...")
    if len(X) != len(y):
        raise DataError(f"'{images}' holds {len(X)} images but '{labels}' holds {len(y)} labels; they must be a pair")
    if limit is not None:
        X, y = X[:limit], y[:limit]
    return X.reshape(len(X), -1), y.astype(np.int64)


def _pixel_names(n: int) -> list[str]:
    return [f"pixel{i + 1}" for i in range(n)]  # the column names of the usual CSV exports (pixel1…pixel784)


@DATASETS.register("idx")
def idx(
    rng,
    images: str,
    labels: str,
    test_images: str | None = None,
    test_labels: str | None = None,
    class_names: list[str] | None = None,
    limit: int | None = None,
) -> Dataset:
    """Any MNIST-format pair of IDX files (gzipped or not), optionally with a test pair kept as the test split."""
    _check_limit(limit)
    if (test_images is None) != (test_labels is None):
        raise ValueError("test_images and test_labels come together")
    X, y = load_idx_pair(resolve_path(images, "images file"), resolve_path(labels, "labels file"), limit)
    X_test = y_test = None
    if test_images is not None:
        X_test, y_test = load_idx_pair(
            resolve_path(test_images, "images file"), resolve_path(test_labels, "labels file")
        )
        if X_test.shape[1] != X.shape[1]:
            raise DataError(f"'{test_images}' has {X_test.shape[1]} pixels per image, '{images}' has {X.shape[1]}")
    top = max(int(y.max()), -1 if y_test is None else int(y_test.max()))
    if class_names is None:
        class_names = [str(c) for c in range(top + 1)]
    elif top >= len(class_names):
        raise DataError(f"'{labels}': label {top} has no name among the {len(class_names)} class_names")
    info = {"source": str(labels)}
    return Dataset(
        X, y, "classification", "idx", _pixel_names(X.shape[1]), list(class_names), X_test, y_test, info=info
    )


# ----- iris, digits ----------------------------------------------------------------------------


@DATASETS.register("iris")
def iris(rng) -> Dataset:
    """Fisher's iris: 150 flowers, 4 measurements in cm, 3 species (a CSV shipped inside the package)."""
    from importlib.resources import as_file, files

    shipped = files("nnlab.data") / "iris.csv"  # package data: in the wheel, read wherever nnlab is installed
    if not shipped.is_file():
        raise DataError(f"iris: the file '{shipped}' that comes with nnlab is missing; reinstall nnlab")
    with as_file(shipped) as path:
        ds = csv_file(rng, str(path), target="species")
    ds.name = "iris"
    return ds


@DATASETS.register("digits")
def digits(rng) -> Dataset:
    """Handwritten digits, 8×8 pixels of 0–16, 1797 images (scikit-learn's copy of the UCI set)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(
            "digits: the dataset ships with scikit-learn, which is not installed; "
            'install it with: pip install scikit-learn (or pip install "nnlab[sklearn]")'
        ) from None
    d = load_digits()
    X = d.data.astype(np.uint8)  # whole numbers 0…16
    return Dataset(
        X, d.target.astype(np.int64), "classification", "digits", list(d.feature_names), [str(c) for c in range(10)]
    )


# ----- fashion_mnist ---------------------------------------------------------------------------

FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist_folders() -> list[Path]:
    """Where Fashion-MNIST is looked for, in order: $NNLAB_DATA (or its fashion-mnist/), datasets/fashion-mnist/
    (of the current directory, then of a source checkout), the Debian package's folder."""
    out = []
    if os.environ.get("NNLAB_DATA"):
        root = Path(os.environ["NNLAB_DATA"]).expanduser()
        out += [root, root / "fashion-mnist"]
    out.append(Path.cwd() / "datasets" / "fashion-mnist")
    if REPOSITORY_DATASETS is not None:
        out.append(REPOSITORY_DATASETS / "fashion-mnist")
    out.append(DEBIAN_FOLDER)
    return list(dict.fromkeys(out))


def _files_in(folder: Path) -> list[Path] | None:
    """The four files in ``folder`` (each gzipped or not), or None when any is missing."""
    found = []
    for stem in FASHION_FILES:
        hit = next((folder / n for n in (f"{stem}.gz", stem) if (folder / n).is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found


def _debian_folders() -> list[Path]:
    """Where the installed Debian package put its files, should that differ from /usr/share/datasets."""
    dpkg = shutil.which("dpkg-query") or shutil.which("dpkg")
    if not dpkg:
        return []
    try:
        listing = subprocess.run([dpkg, "-L", DEBIAN_PACKAGE], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return list(dict.fromkeys(Path(line).parent for line in listing.splitlines() if FASHION_FILES[0] in line))


def find_fashion_mnist(path: str | None = None) -> list[Path]:
    """The four Fashion-MNIST files (train images, train labels, test images, test labels)."""
    folders = [Path(os.path.expanduser(path))] if path else fashion_mnist_folders()
    for folder in folders:
        files = _files_in(folder)
        if files:
            return files
    if not path:
        for folder in _debian_folders():
            files = _files_in(folder)
            if files:
                return files
    looked = ", ".join(str(f) for f in folders)
    names = ", ".join(f"{s}.gz" for s in FASHION_FILES)
    raise DataError(
        f"fashion_mnist: the dataset was not found (looked in {looked}); install it with "
        f"`sudo apt-get install {DEBIAN_PACKAGE}` (Debian, Ubuntu), or put the four files ({names}, from "
        "https://github.com/zalandoresearch/fashion-mnist) in datasets/fashion-mnist/ or in a folder named by "
        "$NNLAB_DATA"
    )


@DATASETS.register("fashion_mnist", "fashion-mnist")
def fashion_mnist(rng, path: str | None = None, limit: int | None = None, test_limit: int | None = None) -> Dataset:
    """Fashion-MNIST: 28×28 grey clothes, 10 classes, 60 000 train and 10 000 official test images."""
    _check_limit(limit)
    _check_limit(test_limit, "test_limit")
    train_images, train_labels, test_images, test_labels = find_fashion_mnist(path)
    X, y = load_idx_pair(train_images, train_labels, limit)
    X_test, y_test = load_idx_pair(test_images, test_labels, test_limit)
    info = {"source": str(train_images.parent)}
    return Dataset(
        X,
        y,
        "classification",
        "fashion_mnist",
        _pixel_names(X.shape[1]),
        list(FASHION_CLASSES),
        X_test,
        y_test,
        info=info,
    )
