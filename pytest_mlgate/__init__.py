"""pytest-mlgate: a model's test suite as CI/CD gates.

Importing the package is cheap on purpose: pytest imports it at start-up for every run, so the
heavy parts (pandas, scikit-learn, skops) load only when the names below are first used.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["MlgateBaselineWarning", "MlgateInconclusiveWarning", "__version__", "load", "profile"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from pytest_mlgate.delivery.loader import load

        return load
    if name == "profile":
        from pytest_mlgate.profiles import profile

        return profile
    if name in ("MlgateInconclusiveWarning", "MlgateBaselineWarning"):
        # So that -W ignore::pytest_mlgate.MlgateInconclusiveWarning (and filterwarnings) work.
        from pytest_mlgate import verdicts

        return getattr(verdicts, name)
    raise AttributeError(f"module 'pytest_mlgate' has no attribute {name!r}")
