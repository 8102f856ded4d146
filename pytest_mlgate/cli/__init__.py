"""The ``mlgate`` command. Each module of this package registers the subcommands of one area
(``delivery``: the registry and artefacts, ``baseline``, ``drift``, ``serve``: serve and
container; ``mlgate report`` lives in ``pytest_mlgate.report.command``); this one only wires them
into one argument parser and turns user mistakes into a message and exit status 2."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from importlib import import_module

from pytest_mlgate import __version__
from pytest_mlgate.errors import MlgateError

# Modules that provide ``register(subparsers)``; each registered parser sets ``func`` to a
# callable taking the parsed arguments and returning the exit status.
COMMAND_MODULES: tuple[str, ...] = (
    "pytest_mlgate.cli.delivery",
    "pytest_mlgate.cli.baseline",
    "pytest_mlgate.cli.drift",
    "pytest_mlgate.cli.monitor",
    "pytest_mlgate.report.command",
    "pytest_mlgate.cli.serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlgate", description="Inspect baselines, the model registry and data drift."
    )
    parser.add_argument("--version", action="version", version=f"mlgate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit status. Output into a pipe whose reader went away
    (``mlgate ... | head``) ends the command quietly, as it does a Unix tool: status 141
    (128 + SIGPIPE), nothing on stderr."""
    try:
        try:
            return _main(argv)
        finally:
            # Output still buffered must meet a closed pipe here, not at interpreter exit.
            sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        return 128 + int(getattr(signal, "SIGPIPE", 13))


def _discard_stdout() -> None:
    """Point stdout at the null device, so the flush at interpreter exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is no file (replaced in-process)
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except MlgateError as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return 2
