"""Plain-text and Markdown tables, and number formatting shared by every report and command.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

# What can start HTML in Markdown: "<" before a letter, "/", "!" or "?" (a tag, a comment, an
# autolink; "<= 0.05" cannot), and "&" (an entity). Markdown punctuation that can open a link, an
# image, a link definition, code, emphasis or a table cell: "]" before "(", "[" or ":" (without
# it no link or image forms, so "[0.91, 0.95]" stays as it is), "_" only where it can start or
# end emphasis (latency_p95_ms stays readable).
_HTML_START = re.compile(r"&|<(?=[A-Za-z/!?])")
_MD_SPECIAL = re.compile(r"[\\`*|~]|\](?=[(\[:])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069): a name holding one
# would reorder the text after it (the trial's "\u202eevil" shows reversed); shown as \u escapes.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def md_text(text: object) -> str:
    """``text`` (a test id, a metric or column name, a message) as literal Markdown text for
    GitHub: no HTML (``<`` and ``&`` escaped where they could start it), no link, image, code or emphasis, one line."""
    s = _HTML_START.sub(lambda m: "&amp;" if m.group() == "&" else "&lt;", str(text))
    s = " ".join(s.splitlines()) if ("\n" in s or "\r" in s) else s
    s = BIDI_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", s)
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(), s)


def fmt(x: float | int | None, digits: int = 4, *, against: float | int | None = None) -> str:
    """A number as a short string, '-' for missing: ``digits`` significant digits from 1 up,
    ``digits`` decimals below 1 (0.9123, 0.05), scientific below 0.001 and from 1e6.

    ``against``: the number it is shown beside (its threshold). When the two differ but would
    print the same (0.89996 beside ``>= 0.9``), digits are added until they print apart, so a
    failing value never reads as equal to the limit it missed."""
    text = _fmt(x, digits)
    if against is None or x is None or isinstance(x, bool):
        return text
    try:
        differ = float(x) != float(against) and math.isfinite(float(x)) and math.isfinite(float(against))
    except (TypeError, ValueError, OverflowError):
        return text
    more = digits
    while differ and more < 17 and text == _fmt(against, more):
        more += 1
        text = _fmt(x, more)
    return text


def _fmt(x: float | int | None, digits: int) -> str:
    if x is None:
        return "-"
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}" if abs(x) >= 1 else f"{x:.{digits}f}".rstrip("0").rstrip(".") or "0"


def fmt_change(change: float | None, ratio: float | None = None) -> str:
    """The change column of every report and command: ``x0.953`` for a performance reading
    (current / reference), ``-0.03`` (current - reference) for anything else."""
    if ratio is not None:
        return f"x{fmt(ratio)}"
    return "-" if change is None else f"{change:+.4g}"


def change_between(old: float | None, new: float | None, *, performance: bool) -> str:
    """``fmt_change`` of two values (``performance``: see stats.known_metrics.is_performance_reading)."""
    if old is None or new is None:
        return "-"
    if performance:
        return fmt_change(None, new / old) if old != 0 else "-"
    return fmt_change(new - old)


def fmt_interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "-"
    return f"[{fmt(low)}, {fmt(high)}]"


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    """A table with aligned columns; GitHub-flavoured Markdown when ``markdown``."""
    cells = [[str(c) for c in row] for row in rows]
    if markdown:
        out = ["| " + " | ".join(md_text(h) for h in headers) + " |",
               "|" + "|".join("---" for _ in headers) + "|"]
        out += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in cells]
        return "\n".join(out)
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(out)
