"""Holm's step-down correction against a hand-worked example."""

from pytest_mlgate.stats.holm import holm


def test_holm_matches_the_worked_example() -> None:
    # p sorted: 0.01, 0.02, 0.04, 0.30 -> x4, x3, x2, x1 = 0.04, 0.06, 0.08, 0.30 (monotone)
    assert holm([0.04, 0.01, 0.30, 0.02]) == [0.08, 0.04, 0.30, 0.06]


def test_holm_caps_at_one_and_keeps_order() -> None:
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([]) == []
