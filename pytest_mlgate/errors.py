"""Exceptions for mistakes a user can make.

Every class here carries a message that names the input, what was expected and how to fix it.
The plugin shows these messages without a traceback from its own internals.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations


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
    """A model cannot be packaged (unserializable type, bad name)."""


class VerificationError(MlgateError):
    """An artefact failed verification: a file's hash or size differs, or files are missing or extra."""


class RegistryError(MlgateError):
    """A registry operation failed (unknown name or version, unwritable directory)."""


class DeployError(MlgateError):
    """A deploy target failed (command not found, non-zero exit, timeout)."""
