"""``nnlab init``: starter configs that train, through the real command line, from an empty folder; and the
shipped examples, found by name from any folder."""

import json
import sys
from pathlib import Path

import pytest

from nnlab.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
#: the datasets that need no file of the user's
BUILT_IN = ["xor", "and", "or", "blobs", "moons", "circles", "spirals", "sine", "iris"]


@pytest.fixture
def here(tmp_path, monkeypatch):
    """An empty folder as the current directory, as a user who has just installed nnlab has."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _init_and_train(cli, dataset, *args):
    r = cli("init", dataset, *args, "-o", "m.yaml")
    assert r.exit_code == 0, r.output
    assert "train it with: nnlab train m.yaml" in r.stderr
    r = cli("train", "m.yaml", "--epochs", 1, "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["status"] in ("completed", "stopped_early"), summary
    assert Path(summary["run_dir"]).resolve().parent == (Path.cwd() / "runs").resolve()  # runs/ of this folder
    return summary


@pytest.mark.parametrize("dataset", BUILT_IN)
def test_init_writes_a_config_that_trains(cli, here, dataset):
    summary = _init_and_train(cli, dataset)
    text = (here / "m.yaml").read_text()
    assert f"data:\n  name: {dataset}" in text
    assert summary["epochs"] == 1


def test_init_digits_trains(cli, here):
    pytest.importorskip("sklearn")
    _init_and_train(cli, "digits")
    assert "preprocess: {name: scale, factor: 16}" in (here / "m.yaml").read_text()


@pytest.mark.slow  # one epoch over 54 000 images
def test_init_fashion_mnist_trains(cli, here, fashion_mnist_available):
    summary = _init_and_train(cli, "fashion_mnist")
    assert summary["test"]["test_accuracy"] > 0.7  # one epoch of the starter's network already gets there
    assert "split: {val: 0.1}" in (here / "m.yaml").read_text()  # the official test split stays


def test_the_starter_is_sized_from_the_data(cli, here):
    small = parse_config(cli("init", "blobs").stdout)
    assert small.model.hidden == [16] and small.model.activation == "tanh"
    wide = cli("init", "blobs", "features=40", "classes=4", "n_samples=2000")
    assert wide.exit_code == 0, wide.output
    cfg = parse_config(wide.stdout)
    assert cfg.model.hidden == [128, 64] and cfg.model.dropout > 0 and cfg.data.dataset_args()["features"] == 40
    assert "2000 examples of 40 features, 4 classes" in wide.stdout and "40 → 128 → 64 → 4" in wide.stdout
    noisy = parse_config(cli("init", "blobs", "noise=1.5e0", "spread=5E-1").stdout)  # numbers as users write them
    assert noisy.data.dataset_args()["noise"] == 1.5 and noisy.data.dataset_args()["spread"] == 0.5
    sine = parse_config(cli("init", "sine").stdout)
    assert sine.loss == "mse" and sine.model.activation == "tanh"  # regression
    table = parse_config(cli("init", "xor").stdout)
    assert table.training.batch_size == "full" and table.data.split.val == 0 and table.training.early_stopping is None


def test_every_key_is_commented(cli, here):
    text = cli("init", "moons").stdout
    keys = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    sections = {"data:", "model:", "training:", "    monitor: val_loss", "    patience: 20"}
    uncommented = [line for line in keys if "#" not in line and line not in sections]
    assert uncommented == []
    assert text.startswith("# moons: Two interleaving half circles")


def test_without_o_it_prints_and_writes_nothing(cli, here):
    r = cli("init", "iris")
    assert r.exit_code == 0 and r.stdout.startswith("# iris:")
    assert list(here.iterdir()) == []


def test_it_refuses_to_overwrite_without_force(cli, here):
    (here / "m.yaml").write_text("mine\n")
    r = cli("init", "moons", "-o", "m.yaml")
    assert r.exit_code == 2 and "the file exists; give --force" in r.stderr and "Traceback" not in r.output
    assert (here / "m.yaml").read_text() == "mine\n"
    r = cli("init", "moons", "-o", "m.yaml", "--force")
    assert r.exit_code == 0 and "name: moons" in (here / "m.yaml").read_text()


def test_o_into_a_new_folder_and_onto_a_folder(cli, here):
    assert cli("init", "moons", "-o", "configs/m.yaml").exit_code == 0
    assert (here / "configs" / "m.yaml").is_file()
    r = cli("init", "moons", "-o", "configs")
    assert r.exit_code == 2 and "'configs' is a directory" in r.stderr


def test_list_shows_the_datasets_with_their_descriptions(cli, here):
    from nnlab.registry import registry

    r = cli("init", "--list")
    assert r.exit_code == 0
    words = r.stdout.split()
    solid = "".join(words)  # the help formatter wraps lines, also after a hyphen
    for name in registry("dataset").names():
        assert name in words
        assert "".join(registry("dataset").describe(name).split()) in solid
    assert "Givepath=…target=…" in solid and "moons.yaml" in solid  # what csv needs; the shipped examples
    assert cli("init").stdout == r.stdout  # no DATASET: the same list
    assert max(len(line) for line in r.stdout.splitlines()) <= 80  # the test's terminal: 80 columns


@pytest.mark.parametrize(
    "args, message",
    [
        (["moon"], "unknown dataset 'moon' — did you mean 'moons'?"),
        (["moons", "nsamples=10"], "no argument 'nsamples' — did you mean 'n_samples'?"),
        (["moons", "n_samples"], "must look like KEY=VALUE"),
        (["moons", "n_samples=many"], "n_samples"),
        (["csv", "path=nothere.csv", "target=y"], "not found"),
        (["configs/moonz.yaml"], "did you mean 'moons.yaml'?"),
        (["configs/sweeps/moons.yaml"], "a sweep over a base config"),
    ],
)
def test_user_errors_exit_2_with_one_line(cli, here, args, message):
    r = cli("init", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output
    assert r.stdout == ""


def test_a_file_dataset_gives_a_template_then_reads_the_file(cli, here):
    r = cli("init", "csv", "-o", "t.yaml")
    assert r.exit_code == 0, r.output
    text = (here / "t.yaml").read_text()
    assert "path: data.csv                # ← your file" in text and "target: label                 # ←" in text
    assert "A template" in text
    r = cli("train", "t.yaml", "--epochs", 1)  # not filled in yet: a clear refusal
    assert r.exit_code == 2 and "data.csv" in r.stderr and "not found" in r.stderr
    (here / "flowers.csv").write_text((ROOT / "nnlab" / "data" / "iris.csv").read_text())
    summary = _init_and_train(cli, "csv", "path=flowers.csv", "target=species")
    assert summary["status"] in ("completed", "stopped_early")
    text = (here / "m.yaml").read_text()
    assert "150 examples of 4 features, 3 classes" in text and "path: flowers.csv" in text and "←" not in text
    assert "name: flowers " in text  # the run folders are named after the file


def test_an_idx_template_is_sized_for_images(cli, here):
    cfg = parse_config(cli("init", "idx").stdout)
    assert cfg.data.preprocess == {"name": "scale", "factor": 255} and cfg.model.hidden == [256, 128]


def test_digits_without_scikit_learn_recommends_scikit_learn_alone(cli, here, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn… raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    r = cli("init", "digits")
    assert r.exit_code == 2
    assert "pip install scikit-learn" in r.stderr and "bench" not in r.stderr


def test_init_copies_a_shipped_example(cli, here):
    r = cli("init", "configs/moons.yaml", "-o", "mine.yaml")
    assert r.exit_code == 0, r.output
    assert (here / "mine.yaml").read_text() == (ROOT / "configs" / "moons.yaml").read_text()


# ----- the shipped examples, by name, from any folder ---------------------------------------------


@pytest.mark.parametrize("name", ["configs/xor.yaml", "xor.yaml", "./configs/classic/perceptron_and.yaml"])
def test_train_finds_a_shipped_example_from_any_folder(cli, here, name):
    r = cli("train", name, "--epochs", 2, "--json")
    assert r.exit_code == 0, r.output
    assert f"{name}: not in this folder; using the example shipped with nnlab" in r.stderr
    assert json.loads(r.stdout)["run_dir"].startswith("runs/")


def test_a_file_of_the_user_wins_over_the_shipped_example(cli, here):
    (here / "configs").mkdir()
    mine = (ROOT / "configs" / "xor.yaml").read_text().replace("\nname: xor", "\nname: mine")
    (here / "configs" / "xor.yaml").write_text(mine)
    r = cli("train", "configs/xor.yaml", "--epochs", 2, "--json")
    assert r.exit_code == 0, r.output
    assert "shipped" not in r.stderr and "/mine-" in json.loads(r.stdout)["run_dir"]


def test_gradcheck_finds_a_shipped_example(cli, here):
    r = cli("gradcheck", "configs/moons.yaml", "--samples", 4, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["passed"] is True


def test_every_command_that_reads_a_config_finds_the_shipped_examples():
    from nnlab.cli import _shipped_example, main

    for command, argument in (("train", "config"), ("gradcheck", "config"), ("sweep", "sweep_file")):
        (param,) = [p for p in main.commands[command].params if p.name == argument]
        assert param.callback is _shipped_example or "_shipped_example" in param.callback.__code__.co_names


def test_the_shipped_sweep_finds_its_base_config(here):
    from nnlab.examples import shipped_example
    from nnlab.sweep.space import load_sweep

    sweep, base = load_sweep(shipped_example("configs/sweeps/moons.yaml"))
    assert base["data"]["name"] == "moons" and sweep.name == "moons-sweep"


def test_a_config_that_is_nowhere_is_still_an_error(cli, here):
    r = cli("train", "configs/nothere.yaml")
    assert r.exit_code == 2 and "not found" in r.stderr and "shipped" not in r.stderr


def test_main_help_starts_a_user_with_init(cli):
    r = cli("--help")
    assert "nnlab init moons -o moons.yaml && nnlab train moons.yaml" in r.stdout
    assert "nnlab train configs/xor.yaml" in r.stdout


# ----- the package data ---------------------------------------------------------------------------


def test_every_file_the_package_reads_is_package_data():
    """A file under nnlab/ that is not Python must match pyproject's package-data, or a wheel lacks it."""
    from fnmatch import fnmatch

    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["nnlab"]
    package = ROOT / "nnlab"
    data = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert "data/iris.csv" in data and "configs/moons.yaml" in data
    # fnmatch's * also crosses "/", so compare depths as setuptools' glob does
    missing = [f for f in data if not any(fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns)]
    assert missing == []


def test_the_repository_configs_folder_is_the_shipped_one():
    assert (ROOT / "configs").resolve() == (ROOT / "nnlab" / "configs").resolve()
    assert (ROOT / "datasets" / "iris.csv").resolve() == (ROOT / "nnlab" / "data" / "iris.csv").resolve()
