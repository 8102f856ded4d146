"""Holm's (1979) step-down correction for testing several hypotheses at once (slices, columns)."""

from __future__ import annotations

from collections.abc import Sequence


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def holm_levels(p_values: Sequence[float], alpha: float) -> list[float]:
    """Each hypothesis's own level in Holm's procedure at family level ``alpha``.

    ``p_i < level_i`` exactly when Holm rejects hypothesis i (its adjusted p-value is below
    ``alpha``): a rejected hypothesis of rank r (0 = smallest p) gets ``alpha / (m - r)``, every
    other one the level at which the procedure stopped, ``alpha / (m - rejected)``.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    levels = [0.0] * m
    rejected = 0
    for rank, i in enumerate(order):
        if p_values[i] < alpha / (m - rank):
            rejected += 1
        else:
            break
    for rank, i in enumerate(order):
        levels[i] = alpha / (m - rank) if rank < rejected else alpha / (m - rejected)
    return levels
