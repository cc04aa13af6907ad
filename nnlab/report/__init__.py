"""``nnlab report``: a run's or a sweep's results as one self-contained HTML page (``run.py``,
``sweep.py``, on the building blocks of ``page.py``)."""

from __future__ import annotations

from pathlib import Path


def write_report(target, out=None) -> list[Path]:
    """The report of a run folder or a sweep folder (and of each of its trials): every check first (the
    folder, ``out`` ending in .html in an existing folder, every folder to write into writable), then the
    pages; returns the paths written, the main page first."""
    from nnlab.atomic import check_writable
    from nnlab.errors import NnlabError
    from nnlab.report.run import REPORT, write_run_report
    from nnlab.report.sweep import trial_folders, write_sweep_report
    from nnlab.runs.folder import RunFolder
    from nnlab.sweep.runner import SWEEP_FILE, load_sweep_dir

    target = Path(target)
    sweep = (target / SWEEP_FILE).is_file()
    if sweep:
        load_sweep_dir(target)
    else:
        target = RunFolder.open(target).path
    out = Path(out) if out is not None else target / REPORT
    if out.suffix.lower() not in (".html", ".htm"):
        raise NnlabError(f"-o: the report is an HTML page, give a file name ending in .html (got '{out}')")
    if out.is_dir() or not out.parent.is_dir():
        raise NnlabError(f"-o: '{out}' is a folder" if out.is_dir() else f"-o: folder '{out.parent}' not found")
    check_writable(out.parent, f"the report '{out}'")
    if not sweep:
        return [write_run_report(target, out)]
    for trial in trial_folders(target):
        check_writable(trial, f"the trial's report '{trial / REPORT}'")
    return write_sweep_report(target, out)
