"""Output on a terminal that cannot show every character (``LC_ALL=C``, an ASCII-only console).

nnlab's messages and tables use a few characters beyond ASCII (φ, R², —, ≥, ×). Where stdout or stderr
cannot encode them, ``ascii_fallback()`` (called once, when the command line starts) makes each stream spell
them in ASCII (φ → phi, R² → R^2, — → -) instead of failing with ``UnicodeEncodeError``: everything printed
goes through those streams, click's echo and rich's consoles alike. The rich consoles of ``cli.render`` also
spell their text in ASCII before measuring it (``to_ascii``), so that tables stay aligned.
"""

from __future__ import annotations

import codecs
import sys
import unicodedata

HANDLER = "nnlab-ascii"
SPELLINGS = {
    "φ": "phi", "Φ": "Phi", "σ": "sigma", "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps",
    "η": "eta", "θ": "theta", "λ": "lambda", "μ": "mu", "π": "pi", "ρ": "rho", "τ": "tau", "ω": "omega",
    "Σ": "sum", "∑": "sum", "∂": "d", "Δ": "d", "√": "sqrt", "∞": "inf", "∈": "in", "≈": "~", "≠": "!=", "≥": ">=",
    "≤": "<=", "±": "+/-", "×": "x", "·": ".", "−": "-", "—": " - ", "–": "-", "…": "...", "→": "->",
    "←": "<-", "↔": "<->", "⇒": "=>", "‖": "||", "“": '"', "”": '"', "‘": "'", "’": "'", "•": "*",
    "★": "*", "✓": "ok", "✗": "x", "█": "#", "━": "-", "─": "-", "│": "|", "½": "1/2", "²": "^2",
    "³": "^3", "¹": "^1", "⁰": "^0", "⁻": "^-", "ⁿ": "^n", "ᵀ": "^T", "₀": "0", "₁": "1", "₂": "2",
    "₃": "3", "ᵢ": "i", "ⱼ": "j", "ₖ": "k", "ₜ": "t", "°": " deg",
}  # fmt: skip


def _spell(char: str) -> str:
    if char in SPELLINGS:
        return SPELLINGS[char]
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return plain or "?"


def _handler(error: UnicodeError):
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(_spell(c) for c in error.object[error.start : error.end]), error.end


codecs.register_error(HANDLER, _handler)


def ascii_fallback(streams=None) -> None:
    """Make each stream (default: stdout and stderr) that cannot encode nnlab's characters spell them in
    ASCII; a stream that can is left alone."""
    for stream in streams or (sys.stdout, sys.stderr):
        if not can_show(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=HANDLER)


def can_show(stream) -> bool:
    """Whether ``stream`` encodes nnlab's characters (a stream without an encoding is taken to)."""
    try:
        "φR²—≥×".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def to_ascii(text: str) -> str:
    """``text`` with every character beyond ASCII spelled in ASCII (φ → phi, R² → R^2)."""
    return text.encode("ascii", HANDLER).decode("ascii")
