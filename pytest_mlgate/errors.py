"""Exceptions for mistakes a user can make.

Every class here carries a message that names the input, what was expected and how to fix it.
The plugin shows these messages without a traceback from its own internals.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import sys
from typing import Any

_CAUSE_FLAG = "_mlgate_caused_user_error"


def hide_for_user_errors(excinfo: Any) -> bool:
    """The ``__tracebackhide__`` of the plugin's modules (pytest calls it with an ExceptionInfo
    for each of their frames): hide them for a user's mistake, an MlgateError and what caused
    it, and keep them for anything else, so that a bug of ours still shows where it is.

    pytest renders the MlgateError before its causes, so this flags the causes first."""
    error = excinfo.value
    if isinstance(error, MlgateError):
        cause = error.__cause__ or error.__context__
        while cause is not None and not getattr(cause, _CAUSE_FLAG, False):
            try:
                setattr(cause, _CAUSE_FLAG, True)
            except (AttributeError, TypeError):
                break
            cause = cause.__cause__ or cause.__context__
        return True
    return bool(getattr(error, _CAUSE_FLAG, False))


def _install_traceback_hide() -> None:
    # pytest hides a frame whose module globals hold a true (or callable-true)
    # ``__tracebackhide__``. Every module in an error's traceback, or in its causes', is loaded
    # by the time the error is made, so installing it here covers them all, at no cost to a run
    # without errors.
    for name, module in list(sys.modules.items()):
        ours = name == "pytest_mlgate" or name.startswith("pytest_mlgate.")
        if ours and module is not None and "__tracebackhide__" not in vars(module):
            module.__tracebackhide__ = hide_for_user_errors  # type: ignore[attr-defined]


class MlgateError(Exception):
    """Base class of every error pytest-mlgate raises for a user's mistake."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        _install_traceback_hide()


class MarkerError(MlgateError):
    """A gate marker's arguments are malformed (bad threshold, unknown keyword, two gates)."""


class ConfigError(MlgateError):
    """An option or ini value is malformed."""


class MetricValueError(MlgateError):
    """A recorded metric value is not a finite real number."""


class DataError(MlgateError):
    """Input data is unusable: length mismatch, NaN labels, empty frames, mixed types."""


class ModelError(MlgateError):
    """A model lacks what a metric or check needs (for example ``predict_proba``)."""


class UnknownMetricError(MlgateError):
    """A metric name is not known; the message suggests the closest known name."""


class BaselineError(MlgateError):
    """The baseline file is corrupt, from a future schema, or cannot be written."""


class BenchmarkError(MlgateError):
    """Benchmark options are invalid (function not callable, zero rounds, negative budget)."""


class DriftError(MlgateError):
    """Drift inputs are unusable (mismatched columns, empty or all-missing columns)."""


class BehaviourError(MlgateError):
    """A behavioural check was misused (a perturbation that changes the shape, say)."""


class ArtifactError(MlgateError):
    """A model cannot be packaged (unserializable type, bad name). ``reason``: the one-line
    summary of a library's error that caused it, when that error is not chained (raised ``from
    None``: its traceback runs through the library's internals, lines a user cannot act on)."""

    def __init__(self, *args: object, reason: str | None = None) -> None:
        super().__init__(*args)
        self.reason = reason


class VerificationError(MlgateError):
    """An artefact failed verification: a file's hash or size differs, or files are missing or extra."""


class RegistryError(MlgateError):
    """A registry operation failed (unknown name or version, unwritable directory)."""


class DeployError(MlgateError):
    """A deploy target failed (command not found, non-zero exit, timeout)."""
