"""frames_like(): generated frames follow the example's schema and shrink like any strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.database import InMemoryExampleDatabase
from sklearn.datasets import load_wine

from pytest_mlgate.errors import DataError
from pytest_mlgate.strategies import frames_like, infer_schema


def example() -> pd.DataFrame:
    d = load_wine(as_frame=True)
    f = d.data.iloc[:, :3].copy()
    f["cultivar"] = pd.Categorical.from_codes(d.target, ["a", "b", "c"])
    f["region"] = np.where(d.target == 0, "north", "south")
    f["region"] = f["region"].astype(object)
    f.loc[::7, "region"] = None
    f["count"] = np.arange(len(f), dtype=np.int32) % 9 + 1
    f["ok"] = d.target > 0
    f["seen"] = pd.to_datetime("2024-01-01") + pd.to_timedelta(np.arange(len(f)), unit="D")
    return f


EXAMPLE = example()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames_like(EXAMPLE, min_rows=0, max_rows=20))
def test_generated_frames_follow_the_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(EXAMPLE.columns)
    assert list(frame.dtypes) == list(EXAMPLE.dtypes)
    assert 0 <= len(frame) <= 20
    alcohol = frame["alcohol"]
    assert alcohol.notna().all()  # the example has no missing alcohol values
    assert alcohol.between(EXAMPLE["alcohol"].min(), EXAMPLE["alcohol"].max()).all()
    assert frame["count"].between(1, 9).all()
    assert set(frame["region"].dropna()) <= {"north", "south"}
    assert list(frame["cultivar"].cat.categories) == ["a", "b", "c"]
    assert frame["seen"].between(EXAMPLE["seen"].min(), EXAMPLE["seen"].max()).all()


def test_missing_values_are_generated_where_the_example_has_them() -> None:
    found = find(frames_like(EXAMPLE), lambda f: bool(f["region"].isna().any()))
    assert found["region"].isna().any()


def test_shrinking_finds_a_minimal_frame() -> None:
    # a "pipeline bug" that needs two rows with alcohol above 13: shrinking removes the rows that
    # do not matter (hypothesis does not promise the global minimum, so allow one extra row)
    found = find(frames_like(EXAMPLE, max_rows=30),
                 lambda f: int((f["alcohol"] > 13).sum()) >= 2,
                 settings=settings(max_examples=500, database=None, derandomize=True,
                                   phases=[Phase.generate, Phase.shrink]))
    assert int((found["alcohol"] > 13).sum()) == 2
    assert len(found) <= 4


def test_failures_are_saved_in_the_example_database() -> None:
    db = InMemoryExampleDatabase()

    @settings(database=db, max_examples=100, deadline=None,
              phases=[Phase.generate, Phase.shrink])
    @given(frames_like(EXAMPLE))
    def fails_on_south(frame: pd.DataFrame) -> None:
        assert not (frame["region"] == "south").any()

    with pytest.raises(AssertionError):
        fails_on_south()
    saved = [v for key in db.data for v in db.data[key]]
    assert saved, "hypothesis stored no failing example"


def test_unusable_example_frames() -> None:
    with pytest.raises(DataError, match="no non-missing values"):
        infer_schema(pd.DataFrame({"x": [np.nan, np.nan]}))
    with pytest.raises(DataError, match="cannot generate"):
        infer_schema(pd.DataFrame({"x": pd.Series([1, "a"], dtype=object)}))
    with pytest.raises(DataError, match="min_rows"):
        frames_like(EXAMPLE, min_rows=5, max_rows=2)
