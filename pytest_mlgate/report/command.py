"""``mlgate report``: render a saved JSON report as an HTML page or as the Markdown summary."""

from __future__ import annotations

import argparse
from typing import Any

from pytest_mlgate.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand to the ``mlgate`` parser."""
    p = subparsers.add_parser(
        "report",
        help="render a JSON gate report (--mlgate-report) as HTML or Markdown",
        description="Render REPORT.json, written by pytest --mlgate --mlgate-report, as the same "
        "self-contained HTML page --mlgate-html writes, or as the Markdown summary. Exit status: "
        "0 written (whatever the run's verdict), 2 error.",
    )
    p.add_argument("report", metavar="REPORT.json", help="the JSON report of a gate-mode run")
    p.add_argument("--html", default=None, metavar="PATH", help="write the HTML page here")
    p.add_argument("--markdown", default=None, metavar="PATH", help="write the Markdown summary here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_mlgate.atomic import output_file_problem, write_text
    from pytest_mlgate.report.html.document import load_report

    if not args.html and not args.markdown:
        raise ConfigError("mlgate report: nothing to write; give --html PATH and/or --markdown PATH")
    for flag, path in (("--html", args.html), ("--markdown", args.markdown)):
        problem = path and output_file_problem(path, make_parents=True)
        if problem:
            raise ConfigError(f"{flag} {path}: {problem}")
    report = load_report(args.report)
    if args.html:
        from pytest_mlgate.report.html import write_html

        write_html(args.html, report, source=repr(args.report))
        print(f"wrote {args.html}")
    if args.markdown:
        from pytest_mlgate.report.html.document import ReportError
        from pytest_mlgate.report.render import render_markdown

        try:
            text = render_markdown(report)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"{args.report!r} lacks what the Markdown summary needs "
                              f"({type(exc).__name__}: {exc}); was it written by pytest --mlgate-report?") from None
        write_text(args.markdown, text)
        print(f"wrote {args.markdown}")
    return 0
