"""Drift against a stored profile: the effect size's error is bounded, heavy tails included."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pytest_mlgate.errors import DataError
from pytest_mlgate.profiles import EFFECT_ERROR_TARGET, Profile, profile
from pytest_mlgate.stats.drift import check_drift

GENERATORS = {
    "normal": lambda rng, k: rng.normal(size=k),
    "t2": lambda rng, k: rng.standard_t(2, size=k),
    "pareto": lambda rng, k: rng.pareto(1.5, size=k),
    "lognormal": lambda rng, k: rng.lognormal(0.0, 1.5, size=k),
    # Many repeated small values and a long tail: more distinct values than exact counts keep.
    "discrete_heavy": lambda rng, k: np.floor(rng.pareto(1.2, size=k) * 3),
}


@pytest.mark.parametrize("dist", list(GENERATORS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_effect_from_a_profile_is_within_its_bound_of_the_effect_from_the_frame(
        dist: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    gen = GENERATORS[dist]
    ref = pd.DataFrame({"x": gen(rng, 100_000)})
    prof = profile(ref)
    col = prof.column("x")
    assert not col.exact and col.effect_bound is not None
    assert col.effect_bound <= EFFECT_ERROR_TARGET
    sd = float(ref["x"].std(ddof=0))
    for shift in (0.0, 0.05, 0.1, 0.3):
        for size in (500, 30_000):
            cur = pd.DataFrame({"x": gen(rng, size) + shift * sd})
            by_frame = check_drift(ref, cur).columns[0]
            by_profile = check_drift(prof, cur).columns[0]
            assert abs(by_profile.effect - by_frame.effect) <= col.effect_bound + 1e-12
            assert abs(by_profile.statistic - by_frame.statistic) <= 1e-3 + 1e-12


def test_the_old_tail_bias_is_gone_for_t2() -> None:
    # Uniform quantile levels spread t(2)'s last 0.1% over its whole range: 0.11 SD of bias.
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.standard_t(2, size=1_000_000)})
    cur = pd.DataFrame({"x": rng.standard_t(2, size=200_000)})
    by_frame = check_drift(ref, cur).columns[0].effect
    by_profile = check_drift(profile(ref), cur).columns[0].effect
    assert abs(by_profile - by_frame) < 0.01


def test_profiles_stay_small() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({name: gen(rng, 200_000) for name, gen in GENERATORS.items()})
    text = json.dumps(profile(frame).to_json(), allow_nan=False)
    assert len(text) < 60_000 * len(GENERATORS)


def test_schema_1_profiles_are_still_read() -> None:
    rng = np.random.default_rng(5)
    v = np.sort(rng.normal(size=5000))
    levels = np.linspace(0, 1, 1001)
    old = {"schema": 1, "kind": "mlgate-profile", "n_rows": 5000, "fingerprint": None, "info": {},
           "columns": [{"name": "x", "kind": "numeric", "dtype": "float64", "n": 5000,
                        "n_missing": 0, "mean": float(v.mean()), "std": float(v.std()),
                        "hist_edges": [], "hist_counts": [], "levels": levels.tolist(),
                        "quantiles": np.quantile(v, levels, method="inverted_cdf").tolist()}]}
    prof = Profile.from_json(old)
    assert not check_drift(prof, pd.DataFrame({"x": rng.normal(size=3000)})).drifted
    assert check_drift(prof, pd.DataFrame({"x": rng.normal(1.0, size=3000)})).drifted
    with pytest.raises(DataError, match="newer than this pytest-mlgate"):
        Profile.from_json({**old, "schema": 99})


values = arrays(np.float64, st.integers(1, 3000),
                elements=st.one_of(st.floats(-1e6, 1e6, allow_nan=False),
                                   st.sampled_from([0.0, 1.0, 1e9, -3.5])))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(values)
def test_a_profile_compared_with_its_own_source_reads_no_drift(v: np.ndarray) -> None:
    frame = pd.DataFrame({"x": v})
    result = check_drift(profile(frame), frame)
    col = result.columns[0]
    assert not result.drifted, result.message()
    assert col.statistic <= 1e-3 + 1e-12
    bound = profile(frame).column("x").effect_bound or 0.0
    assert col.effect <= bound + 1e-9
