"""Unit gate (by path): the feature code."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from quickstart import add_features
from sklearn.datasets import load_breast_cancer

from pytest_mlgate.strategies import frames_like

RAW = load_breast_cancer(as_frame=True).frame.drop(columns="target")


def test_features_are_added_without_touching_inputs():
    out = add_features(RAW)
    assert list(out.columns[: RAW.shape[1]]) == list(RAW.columns)
    pd.testing.assert_frame_equal(out[RAW.columns], RAW)
    assert np.isfinite(out[["area_ratio", "log_mean_area"]].to_numpy()).all()


@settings(max_examples=30, deadline=None)
@given(frames_like(RAW[["mean area", "worst area"]], max_rows=20))
def test_area_ratio_is_positive_on_any_valid_frame(frame):
    out = add_features(frame.assign(**{c: RAW[c].iloc[0] for c in RAW.columns if c not in frame}))
    ok = frame["mean area"] > 0
    assert (out.loc[ok, "area_ratio"] > 0).all()
