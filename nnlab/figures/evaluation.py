"""The figures of ``nnlab eval``'s report (``evaluate.evaluate_runs``) for a classifier: the confusion matrix
and each class's precision, recall and F1 (``nnlab report`` shows both).

The confusion matrix's rows are the true classes and its columns the predicted ones; each cell is coloured
by its share of the row (a row of the diagonal at 1 is a class always recognised: the recall) and, up to
``ANNOTATED`` classes, written as a count.
"""

from __future__ import annotations

import numpy as np

from nnlab.figures.common import new_figure

ANNOTATED = 15  # classes up to which each cell's count is written in it
SCORES = ("precision", "recall", "f1")


def confusion_figure(report: dict):
    """The confusion matrix of an evaluation ``report`` (a classification one) as an ``imshow``."""
    cm = np.asarray(report["confusion_matrix"], dtype=np.int64)
    names = [str(c) for c in report["classes"]]
    n = len(names)
    side = min(max(4.2, 0.55 * n + 2.4), 11.0)
    fig = new_figure(side + 1.0, side)
    ax = fig.subplots()
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class", shrink=0.8)
    if n <= ANNOTATED:
        for i in range(n):
            for j in range(n):
                color = "white" if share[i, j] > 0.6 else "black"
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=color, fontsize="small")
    ax.set_xticks(range(n), names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right")
    ax.set_yticks(range(n), names)
    if max(map(len, names)) <= 3:
        ax.tick_params(axis="x", labelrotation=0)
    accuracy = report["metrics"].get("accuracy")
    scored = f", accuracy {accuracy:.4f}" if accuracy is not None else ""
    ax.set(xlabel="predicted class", ylabel="true class")
    ax.set_title(f"confusion matrix: {report['examples']} {report['split']} examples{scored}", fontsize="medium")
    return fig


def per_class_figure(report: dict):
    """Precision, recall and F1 of each class as grouped horizontal bars, the macro averages as lines."""
    names = [str(c) for c in report["classes"]]
    per = report["per_class"]
    n = len(names)
    fig = new_figure(8.0, max(3.0, 0.42 * n + 1.8))
    ax = fig.subplots()
    y = np.arange(n)
    height = 0.8 / len(SCORES)
    for k, score in enumerate(SCORES):
        values = [per[c][score] for c in names]
        ax.barh(y + (k - 1) * height, values, height=height, color=f"C{k}", label=score)
        macro = (report.get("macro") or {}).get(score)
        if macro is not None:
            ax.axvline(macro, color=f"C{k}", linestyle=":", linewidth=1)
    ax.set_yticks(y, [f"{c} ({per[c]['support']})" for c in names])
    ax.invert_yaxis()  # the first class on top, as in the confusion matrix
    ax.set(xlim=(0, 1.0), xlabel="score (dotted: the macro average)")
    ax.set_title(f"per class on the {report['split']} split (support in brackets)", fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22 if n > 4 else -0.4), fontsize="small", ncol=3)
    return fig
