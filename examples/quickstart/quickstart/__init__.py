"""The quickstart model: a scikit-learn pipeline that flags malignant tumours.

Data: the Wisconsin breast cancer data set that ships with scikit-learn (569 rows, 30 features).
"""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0


def load_data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Train/test split of the breast cancer data as frames: X_train, X_test, y_train, y_test."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = add_features(X)
    return train_test_split(X, y, test_size=0.4, random_state=SEED, stratify=y)


def add_features(X: pd.DataFrame) -> pd.DataFrame:
    """Feature engineering under test: a compactness ratio and a log-area column."""
    out = X.copy()
    out["area_ratio"] = X["worst area"] / X["mean area"]
    out["log_mean_area"] = X["mean area"].clip(lower=1e-9).transform("log")
    return out


def build_model() -> Pipeline:
    return Pipeline([
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(C=0.5, max_iter=2000)),
    ])


def train(X: pd.DataFrame, y: pd.Series) -> Pipeline:
    return build_model().fit(X, y)


def baseline_model(X: pd.DataFrame, y: pd.Series) -> Pipeline:
    """The champion currently in production: fewer features, stronger regularisation."""
    cols = [c for c in X.columns if c.startswith("mean ")]
    from sklearn.compose import ColumnTransformer

    model = Pipeline([
        ("select", ColumnTransformer([("keep", "passthrough", cols)])),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(C=0.05, max_iter=2000)),
    ])
    return model.fit(X, y)
