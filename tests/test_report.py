"""nnlab report RUN_DIR | SWEEP_DIR: the page's content, its links, and the page in a real headless browser
(Chromium): no console error, every image decoded, a screenshot that is not blank, a table that sorts."""

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnlab.config import parse_config
from nnlab.training import train

MOONS = """
name: moons
data: {name: moons, n_samples: 160, split: {val: 0.25, test: 0.25}, preprocess: standardize}
model: {hidden: [6], activation: tanh}
optimizer: {name: adam, lr: 0.05}
training: {epochs: 4, batch_size: 40, diagnostics: true}
"""

SWEEP = """
name: tiny-sweep
base: base.yaml
method: random
trials: 2
seed: 0
metric: val_accuracy
parameters:
  optimizer.lr: {distribution: loguniform, low: 0.01, high: 0.5}
  model.hidden: {values: [[4], [8]]}
"""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",  # the page's console messages, as INFO:CONSOLE lines
    "--v=0",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train(parse_config(MOONS), tmp_path_factory.mktemp("runs")).run_dir


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    from click.testing import CliRunner

    from nnlab.cli import main

    root = tmp_path_factory.mktemp("sweep")
    (root / "base.yaml").write_text(MOONS.replace("diagnostics: true", "diagnostics: false"))
    (root / "s.yaml").write_text(SWEEP)
    result = CliRunner().invoke(main, ["sweep", str(root / "s.yaml"), "--runs-dir", str(root / "runs")])
    assert result.exit_code == 0, result.output
    (folder,) = (root / "runs" / "sweeps").iterdir()
    return folder


def _images(page: str) -> list[Image.Image]:
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert all(s.startswith("data:image/png;base64,") for s in sources)  # embedded, nothing to fetch
    return [Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))) for s in sources]


def _not_blank(image: Image.Image) -> bool:
    return float(np.asarray(image.convert("L"), dtype=np.float64).std()) > 5.0


@pytest.mark.slow
def test_a_run_page_holds_every_section_with_its_figures_embedded(cli, run):
    result = cli("report", run)
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section id="([^"]+)"', page)
    assert sections == ["summary", "curves", "evaluation", "boundary", "neurons", "gradients", "config"]
    images = _images(page)
    assert len(images) == 6  # curves, confusion matrix, per class, boundary, neurons, gradients
    assert all(_not_blank(im) for im in images)
    assert not re.search(r"(src|href)=\"(https?:)?//", page) and "<link" not in page  # no network
    assert "confusion matrix" in page and "name: moons" in page  # the figures' alt text, the config
    assert "@media print" in page


@pytest.mark.slow
def test_a_sweep_page_links_each_trial_page_and_back(cli, sweep, tmp_path):
    out = tmp_path / "elsewhere" / "sweep.html"
    out.parent.mkdir()
    result = cli("report", sweep, "-o", out)
    assert result.exit_code == 0, result.output
    assert "and 2 trial pages" in result.output
    page = out.read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"#]+)">report</a>', page)
    assert len(links) == 2 and len(re.findall(r"<tr><td", page)) == 2  # a row and a page per trial
    for link in links:
        trial_page = (out.parent / link).resolve()
        assert trial_page.is_file() and trial_page.parent.parent == sweep.resolve()
        back = re.search(r'<a href="([^"]+)">← the sweep', trial_page.read_text(encoding="utf-8")).group(1)
        assert (trial_page.parent / back).resolve() == out.resolve()
    assert 'class="sortable"' in page and "<script>" in page
    assert len(_images(page)) == 2 and all(_not_blank(im) for im in _images(page))


# ----- in a real browser ----------------------------------------------------------------------------

PROBE = """<script>
window.addEventListener("load", function () {
  var out = {images: Array.prototype.map.call(document.images, function (i) { return i.naturalWidth; })};
  var table = document.querySelector("table.sortable");
  if (table) {
    var heads = table.tHead.rows[0].cells, col = -1;
    for (var k = 0; k < heads.length; k++) { if (heads[k].textContent === "val_accuracy") { col = k; } }
    var first = function () {
      return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[col].textContent; });
    };
    heads[col].click(); out.ascending = first();
    heads[col].click(); out.descending = first();
  }
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium(tmp: Path, *args) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed here, so the browser checks did not run (CI installs it)")
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _in_browser(page: Path, tmp: Path) -> dict:
    """Open ``page``: its console messages, its 1280×800 screenshot, and what the probe measured in a copy."""
    shot = tmp / f"{page.stem}.png"
    done = _chromium(tmp, f"--screenshot={shot}", "--window-size=1280,800", page.as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(tmp, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    probe.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout)
    assert found, dom.stderr[-2000:]
    return {"console": console, "screenshot": Image.open(shot), **json.loads(found.group(1).replace("&quot;", '"'))}


@pytest.mark.slow
def test_the_run_page_in_a_browser(cli, run, tmp_path):
    assert cli("report", run).exit_code == 0
    seen = _in_browser(run / "report.html", tmp_path)
    assert seen["console"] == []
    assert len(seen["images"]) == 6 and all(w > 0 for w in seen["images"])  # every image decoded
    assert seen["screenshot"].size == (1280, 800) and _not_blank(seen["screenshot"])


@pytest.mark.slow
def test_the_sweep_page_in_a_browser_sorts_its_trials(cli, sweep, tmp_path):
    assert cli("report", sweep).exit_code == 0
    seen = _in_browser(sweep / "report.html", tmp_path)
    assert seen["console"] == []
    assert len(seen["images"]) == 2 and all(w > 0 for w in seen["images"])
    assert _not_blank(seen["screenshot"])
    values = [float(v) for v in seen["ascending"]]
    assert values == sorted(values) and [float(v) for v in seen["descending"]] == sorted(values, reverse=True)
