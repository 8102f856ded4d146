"""``mlgate drift``: compare a data file with the reference profile stored in an artefact.

The monitoring job after deployment: exit 1 when the data drifted, 0 when not, 2 on errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_mlgate.delivery.artifact import PROFILE_FILE
from pytest_mlgate.errors import ConfigError, DriftError, MlgateError


def register(subparsers: Any) -> None:
    """Add the ``drift`` subcommand to the ``mlgate`` parser."""
    p = subparsers.add_parser(
        "drift",
        help="compare a CSV/Parquet file with an artefact's reference profile",
        description="Compare DATA_FILE (CSV or Parquet) column by column with the reference "
        "profile (profile.json) of an artefact. Exit status: 0 no drift, 1 drift, 2 error.",
    )
    p.add_argument("reference", metavar="ARTIFACT_OR_REF",
                   help="artefact directory, registry reference (name, name@alias, "
                   "name@version), or a profile.json file")
    p.add_argument("data", metavar="DATA_FILE", help="current data, .csv or .parquet")
    p.add_argument("--registry", default=None, help="registry directory "
                   "(default .mlgate/registry)")
    p.add_argument("--columns", nargs="+", default=None, metavar="COLUMN",
                   help="compare only these columns")
    p.add_argument("--alpha", type=float, default=None,
                   help="family-wise significance level (default 0.05)")
    p.add_argument("--numeric-threshold", type=float, default=None,
                   help="Wasserstein distance in reference SDs (default 0.1)")
    p.add_argument("--categorical-threshold", type=float, default=None,
                   help="Jensen-Shannon distance (default 0.1)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--json", dest="json_out", default=None, metavar="PATH",
                   help="also write the full result as JSON")
    p.add_argument("--html", default=None, metavar="PATH",
                   help="also write an HTML page with each column's distributions (extra: html)")
    p.set_defaults(func=run)


def load_profile(ref: str, registry: str | None = None) -> Any:
    """The reference Profile for ``ref``: a profile.json file or a directory holding one (both
    must look like paths: ``./profile.json``), an artefact directory, or a registry reference
    (``name``, ``name@alias``, ``name@version``) resolved in ``registry``. An artefact is
    verified (files and pinned id) and the profile is read from the very bytes verified."""
    return load_reference(ref, registry)[0]


def load_reference(ref: str, registry: str | None
                   ) -> tuple[Any, Path, tuple[dict[str, Any], int | None] | None]:
    """The profile, the file it was read from, and the verified manifest of the artefact it came
    from with its registry version (None for a bare profile.json; version None for a path)."""
    from pytest_mlgate.delivery.registries import locate_ref
    from pytest_mlgate.delivery.registry import looks_like_path, open_verified
    from pytest_mlgate.delivery.verify import read_manifest

    path = Path(ref)
    if looks_like_path(ref) and path.is_file():
        return _parse_profile(path, _read_bytes(path)), path, None
    if looks_like_path(ref) and path.is_dir() and not (path / "manifest.json").is_file():
        if (path / PROFILE_FILE).is_file():
            return _parse_profile(path / PROFILE_FILE, _read_bytes(path / PROFILE_FILE)), \
                path / PROFILE_FILE, None
        raise DriftError(f"{ref!r} is a directory with neither manifest.json nor {PROFILE_FILE}; "
                         "pass an artefact directory, a registry reference or a profile.json.")
    located = locate_ref(ref, registry)
    if PROFILE_FILE not in read_manifest(located.path)["files"]:
        raise DriftError(f"artefact {str(located.path)!r} has no {PROFILE_FILE}: it was delivered "
                         "without a training set. Pass data={'train': X_train} to "
                         "mlgate.candidate(...) so the reference profile is stored.")
    verified = open_verified(located, read=[PROFILE_FILE])
    source = located.path / PROFILE_FILE
    return _parse_profile(source, verified.files[PROFILE_FILE]), source, (dict(verified.manifest), located.version)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DriftError(f"cannot read the profile {str(path)!r}: {exc.strerror or exc}") from exc


def _parse_profile(path: Path, data: bytes) -> Any:
    """A Profile from the bytes of ``path``; DriftError naming the file for anything else."""
    from pytest_mlgate.profiles import Profile
    from pytest_mlgate.strict_json import loads as loads_strict

    fix = ("write it with pytest_mlgate.profile(frame).to_json(), or re-publish the artefact with "
           "data={'train': X_train}")
    try:
        doc = loads_strict(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        why = str(exc)[:200] if not isinstance(exc, RecursionError) else "nested too deeply"
        raise DriftError(f"the profile {str(path)!r} is not valid JSON ({why}); {fix}.") from None
    try:
        prof = Profile.from_json(doc)  # refuses a profile pytest_mlgate.profile cannot write
    except MlgateError as exc:
        raise DriftError(f"the profile {str(path)!r} is not usable: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise DriftError(f"the profile {str(path)!r} is malformed ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); {fix}.") from None
    return prof


def _check_html(path: str) -> None:
    """--html is checked before the data is read: the extra is installed, the path writable."""
    from pytest_mlgate.atomic import output_file_problem
    from pytest_mlgate.report.html import html_extra_missing

    problem = html_extra_missing() or output_file_problem(path, make_parents=True)
    if problem:
        raise ConfigError(f"--html {path}: {problem}")


def read_table(path: str) -> Any:
    """A DataFrame from a .csv (any compression pandas knows) or .parquet file."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DriftError(f"data file {path!r} does not exist.")
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            try:
                import pyarrow  # noqa: F401
            except ImportError as exc:
                raise DriftError("reading Parquet needs pyarrow: "
                                 "pip install 'pytest-mlgate[parquet]'.") from exc
            return pd.read_parquet(p)
        if ".csv" in name or name.endswith(".txt"):
            return pd.read_csv(p)
    except MlgateError:
        raise
    except Exception as exc:  # parser errors differ by engine; the user needs the message
        raise DriftError(f"cannot read {path!r}: {exc}") from exc
    raise DriftError(f"data file {path!r}: unknown format; use .csv or .parquet.")


