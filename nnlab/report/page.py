"""One self-contained HTML page: sections of text, tables and figures, with the figures embedded as PNG
``data:`` URIs, the style and the few lines of script inline. Nothing is fetched when it opens (no font, no
script from a network, no server): the file alone is the report, to mail, archive or print to PDF.

The style reads on a laptop's screen (a column of at most 1120 px, figures scaled to it) and prints cleanly:
no navigation bar on paper, no figure or table row cut across two pages, links written out.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

CSS = """
:root { --ink: #1d2430; --muted: #5b6575; --line: #d9dee6; --band: #f4f6f9; --accent: #2257a7; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main, footer { max-width: 1120px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; }
h1 { font-size: 1.6em; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 1.2em; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.lead { color: var(--muted); margin: 0 0 10px; }
nav { position: sticky; top: 0; background: #fff; padding: 6px 0; border-bottom: 1px solid var(--line); z-index: 1; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-size: 0.92em; }
a { color: var(--accent); }
figure { margin: 10px 0 18px; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; }
table { border-collapse: collapse; font-size: 0.9em; margin: 6px 0 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: var(--band); }
tbody tr:nth-child(even) { background: #fafbfc; }
tr { break-inside: avoid; page-break-inside: avoid; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #aab; }
table.sortable th[aria-sort=ascending]::after { content: " \\2191"; color: var(--ink); }
table.sortable th[aria-sort=descending]::after { content: " \\2193"; color: var(--ink); }
.wide { overflow-x: auto; }
pre { background: var(--band); padding: 10px 12px; overflow-x: auto; font-size: 0.85em; border-radius: 4px; }
.note { color: #8a5a00; background: #fff7e6; padding: 6px 10px; border-radius: 4px; }
footer { color: var(--muted); font-size: 0.85em; padding-top: 24px; padding-bottom: 24px; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { font-size: 10.5pt; }
  header, main, footer { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  pre { white-space: pre-wrap; word-break: break-all; }
  figure img { max-height: 235mm; width: auto; border: none; }
  .wide { overflow: visible; }
  a[href^="http"]::after, a[href$=".html"]::after { content: " (" attr(href) ")"; font-size: 0.8em; }
}
"""

SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.tabIndex = 0;
    th.title = "sort by this column";
    th.addEventListener("click", function () { sortBy(table, col, th); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, col, th); } });
  });
});
function sortKey(cell) {
  var v = cell.getAttribute("data-sort");
  if (v === null) { v = cell.textContent.trim(); }
  var n = Number(v);
  return v === "" ? null : (isNaN(n) ? v.toLowerCase() : n);
}
function sortBy(table, col, th) {
  var up = th.getAttribute("aria-sort") !== "ascending";
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", up ? "ascending" : "descending");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = sortKey(a.cells[col]), y = sortKey(b.cells[col]);
    if (x === y) { return 0; }
    if (x === null) { return 1; }
    if (y === null) { return -1; }
    if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }
    return (x < y ? -1 : 1) * (up ? 1 : -1);
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def figure_uri(fig, dpi: int = 100) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def number(value, digits: int = 4) -> str:
    """A cell's text: floats to ``digits`` significant figures, None as an empty cell."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


@dataclass
class Page:
    """A page being written: its title, a lead line, and sections of HTML in order."""

    title: str
    lead: str = ""
    sections: list = field(default_factory=list)  # (anchor, heading, html)
    script: bool = False  # the sortable tables' script

    def section(self, anchor: str, heading: str, body: str) -> None:
        self.sections.append((anchor, heading, body))

    def html(self, footer: str = "") -> str:
        nav = "".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "\n".join(f'<section id="{a}">\n<h2>{esc(h)}</h2>\n{b}\n</section>' for a, h, b in self.sections)
        script = f"<script>{SORT_JS}</script>" if self.script else ""
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(self.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header>\n<h1>{esc(self.title)}</h1>\n"
            + (f'<p class="lead">{esc(self.lead)}</p>\n' if self.lead else "")
            + f"<nav>{nav}</nav>\n</header>\n<main>\n{body}\n</main>\n"
            f"<footer>{esc(footer)}</footer>\n{script}\n</body>\n</html>\n"
        )


def figure(fig, alt: str, caption: str = "") -> str:
    """A ``<figure>`` of the matplotlib figure ``fig``, embedded, with its caption."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{figure_uri(fig)}" alt="{esc(alt)}">{cap}</figure>'


def drawn(make, alt: str, caption: str = "") -> str:
    """The figure ``make()`` draws, embedded; a note in its place where it cannot be drawn (an
    ``NnlabError``: the run's data moved, say)."""
    from nnlab.errors import NnlabError

    try:
        fig = make()
    except NnlabError as e:
        return note(f"{alt}: not drawn: {e}")
    return figure(fig, alt, caption)


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def pairs(rows) -> str:
    """A two-column table of (name, value) rows."""
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    return f"<table>{cells}</table>"


def table(columns: list[str], rows: list[list], sortable: bool = False, numeric: set | None = None) -> str:
    """A table; a cell is text, or ``(text, sort_value)``, or ``(text, sort_value, html)`` for a cell of
    ready HTML (a link). ``numeric`` columns are right-aligned."""
    numeric = numeric or set()
    head = "".join(f'<th scope="col">{esc(c).replace(".", ".<wbr>").replace("_", "_<wbr>")}</th>' for c in columns)
    lines = []
    for row in rows:
        cells = []
        for name, cell in zip(columns, row):
            text, key, raw = (cell + (None,) * 3)[:3] if isinstance(cell, tuple) else (cell, None, None)
            sort = f' data-sort="{esc(key)}"' if key is not None else ""
            klass = ' class="num"' if name in numeric else ""
            cells.append(f"<td{klass}{sort}>{raw if raw is not None else esc(text)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    klass = ' class="sortable"' if sortable else ""
    return (
        f'<div class="wide"><table{klass}><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table></div>'
    )


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"
