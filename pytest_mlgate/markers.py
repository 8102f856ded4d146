"""Gate markers -> validated gate specs.

``@pytest.mark.validation(accuracy=">= 0.9", margin={"accuracy": 0.01}, key="clf")`` becomes a
``GateSpec`` with one ``Threshold``. Everything a user can get wrong here raises ``MarkerError``
with the test, the argument and the fix in the message; the plugin turns that into a collection
error for that test. No pytest import: this is plain data validation.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import fnmatch
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePath
from types import MappingProxyType
from typing import Any, NamedTuple

from pytest_mlgate.errors import MarkerError

GATES: tuple[str, ...] = ("unit", "integration", "performance", "validation")

MARKER_HELP: dict[str, str] = {
    "unit": "unit: mlgate unit gate (feature code, fast checks); no arguments.",
    "integration": "integration: mlgate integration gate (the pipeline end to end); no arguments.",
    "performance": (
        "performance(**budgets, tolerance={}, key=None): mlgate performance gate; budgets such as "
        "latency_p95_ms='<= 20', throughput_rps='>= 1000'."
    ),
    "validation": (
        "validation(**thresholds, margin={}, key=None): mlgate validation gate; thresholds such as "
        "accuracy='>= 0.9' or a bare number for a metric of known direction."
    ),
}

# Keywords that are not thresholds, per gate marker.
RESERVED: dict[str, tuple[str, ...]] = {
    "unit": (),
    "integration": (),
    "performance": ("tolerance", "key"),
    "validation": ("margin", "key"),
}

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
# The one rule for a threshold string (docs/markers.md): an optional operator and a decimal
# number, with spaces or tabs allowed before, between and after; nothing else. Matched in two
# steps so that a near-miss gets a message about its own part: the operator is whatever precedes
# the number (anything not a letter, digit, sign, dot or whitespace), then each part is checked.
_BLANKS = " \t"
_SPLIT_RE = re.compile(r"(?P<op>[^\w\s.+-]*)[ \t]*(?P<num>.*)", re.DOTALL)
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


# These records are NamedTuples rather than dataclasses: pytest imports this module on every run,
# and a frozen dataclass costs about 1 ms to create at import.


class Threshold(NamedTuple):
    """``metric op value``: the metric must satisfy this for the test to pass."""

    metric: str
    op: str
    value: float

    @property
    def higher_is_better(self) -> bool:
        return self.op in (">=", ">")

    def holds(self, x: float) -> bool:
        # A NaN never passes: every comparison with NaN is False.
        return OPS[self.op](x, self.value)

    @property
    def text(self) -> str:
        return f"{self.op} {self.value:g}"

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "value": self.value, "text": self.text}


_NONE: Mapping[str, float] = MappingProxyType({})


class GateSpec(NamedTuple):
    """A test's gate and what its marker asks of it."""

    gate: str
    thresholds: tuple[Threshold, ...] = ()
    margins: Mapping[str, float] = _NONE
    tolerances: Mapping[str, float] = _NONE
    key: str | None = None
    source: str = "marker"  # "marker" or "path"

    def margin_for(self, metric: str, default: float) -> float:
        """The marker's margin for ``metric`` (or its ``"*"`` margin), else ``default``."""
        return self.margins.get(metric, self.margins.get("*", default))

    def tolerance_for(self, metric: str, default: float) -> float:
        """The marker's tolerance for ``metric`` (or its ``"*"`` tolerance), else ``default``."""
        return self.tolerances.get(metric, self.tolerances.get("*", default))

    def threshold_for(self, metric: str) -> Threshold | None:
        for t in self.thresholds:
            if t.metric == metric:
                return t
        return None