# check_drift speaks Python (columns=[...], alpha); on the command line the options are flags.
_CLI_WORDS = (("check_drift: ", ""), ("columns=[...]", "--columns COLUMN [COLUMN ...]"),
              ("columns=[]", "--columns"), ("alpha must", "--alpha must"),
              ("numeric_threshold must", "--numeric-threshold must"),
              ("categorical_threshold must", "--categorical-threshold must"))


def _cli_words(message: str) -> str:
    for python, flag in _CLI_WORDS:
        message = message.replace(python, flag)
    return message


def run(args: argparse.Namespace) -> int:
    """Run ``mlgate drift``; returns the exit status."""
    from pytest_mlgate.stats.drift import check_drift

    if args.json_out:
        from pytest_mlgate.atomic import output_file_problem

        problem = output_file_problem(args.json_out, make_parents=False)
        if problem:
            raise ConfigError(f"--json {args.json_out}: {problem}")
    if args.html:
        _check_html(args.html)
    from pytest_mlgate.atomic import same_file_problem

    problem = same_file_problem(
        [(f"--{flag} {path}", path) for flag, path in (("html", args.html), ("json", args.json_out)) if path],
        [(f"the reference {args.reference}", args.reference), (f"the data file {args.data}", args.data)])
    if problem:
        raise ConfigError(problem)
    prof, source, _ = load_reference(args.reference, args.registry)
    current = read_table(args.data)
    kwargs: dict[str, Any] = {}
    for key in ("alpha", "numeric_threshold", "categorical_threshold"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    try:
        result = check_drift(prof, current, columns=args.columns, **kwargs)
    except MlgateError as exc:
        raise DriftError(f"comparing {args.data} with the reference {source}: {_cli_words(str(exc))}") from None
    if args.json_out:
        from pytest_mlgate.report.command import write_page
        from pytest_mlgate.strict_json import file_bytes

        write_page(args.json_out, file_bytes(result.to_json()).decode("utf-8"))
    if args.html:
        from pytest_mlgate.report.command import write_page
        from pytest_mlgate.report.drift_document import drift_document
        from pytest_mlgate.report.html import render_html
        from pytest_mlgate.report.series import drift

        doc = drift_document(result, drift(result, prof, current), reference=args.reference, data=args.data)
        k, n = len(result.drifted_columns), len(result.columns)
        write_page(args.html, render_html(doc, title="mlgate drift",
                                          headline=f"Drift in {k} of {n} columns" if k else f"No drift in {n} columns"))
    if args.markdown:
        verdict = "**drift**" if result.drifted else "no drift"
        print(f"{verdict}: {len(result.drifted_columns)} of {len(result.columns)} columns\n")
        print(result.table(markdown=True))
    else:
        print(result.message())
    sys.stdout.flush()
    return 1 if result.drifted else 0
