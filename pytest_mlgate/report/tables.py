"""Plain-text and Markdown tables, and number formatting shared by every report and command.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def fmt(x: float | int | None, digits: int = 4) -> str:
    """A number as a short string: 4 significant digits, '-' for missing."""
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
        def esc(s: str) -> str:
            return s.replace("|", "\\|").replace("\n", " ")

        out = ["| " + " | ".join(esc(h) for h in headers) + " |",
               "|" + "|".join("---" for _ in headers) + "|"]
        out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in cells]
        return "\n".join(out)
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(out)