def parse_threshold(test: str, metric: str, raw: Any) -> Threshold:
    """Parse ``">= 0.9"``, ``"<=20"`` or a bare number into a Threshold, or raise MarkerError."""
    where = f"{test}: threshold {metric}={raw!r}"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise MarkerError(
            f"{where} is a {type(raw).__name__}; write a threshold as a string such as "
            f"{metric}=\">= 0.9\" or a bare number"
        )
    if isinstance(raw, (int, float)):
        op, number = None, _to_float(where, raw)
    else:
        op, number = _parse_text(where, metric, raw)
    if not math.isfinite(number):
        raise MarkerError(f"{where}: the threshold must be a finite number")
    if op is None:
        from pytest_mlgate.stats.known_metrics import (  # a bare number only
            closest_names,
            direction_of,
        )

        direction = direction_of(metric)
        if direction is None:
            close = closest_names(metric, n=1)
            hint = f"did you mean {close[0]!r}? For a metric of your own, " if close else ""
            raise MarkerError(
                f"{where}: a bare number needs a metric whose direction is known, and {metric!r} is "
                f"not one; {hint}write {metric}=\">= {number:g}\" or {metric}=\"<= {number:g}\""
            )
        op = ">=" if direction == "higher" else "<="
    return Threshold(metric=metric, op=op, value=number)


def _to_float(where: str, raw: float) -> float:
    try:
        return float(raw)
    except OverflowError:  # an int such as 10**400
        raise MarkerError(f"{where}: the threshold must be a finite number; this one is too "
                          f"large for a float") from None


def _parse_text(where: str, metric: str, raw: str) -> tuple[str | None, float]:
    """``(operator or None, number)`` of a threshold string, by the one rule above."""
    example = f"for example {metric}=\">= 0.9\""
    odd = sorted({c for c in raw if not (c.isascii() and c.isprintable()) and c != "\t"})
    if odd:
        names = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in odd)
        raise MarkerError(
            f"{where} contains {names}; write \"<op> <number>\" with op one of >=, >, <=, < and "
            f"plain spaces, {example}"
        )
    m = _SPLIT_RE.fullmatch(raw.strip(_BLANKS))
    assert m is not None  # the pattern matches any string
    op = m.group("op") or None
    text = m.group("num")
    if op is not None and op not in OPS:
        raise MarkerError(f"{where}: unknown operator {op!r}; use one of >=, >, <=, <")
    if not text:
        raise MarkerError(
            f"{where} has no number; write it as \"<op> <number>\" with op one of >=, >, <=, <"
        )
    if not _NUMBER_RE.fullmatch(text):
        raise MarkerError(
            f"{where}: {text!r} is not a number; write it as \"<op> <number>\" with a decimal "
            f"number (0.9, .9, 1e-3), {example}"
        )
    return op, float(text)


