"""The HTML report: one self-contained page rendered from a JSON report document.

Its only input is the JSON report (``--mlgate-report``, schema ``pytest-mlgate/report``), so a
page rendered during the run and one rendered later by ``mlgate report REPORT.json --html PATH``
are the same. Needs the ``html`` extra (matplotlib, jinja2): ``pip install 'pytest-mlgate[html]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.report.html.document import ReportError, check_report, load_report

__all__ = ["ReportError", "check_report", "html_extra_missing", "load_report", "render_html", "write_html"]

_EXTRA = ("matplotlib", "jinja2")


def html_extra_missing() -> str:
    """"" when the html extra is installed, else a message naming what is missing and the fix."""
    import importlib.util

    missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
    if not missing:
        return ""
    return (f"the HTML report needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            "not installed: pip install 'pytest-mlgate[html]'")


def render_html(report: Mapping[str, Any], **options: Any) -> str:
    """The page for ``report`` (see page.render_html); ReportError for a report it cannot read."""
    problem = html_extra_missing()
    if problem:
        raise ReportError(problem)
    from pytest_mlgate.report.html.page import render_html as render

    return render(report, **options)


def write_html(path: str | Path, report: Mapping[str, Any], **options: Any) -> None:
    """Render ``report`` and write the page to ``path`` as every report is written
    (atomic.write_output: a symlink followed, a stream written through); OSError is the caller's."""
    from pytest_mlgate.atomic import write_output

    write_output(path, render_html(report, **options).encode("utf-8"))
