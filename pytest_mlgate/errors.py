"""Exceptions for mistakes a user can make.

Every class here carries a message that names the input, what was expected and how to fix it.
The plugin shows these messages without a traceback from its own internals
(``without_plugin_frames``).

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

from types import TracebackType


def without_plugin_frames(error: BaseException) -> BaseException:
    """``error`` with the plugin's own frames taken out of its traceback and out of its causes'
    tracebacks, so that a user's mistake is shown at the user's line with the message, and no
    internal traceback. Called by the plugin on an ``MlgateError`` that ends a test; any other
    error keeps its frames, so a bug of ours still shows where it is."""
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = _user_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__
    return error


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    kept = []
    while tb is not None:
        name = str(tb.tb_frame.f_globals.get("__name__", ""))
        if name != "pytest_mlgate" and not name.startswith("pytest_mlgate."):
            kept.append(tb)
        tb = tb.tb_next
    out = None
    for t in reversed(kept):
        out = TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


class MlgateError(Exception):
    """Base class of every error pytest-mlgate raises for a user's mistake."""


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


class ServeError(MlgateError):
    """A model server cannot start (missing serve extra, address in use) or a served model
    failed its check (``serve-check``: predictions differ, latency budget blown)."""