def _number_map(test: str, gate: str, keyword: str, raw: Any, *, allow_scalar: bool) -> dict[str, float]:
    """``margin={"accuracy": 0.01}`` (or a scalar for all metrics, stored under ``"*"``)."""
    where = f"{test}: {gate}({keyword}={raw!r})"
    if allow_scalar and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        items: Iterable[tuple[Any, Any]] = [("*", raw)]
    elif isinstance(raw, Mapping):
        items = raw.items()
    else:
        example = "latency_p95_ms" if gate == "performance" else "accuracy"
        scalar = f"a number for every metric ({keyword}=0.1) or " if allow_scalar else ""
        raise MarkerError(
            f"{where}: expected {scalar}a mapping of metric name to number, e.g. "
            f"{keyword}={{\"{example}\": 0.1}}"
        )
    out: dict[str, float] = {}
    for name, value in items:
        if not isinstance(name, str):
            raise MarkerError(f"{where}: metric names must be strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) or value < 0:
            raise MarkerError(
                f"{where}: {keyword} for {name!r} must be a finite number >= 0, got {value!r}"
            )
        out[name] = float(value)
    return out


def _finite(x: float) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float
        return False


def spec_from_marker(test: str, gate: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> GateSpec:
    """Validate one gate marker's arguments; ``test`` names the test in error messages."""
    if args:
        raise MarkerError(
            f"{test}: @pytest.mark.{gate} takes keyword arguments only, got positional {list(args)!r}"
        )
    reserved = RESERVED[gate]
    if gate in ("unit", "integration") and kwargs:
        raise MarkerError(
            f"{test}: @pytest.mark.{gate} takes no arguments, got {sorted(kwargs)}; thresholds belong "
            f"on @pytest.mark.validation or @pytest.mark.performance"
        )
    thresholds: list[Threshold] = []
    margins: dict[str, float] = {}
    tolerances: dict[str, float] = {}
    key: str | None = None
    for name, raw in kwargs.items():
        if name == "key":
            if not isinstance(raw, str) or not raw.strip():
                raise MarkerError(f"{test}: {gate}(key={raw!r}) must be a non-empty string")
            key = raw
        elif name == "margin" and "margin" in reserved:
            margins = _number_map(test, gate, name, raw, allow_scalar=True)
        elif name == "tolerance" and "tolerance" in reserved:
            tolerances = _number_map(test, gate, name, raw, allow_scalar=True)
        elif isinstance(raw, (str, int, float)):
            if name in ("margin", "tolerance"):
                other = "validation" if name == "margin" else "performance"
                raise MarkerError(f"{test}: {name}= belongs on @pytest.mark.{other}, not on {gate}")
            thresholds.append(parse_threshold(test, name, raw))
        else:
            import difflib  # only on this error path: importing it costs every run

            hint = difflib.get_close_matches(name, reserved, n=1)
            fix = f"did you mean {hint[0]!r}?" if hint else (
                f"{gate} accepts thresholds (metric=\"<op> <number>\")"
                + (f" and {', '.join(reserved)}" if reserved else "")
            )
            raise MarkerError(
                f"{test}: unknown keyword {name}={raw!r} on @pytest.mark.{gate}; {fix}"
            )
    return GateSpec(gate=gate, thresholds=tuple(thresholds), margins=margins, tolerances=tolerances, key=key)


def merge_specs(specs: Sequence[GateSpec]) -> GateSpec:
    """One gate's markers on a test and its collectors (function, class, module), nearest
    first, as one spec: every threshold, margin and tolerance applies, and where two name the
    same metric the nearest wins (docs/markers.md)."""
    if len(specs) == 1:
        return specs[0]
    thresholds: dict[str, Threshold] = {}
    margins: dict[str, float] = {}
    tolerances: dict[str, float] = {}
    for spec in specs:
        for t in spec.thresholds:
            thresholds.setdefault(t.metric, t)
        for name, value in spec.margins.items():
            margins.setdefault(name, value)
        for name, value in spec.tolerances.items():
            tolerances.setdefault(name, value)
    key = next((spec.key for spec in specs if spec.key is not None), None)
    return GateSpec(gate=specs[0].gate, thresholds=tuple(thresholds.values()), margins=margins,
                    tolerances=tolerances, key=key, source=specs[0].source)


class GatePath(NamedTuple):
    gate: str
    pattern: str


def parse_gate_paths(entries: Sequence[str]) -> tuple[GatePath, ...]:
    """``["unit:tests/unit", "integration:tests/integration"]`` -> GatePath tuples.

    Raises ValueError with the offending entry; the settings layer turns it into a UsageError.
    """
    out: list[GatePath] = []
    # One entry per line, or several on a line separated by spaces (DESIGN.md's one-line form).
    for entry in (word for line in entries for word in line.split()):
        gate, sep, pattern = entry.partition(":")
        gate, pattern = gate.strip(), pattern.strip().rstrip("/")
        if not sep or not pattern:
            raise ValueError(f"{entry!r} is not GATE:PATH (for example unit:tests/unit)")
        if gate not in GATES:
            raise ValueError(f"{entry!r} names unknown gate {gate!r}; gates are {', '.join(GATES)}")
        if ":" in pattern:
            raise ValueError(f"{entry!r}: the path {pattern!r} contains ':'; write one GATE:PATH per entry")
        out.append(GatePath(gate, pattern))
    return tuple(out)


def gate_for_path(relpath: PurePath, paths: Sequence[GatePath]) -> str | None:
    """The gate of the first entry whose directory contains ``relpath`` (or whose glob matches it)."""
    text = relpath.as_posix()
    for gp in paths:
        if text == gp.pattern or text.startswith(gp.pattern + "/") or fnmatch.fnmatch(text, gp.pattern):
            return gp.gate
    return None
