"""``mlgate monitor``: a deployed model's production data checked against its artefact.

Exit status: 0 healthy, 1 degraded or drifted, 2 a usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ConfigError, DriftError, MlgateError


def register(subparsers: Any) -> None:
    """Add the ``monitor`` subcommand to the ``mlgate`` parser."""
    p = subparsers.add_parser(
        "monitor",
        help="check production data against a published artefact (input drift)",
        description="Check production data (CSV or Parquet) against the artefact REF names: "
        "input drift against its training profile, as `mlgate drift` does. Exit status: "
        "0 healthy, 1 degraded or drifted, 2 error.",
    )
    p.add_argument("reference", metavar="REF",
                   help="artefact directory or registry reference (name, name@alias, name@version)")
    p.add_argument("--data", required=True, metavar="FILE", help="production data, .csv or .parquet")
    p.add_argument("--registry", default=None, help="registry directory (default .mlgate/registry)")
    p.add_argument("--alpha", type=float, default=None,
                   help="family-wise significance level of the drift tests (default 0.05)")
    p.add_argument("--report", default=None, metavar="PATH", help="write the JSON report here")
    p.add_argument("--markdown", default=None, metavar="PATH",
                   help="write the Markdown summary here")
    p.add_argument("--html", default=None, metavar="PATH", help="not available in this build")
    p.add_argument("--labels", default=None, metavar="COLUMN", help="not available in this build")
    p.add_argument("--log", default=None, metavar="PATH", help="not available in this build")
    p.add_argument("--margin", type=float, default=None, help="not available in this build")
    p.add_argument("--notify", action="store_true",
                   help="send the verdict to the targets in mlgate_notify")
    p.set_defaults(func=run)


_NOT_YET = {
    "labels": "performance on labelled feedback",
    "log": "latency from the prediction log",
    "margin": "performance on labelled feedback (the margin applies to it)",
    "html": "the HTML page of a monitor run",
}


def run(args: argparse.Namespace) -> int:
    """Run ``mlgate monitor``; returns the exit status."""
    from pytest_mlgate.atomic import output_file_problem, same_file_problem
    from pytest_mlgate.cli.drift import load_reference, read_table
    from pytest_mlgate.monitoring import ModelInfo, MonitorResult
    from pytest_mlgate.stats.drift import check_drift

    for flag, part in _NOT_YET.items():
        if getattr(args, flag) is not None:
            raise ConfigError(f"--{flag}: {part} is not available in this build of mlgate "
                              "monitor; run it without --" + flag + " (input drift is checked).")
    notify = None
    if args.notify:  # the targets are read first: a bad ini line is exit 2 before anything is written
        from pytest_mlgate.notify import NotifyConfig

        notify = NotifyConfig.from_project(Path.cwd())
    outputs = [(f"--{flag} {path}", path) for flag, path in
               (("report", args.report), ("markdown", args.markdown)) if path]
    for label, path in outputs:
        problem = output_file_problem(path, make_parents=True)
        if problem:
            raise ConfigError(f"{label}: {problem}")
    problem = same_file_problem(outputs, [(f"the data file {args.data}", args.data)])
    if problem:
        raise ConfigError(problem)
    prof, source, artefact = load_reference(args.reference, args.registry)
    if artefact is None:
        raise ConfigError(f"{args.reference!r} is a profile, not an artefact: mlgate monitor "
                          "needs the published artefact (name, name@alias, or its directory); "
                          "use `mlgate drift` for a bare profile.")
    manifest, version = artefact
    current = read_table(args.data)
    if current.shape[0] == 0:
        raise DriftError(f"the data file {args.data!r} has no rows; there is nothing to monitor.")
    kwargs = {} if args.alpha is None else {"alpha": args.alpha}
    try:
        drift = check_drift(prof, current, **kwargs)
    except MlgateError as exc:
        from pytest_mlgate.cli.drift import _cli_words

        raise DriftError(f"comparing {args.data} with the reference {source}: "
                         f"{_cli_words(str(exc))}") from None
    result = MonitorResult(
        model=ModelInfo(name=str(manifest.get("name")), version=version,
                        artifact_id=manifest.get("artifact_id")),
        reference=args.reference, data=args.data, n_rows=int(current.shape[0]),
        input_drift=drift, report_path=args.report)
    _write(result, args)
    print(f"mlgate monitor: {result.verdict}: {result.title()}")
    for failure in result.failures():
        print(f"  - {failure}")
    sys.stdout.flush()
    if notify is not None:
        from pytest_mlgate.monitoring import monitor_notification

        _send_notification(monitor_notification(result), notify)
    return result.exit_status


def _write(result: Any, args: argparse.Namespace) -> None:
    """Both outputs are rendered before either is written: a rendering error leaves neither."""
    from pytest_mlgate.report.command import write_page
    from pytest_mlgate.strict_json import file_bytes

    pages = []
    if args.report:
        pages.append((args.report, file_bytes(result.to_json()).decode("utf-8")))
    if args.markdown:
        pages.append((args.markdown, result.markdown()))
    for path, text in pages:
        write_page(path, text)


def _send_notification(summary: dict[str, Any], cfg: Any) -> None:
    """Send the verdict to the project's ``mlgate_notify`` targets and, when it is not healthy,
    run ``mlgate_on_degraded``; the ini is the one pytest would read from the current directory.
    A target's failure is printed on stderr and never changes the exit status."""
    from pytest_mlgate.notify import Notification, run_on_degraded, send_all

    note = Notification(**summary)
    outcomes = send_all(note, cfg)
    trigger = run_on_degraded(cfg, note, summary.get("report_path"))
    for outcome in [*outcomes, *([trigger] if trigger else [])]:
        print(f"mlgate monitor: {outcome}", file=sys.stderr if not outcome.ok else sys.stdout)
