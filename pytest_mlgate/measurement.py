"""The value objects every part of the plugin passes around: a measurement and a comparison,
and the check a value must pass to be measured.

Both are JSON-safe through ``to_json``/``from_json``: they ride on pytest reports between
pytest-xdist workers and the controller, and they end up in reports, baselines and artefacts.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_mlgate.errors import MetricValueError
from pytest_mlgate.strict_json import number as _json_number

Verdict = Literal["pass", "fail", "inconclusive", "improved", "not_compared"]
VERDICTS: tuple[str, ...] = ("pass", "fail", "inconclusive", "improved", "not_compared")


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


@dataclass(frozen=True)
class Measurement:
    """One metric reading of one test.

    ``low``/``high`` is the confidence interval at ``level`` (None when the metric has no
    uncertainty, e.g. a number recorded by hand); ``n`` the number of evaluation rows or timed
    calls; ``method`` how the interval was obtained ("wilson", "delong", "bootstrap", ...).
    ``info`` holds JSON-safe extras (slice name, data fingerprint, machine, units).
    """

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    level: float | None = None
    n: int | None = None
    method: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _json_number(self.value),
            "low": _json_number(self.low),
            "high": _json_number(self.high),
            "level": self.level,
            "n": self.n,
            "method": self.method,
            "info": dict(self.info),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Measurement:
        return cls(
            name=str(d["name"]),
            value=float(d["value"]),
            low=_num(d.get("low")),
            high=_num(d.get("high")),
            level=_num(d.get("level")),
            n=None if d.get("n") is None else int(d["n"]),
            method=d.get("method"),
            info=dict(d.get("info") or {}),
        )


def check_metric_value(name: Any, value: Any) -> float:
    """The value as a float, or MetricValueError saying why it is not a finite real number."""
    __tracebackhide__ = True
    if not isinstance(name, str) or not name.strip():
        raise MetricValueError(f"metric name must be a non-empty string, got {name!r}")
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
        raise MetricValueError(
            f"metric {name!r}: {value!r} is a boolean, not a number; record 1.0/0.0 explicitly"
        )
    if getattr(value, "ndim", 0) != 0 or isinstance(value, (list, tuple, dict, set)):
        raise MetricValueError(
            f"metric {name!r}: got an array-like {type(value).__name__}, not a single number; "
            f"record one value per metric (e.g. the mean)"
        )
    # Real numbers only: Python and numpy ints and floats (numpy 0-d values of kind i, u, f).
    # Strings, bytes, complex numbers and timedeltas are refused, not silently converted.
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("i", "u", "f") or (kind is None and isinstance(value, numbers.Real)):
        try:
            number = float(value)
        except OverflowError:  # an int or Fraction beyond a float's range, such as 10**400
            raise MetricValueError(
                f"metric {name!r}: {type(value).__name__} value is too large for a float "
                f"(about 1.8e308 at most); record a finite number"
            ) from None
    else:
        raise MetricValueError(
            f"metric {name!r}: {value!r} ({type(value).__name__}) is not a real number"
        )
    if math.isnan(number):
        raise MetricValueError(f"metric {name!r} is NaN: a NaN never passes a gate")
    if math.isinf(number):
        raise MetricValueError(f"metric {name!r} is infinite ({number}); record a finite number")
    return number


@dataclass(frozen=True)
class Comparison:
    """The verdict of one metric against a baseline or a champion model.

    ``change`` is current minus reference in the metric's own units; ``ratio`` is current /
    reference, for performance readings only (None for quality metrics, where a ratio means
    nothing near zero). ``change_low``/``change_high`` is the interval of the change at ``level``,
    the inversion of the test that decided the verdict. ``verdict``:
      - "fail": worse than the reference by more than the margin, with significance;
      - "inconclusive": the data cannot rule such a drop out;
      - "pass": no drop beyond the margin;
      - "improved": better than the reference beyond the margin, with significance;
      - "not_compared": no comparison was possible; ``reason`` says why.
    """

    metric: str
    verdict: Verdict
    reference: str  # "baseline" or "champion"
    reference_value: float | None = None
    change: float | None = None
    ratio: float | None = None
    change_low: float | None = None
    change_high: float | None = None
    level: float | None = None
    margin: float | None = None
    p_value: float | None = None
    method: str | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "verdict": self.verdict,
            "reference": self.reference,
            "reference_value": _json_number(self.reference_value),
            "change": _json_number(self.change),
            "ratio": _json_number(self.ratio),
            "change_low": _json_number(self.change_low),
            "change_high": _json_number(self.change_high),
            "level": self.level,
            "margin": _json_number(self.margin),
            "p_value": _json_number(self.p_value),
            "method": self.method,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Comparison:
        verdict = d["verdict"]
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        return cls(
            metric=str(d["metric"]),
            verdict=verdict,
            reference=str(d.get("reference", "baseline")),
            reference_value=_num(d.get("reference_value")),
            change=_num(d.get("change")),
            ratio=_num(d.get("ratio")),
            change_low=_num(d.get("change_low")),
            change_high=_num(d.get("change_high")),
            level=_num(d.get("level")),
            margin=_num(d.get("margin")),
            p_value=_num(d.get("p_value")),
            method=d.get("method"),
            reason=str(d.get("reason", "")),
        )

