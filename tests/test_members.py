"""nnlab train CONFIG --members K: K runs with derived seeds and one split, the ensemble's figures beside them."""

import json

import pytest

CONFIG = """
name: ens
seed: 5
data: {name: blobs, n_samples: 300, classes: 3, features: 4, noise: 3.0, split: {val: 0.2, test: 0.2}}
model: {hidden: [8]}
training: {epochs: 3, swa: {start: 2}}
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "ens.yaml"
    path.write_text(CONFIG)
    return path


def test_members_train_and_their_ensemble_is_evaluated(cli, config, runs_dir):
    r = cli("train", config, "--members", 3, "--runs-dir", runs_dir, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    (folder,) = runs_dir.iterdir()
    assert folder.name.startswith("ens-ensemble-") and out["folder"] == str(folder)
    assert json.loads((folder / "ensemble.json").read_text()) == {k: v for k, v in out.items() if k != "folder"}
    assert [m["seed"] for m in out["members"]] == [5, 6, 7]
    members = sorted(p for p in folder.iterdir() if p.is_dir())
    assert [p.name.split("-")[1] for p in members] == ["seed5", "seed6", "seed7"]
    configs = [cli("eval", m, "--json") for m in members]  # every member is a run folder of its own
    assert all(c.exit_code == 0 for c in configs)
    splits = {json.dumps(json.loads((m / "summary.json").read_text())["examples"]) for m in members}
    assert len(splits) == 1
    # the ensemble's figures are nnlab eval's over the members, at the checkpoint chosen on validation
    assert out["checkpoint"] in ("best", "swa") and set(out["validation"]) == {"best", "swa"}
    report = json.loads((folder / "eval-test-ensemble.json").read_text())
    same = cli("eval", *members, "-c", out["checkpoint"], "--json")
    assert json.loads(same.output)["metrics"] == report["metrics"]
    assert out["ensemble"]["test_accuracy"] == report["metrics"]["accuracy"]
    assert (folder / "confusion-test-ensemble.csv").is_file()
    spread = out["member_test"]["test_accuracy"]
    values = [m["test"]["test_accuracy"] for m in out["members"]]
    assert spread["min"] == min(values) and spread["mean"] == pytest.approx(sum(values) / 3)


def test_members_are_refused_where_they_make_no_sense(cli, config, runs_dir, tmp_path):
    r = cli("train", config, "--members", 1, "--runs-dir", runs_dir)
    assert r.exit_code == 2 and "--members must be at least 2" in r.output
    r = cli("train", "--resume", tmp_path, "--members", 2)
    assert r.exit_code == 2 and "--members" in r.output
    r = cli("train", config, "--members", 2, "--overfit", 5, "--runs-dir", runs_dir)
    assert r.exit_code == 2 and "--overfit" in r.output
    assert not runs_dir.exists()
