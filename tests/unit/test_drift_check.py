"""check_drift(): verdicts on real data, agreement with scipy, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from pytest_mlgate.errors import DriftError
from pytest_mlgate.profiles import profile
from pytest_mlgate.stats.drift import check_drift


def halves(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    idx = np.random.default_rng(seed).permutation(len(frame))
    h = len(frame) // 2
    return frame.iloc[idx[:h]].reset_index(drop=True), frame.iloc[idx[h:]].reset_index(drop=True)


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).data


def test_random_halves_of_one_data_set_do_not_drift(cancer: pd.DataFrame) -> None:
    ref, cur = halves(cancer)
    result = check_drift(ref, cur)
    assert not result.drifted, result.message()
    assert len(result.columns) == 30 and result.share == 0.0
    assert "no data drift in 30 column(s)" in result.message()


def test_a_shifted_column_drifts_and_only_it(cancer: pd.DataFrame) -> None:
    ref, cur = halves(cancer)
    cur["mean radius"] += 0.5 * ref["mean radius"].std()
    result = check_drift(ref, cur)
    assert result.drifted and result.drifted_columns == ["mean radius"]
    col = next(c for c in result.columns if c.name == "mean radius")
    assert col.significant and col.effect == pytest.approx(0.5, abs=0.12)
    share, worst = result.measurements()
    assert (share.name, share.value) == ("drift_share", pytest.approx(1 / 30))
    assert worst.name == "drift_worst_effect" and worst.info["column"] == "mean radius"
    msg = result.message()
    assert "data drift in 1 of 30 column(s): mean radius" in msg and "DRIFT" in msg
    assert result.table(markdown=True).startswith("| column |")


def test_large_samples_do_not_turn_a_negligible_shift_into_drift() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=300_000)})
    cur = pd.DataFrame({"x": rng.normal(0.03, 1.0, size=300_000)})
    col = check_drift(ref, cur).columns[0]
    assert col.significant  # a p-value alone would raise the alarm...
    assert col.effect < 0.05 and not col.drifted  # ...the effect size is negligible


def test_a_small_sample_does_not_hide_a_big_shift(cancer: pd.DataFrame) -> None:
    ref = cancer
    cur = cancer.sample(40, random_state=0).reset_index(drop=True)
    cur["worst area"] *= 1.8
    result = check_drift(ref, cur, columns=["worst area", "mean texture"])
    assert result.drifted_columns == ["worst area"]


def test_statistics_match_scipy() -> None:
    X = load_diabetes(as_frame=True, scaled=False).data
    ref, cur = halves(X, seed=3)
    result = check_drift(ref, cur)
    for c in result.columns:
        a, b = ref[c.name].to_numpy(), cur[c.name].to_numpy()
        assert c.statistic == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
        w = stats.wasserstein_distance(a, b) / a.std()
        assert c.effect == pytest.approx(w, rel=1e-9)


def wine_with_class() -> pd.DataFrame:
    d = load_wine(as_frame=True)
    f = d.data.copy()
    f["cultivar"] = pd.Categorical.from_codes(d.target, ["a", "b", "c"])
    return f


def test_categorical_drift_new_and_vanished_categories() -> None:
    f = wine_with_class()
    ref, cur = halves(f, seed=2)
    assert not check_drift(ref, cur, columns=["cultivar"]).drifted
    only_a = f[f["cultivar"] == "a"].copy()
    only_a["cultivar"] = only_a["cultivar"].astype(str)
    only_a.iloc[:5, only_a.columns.get_loc("cultivar")] = "d"
    col = check_drift(ref, only_a, columns=["cultivar"]).columns[0]
    assert col.kind == "categorical" and col.test == "chi2" and col.drifted
    assert col.new_categories == ("d",) and set(col.missing_categories) == {"b", "c"}
    assert 0.1 < col.effect <= 1.0


def test_missing_rates_are_reported(cancer: pd.DataFrame) -> None:
    ref, cur = halves(cancer)
    cur.loc[: len(cur) // 4, "mean area"] = np.nan
    col = next(c for c in check_drift(ref, cur).columns if c.name == "mean area")
    assert col.missing_reference == 0.0 and col.missing_current == pytest.approx(0.25, abs=0.01)
    assert "0.0% -> 25." in check_drift(ref, cur, columns=["mean area"]).table()


def test_profile_reference_gives_the_same_verdicts(cancer: pd.DataFrame) -> None:
    ref, cur = halves(cancer)
    prof = profile(ref)
    assert not check_drift(prof, cur).drifted
    shifted = cur.assign(**{"mean radius": cur["mean radius"] + 0.5 * ref["mean radius"].std()})
    by_frame = check_drift(ref, shifted)
    by_profile = check_drift(prof, shifted)
    assert by_profile.reference_kind == "profile"
    assert by_profile.drifted_columns == by_frame.drifted_columns == ["mean radius"]
    for a, b in zip(by_frame.columns, by_profile.columns, strict=True):
        assert b.statistic == pytest.approx(a.statistic, abs=0.02)
        assert b.effect == pytest.approx(a.effect, abs=0.02)


def test_exact_profile_matches_the_frame_exactly() -> None:
    X = load_diabetes(as_frame=True, scaled=False).data
    ref, cur = halves(X, seed=5)
    a = check_drift(ref, cur, columns=["sex"]).columns[0]
    b = check_drift(profile(ref), cur, columns=["sex"]).columns[0]
    assert b.statistic == pytest.approx(a.statistic, abs=1e-12)
    assert b.effect == pytest.approx(a.effect, rel=1e-9)


def test_bad_input_gives_clear_errors(cancer: pd.DataFrame) -> None:
    ref, cur = halves(cancer)
    with pytest.raises(DriftError, match="missing from current: 'mean area'"):
        check_drift(ref, cur.drop(columns="mean area"))
    with pytest.raises(DriftError, match="not in the current frame"):
        check_drift(ref, cur.drop(columns="mean area"), columns=["mean area"])
    with pytest.raises(DriftError, match="current frame is empty"):
        check_drift(ref, cur.iloc[:0])
    with pytest.raises(DriftError, match="reference frame is empty"):
        check_drift(ref.iloc[:0], cur)
    with pytest.raises(DriftError, match="entirely missing in the current"):
        check_drift(ref, cur.assign(**{"mean area": np.nan}))
    with pytest.raises(DriftError, match="entirely missing in the reference"):
        check_drift(ref.assign(**{"mean area": np.nan}), cur)
    mixed = cur.assign(**{"mean area": pd.Series(["x", *cur["mean area"].iloc[1:]], dtype=object)})
    with pytest.raises(DriftError, match="'mean area' mixes value types"):
        check_drift(ref, mixed)
    text = cur.assign(**{"mean area": cur["mean area"].astype(str)})
    with pytest.raises(DriftError, match="numeric in the reference but categorical"):
        check_drift(ref, text)
    with pytest.raises(DriftError, match="alpha"):
        check_drift(ref, cur, alpha=1.5)
    with pytest.raises(DriftError, match="DataFrame or a Profile"):
        check_drift(ref.to_numpy(), cur)  # type: ignore[arg-type]


@pytest.mark.parametrize("equal_sizes", [True, False])
def test_ks_and_wasserstein_are_exact_with_ties_and_signed_zeros(equal_sizes: bool) -> None:
    from pytest_mlgate.stats.drift import _two_sample

    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(2, 200))
        m = n if equal_sizes else int(rng.integers(2, 200))
        if trial % 2:
            a, b = np.round(rng.normal(size=n)), np.round(rng.normal(0.2, size=m))  # -0.0 too
        else:
            a, b = rng.normal(size=n), rng.normal(0.3, size=m)
        d, w = _two_sample(a, b)
        assert d == pytest.approx(stats.ks_2samp(a, b, method="asymp").statistic, abs=1e-12)
        assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-12)
