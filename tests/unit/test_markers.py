"""Marker arguments -> gate specs: the one rule for threshold strings, typos, huge numbers,
and markers of one gate on a test and its class merged."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pytest_mlgate.errors import MarkerError, MetricValueError
from pytest_mlgate.markers import (
    GateSpec,
    Threshold,
    merge_specs,
    parse_threshold,
    spec_from_marker,
)
from pytest_mlgate.measurement import check_metric_value

# -- the one rule: [blanks] [op] [blanks] number [blanks]; blanks are spaces and tabs --------------

GOOD_BLANKS = ["", " ", "  ", "\t", " \t "]
BAD_BLANKS = ["\n", "\r", "\xa0", "\u2003", "\u3000", "\x0b"]
GOOD_OPS = [">=", ">", "<=", "<", ""]
BAD_OPS = ["=>", "=<", "=", "==", "!=", "~", ">>", "≥", "≤", "> =", "!"]
BAD_NUMBERS = ["", "abc", "1_000", "0x10", "inf", "-inf", "nan", "1,5", "0.9%", "٣", "１", "1e", ".",
               "1..2", "- 1", "1 .5", "0.9 0", "e3", "+-1", "1e+", "0.9.", "½", "²"]


@st.composite
def decimal_numbers(draw: st.DrawFn) -> str:
    """A decimal literal of the grammar, built from its parts."""
    sign = draw(st.sampled_from(["", "+", "-"]))
    whole = draw(st.text("0123456789", max_size=4))
    frac = draw(st.text("0123456789", max_size=4))
    if whole and draw(st.booleans()):
        body = whole + ("." + frac if draw(st.booleans()) else "")
    else:
        body = (whole or "") + "." + (frac or "5")
    if draw(st.booleans()):
        body += draw(st.sampled_from("eE")) + draw(st.sampled_from(["", "+", "-"])) + \
            draw(st.text("0123456789", min_size=1, max_size=3))
    return sign + body


@given(
    lead=st.sampled_from(GOOD_BLANKS + BAD_BLANKS),
    op=st.sampled_from(GOOD_OPS + BAD_OPS),
    mid=st.sampled_from(GOOD_BLANKS + BAD_BLANKS),
    number=st.one_of(decimal_numbers(), st.sampled_from(BAD_NUMBERS)),
    trail=st.sampled_from(GOOD_BLANKS + BAD_BLANKS),
)
@example(lead="", op=">=", mid="", number="0.9", trail=" ")  # issue 18: '>=0.9 ' is the rule
@example(lead="", op=">=", mid=" ", number="0.9", trail="\xa0")
def test_a_threshold_string_is_accepted_exactly_when_it_follows_the_rule(
        lead: str, op: str, mid: str, number: str, trail: str) -> None:
    raw = lead + op + mid + number + trail
    wellformed = (all(b in GOOD_BLANKS for b in (lead, mid, trail)) and op in GOOD_OPS
                  and number not in BAD_NUMBERS)
    # Built by the grammar above, every well-formed number is a valid float literal.
    value = float(number) if wellformed else math.nan
    if wellformed and math.isfinite(value):
        t = parse_threshold("test_x", "accuracy", raw)
        # A bare number on accuracy (higher is better) means "at least".
        assert t == Threshold("accuracy", op or ">=", value)
    else:
        with pytest.raises(MarkerError, match=r"^test_x: threshold accuracy="):
            parse_threshold("test_x", "accuracy", raw)


def test_near_misses_name_the_part_at_fault() -> None:
    with pytest.raises(MarkerError, match=r"'\\xa0' \(U\+00A0\)"):
        parse_threshold("t", "accuracy", ">= 0.9\xa0")
    with pytest.raises(MarkerError, match=r"unknown operator '=>'"):
        parse_threshold("t", "accuracy", "=> 0.9")
    with pytest.raises(MarkerError, match=r"'1_000' is not a number"):
        parse_threshold("t", "latency_p95_ms", "<= 1_000")
    with pytest.raises(MarkerError, match="finite"):
        parse_threshold("t", "accuracy", ">= 1e400")


# -- typos and huge numbers ---------------------------------------------------------------------

def test_a_misspelt_metric_with_a_bare_number_suggests_the_known_metric() -> None:
    with pytest.raises(MarkerError) as exc:
        spec_from_marker("test_q", "validation", (), {"acuracy": 0.9})
    msg = str(exc.value)
    assert "did you mean 'accuracy'" in msg
    assert "a bare number needs a metric whose direction is known" in msg


def test_a_metric_of_ones_own_without_a_close_name_gets_no_suggestion() -> None:
    with pytest.raises(MarkerError) as exc:
        spec_from_marker("test_q", "validation", (), {"business_kpi": 0.9})
    assert "did you mean" not in str(exc.value)
    assert "business_kpi=\">= 0.9\"" in str(exc.value)


@pytest.mark.parametrize("kwargs", [
    {"accuracy": 10**400},
    {"accuracy": -(10**400)},
    {"accuracy": ">= 0.9", "margin": 10**400},
    {"accuracy": ">= 0.9", "margin": {"accuracy": 10**400}},
], ids=["threshold", "negative threshold", "margin", "margin per metric"])
def test_a_threshold_or_margin_too_large_for_a_float_is_a_marker_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(MarkerError, match="finite"):
        spec_from_marker("test_q", "validation", (), kwargs)


def test_a_tolerance_too_large_for_a_float_is_a_marker_error() -> None:
    with pytest.raises(MarkerError, match="finite"):
        spec_from_marker("test_p", "performance", (), {"latency_p95_ms": 20, "tolerance": 10**400})


@pytest.mark.parametrize("value", [10**400, -(10**400), Fraction(10**400, 3)],
                         ids=["10**400", "-10**400", "Fraction(10**400, 3)"])
def test_a_recorded_value_too_large_for_a_float_is_a_metric_value_error(value: object) -> None:
    with pytest.raises(MetricValueError, match="too large for a float"):
        check_metric_value("score", value)


def test_the_largest_int_a_float_holds_is_recorded() -> None:
    assert check_metric_value("score", 2**1023) == float(2**1023)


# -- markers of one gate on a test and its class ------------------------------------------------

def _spec(**kwargs: object) -> GateSpec:
    return spec_from_marker("t", "validation", (), kwargs)


def test_markers_merge_with_the_nearest_winning_per_metric() -> None:
    function = _spec(accuracy=">= 0.95", margin={"accuracy": 0.01})
    klass = _spec(accuracy=">= 0.9", roc_auc=">= 0.8", margin=0.02, key="clf")
    module = _spec(log_loss="<= 0.5", roc_auc=">= 0.7")
    merged = merge_specs([function, klass, module])
    assert {t.metric: t.text for t in merged.thresholds} == {
        "accuracy": ">= 0.95", "roc_auc": ">= 0.8", "log_loss": "<= 0.5"}
    assert merged.margin_for("accuracy", 0.0) == 0.01
    assert merged.margin_for("roc_auc", 0.0) == 0.02
    assert merged.key == "clf"


@given(st.lists(st.dictionaries(st.sampled_from(["accuracy", "roc_auc", "f1", "r2"]),
                                st.floats(0, 1), max_size=4), min_size=1, max_size=4))
def test_merging_keeps_every_metric_and_the_nearest_value(levels: list[dict[str, float]]) -> None:
    merged = merge_specs([_spec(**level) for level in levels])
    expected: dict[str, float] = {}
    for level in levels:  # nearest first
        for metric, value in level.items():
            expected.setdefault(metric, value)
    assert {t.metric: t.value for t in merged.thresholds} == expected
    assert all(t.op == ">=" for t in merged.thresholds)


def test_a_bad_tolerance_names_both_accepted_forms_with_a_performance_example() -> None:
    with pytest.raises(MarkerError) as err:
        spec_from_marker("test_p", "performance", (), {"latency_p95_ms": "<= 5", "tolerance": "x"})
    assert str(err.value) == (
        "test_p: performance(tolerance='x'): expected a number for every metric (tolerance=0.1) or a "
        'mapping of metric name to number, e.g. tolerance={"latency_p95_ms": 0.1}')
