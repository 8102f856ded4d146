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
    from pytest_mlgate.atomic import output_file_problem, same_file_problem
    from pytest_mlgate.report.html.document import ReportError, load_report

    if not args.html and not args.markdown:
        raise ConfigError("mlgate report: nothing to write; give --html PATH and/or --markdown PATH")
    outputs = [(f"{flag} {path}", path) for flag, path in (("--html", args.html), ("--markdown", args.markdown))
               if path]
    for what, path in outputs:
        problem = output_file_problem(path, make_parents=True)
        if problem:
            raise ConfigError(f"{what}: {problem}")
    problem = same_file_problem(outputs, [(f"the report {args.report}", args.report)])
    if problem:
        raise ConfigError(problem)
    report = load_report(args.report)
    # Everything is rendered before anything is written: a report that cannot be rendered
    # leaves no output half done.
    pages: list[tuple[str, str]] = []
    if args.html:
        from pytest_mlgate.report.html import render_html

        pages.append((args.html, render_html(report, source=repr(args.report))))
    if args.markdown:
        from pytest_mlgate.report.render import render_markdown

        try:
            pages.append((args.markdown, render_markdown(report)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportError(f"{args.report!r} lacks what the Markdown summary needs "
                              f"({type(exc).__name__}: {exc}); was it written by pytest --mlgate-report?") from None
    for path, text in pages:
        write_page(path, text)
        print(f"wrote {path}")
    return 0


def write_page(path: str, text: str) -> None:
    """Write a rendered page as every report is written (atomic.write_output); ConfigError
    naming the path when it cannot be."""
    from pytest_mlgate.atomic import write_output

    try:
        write_output(path, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
