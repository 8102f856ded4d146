"""The types skops asks a consumer to trust: recorded at staging, in the manifest, in the model
card's loading snippet (which works as written) and in ``mlgate show``; never applied for them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import pytest_mlgate
from pytest_mlgate.cli import main
from pytest_mlgate.delivery import LocalRegistry, stage_candidate
from pytest_mlgate.errors import ArtifactError

X, y = load_iris(return_X_y=True, as_frame=True)
FRAME = X.assign(kind=np.where(X["sepal length (cm)"] > 5.8, "long", "short"))
RUN = {"run": {"complete": True}, "gates": {}, "tests": []}


def _column_pipeline() -> Any:
    columns = ColumnTransformer([("num", StandardScaler(), list(X.columns)),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["kind"])])
    return make_pipeline(columns, HistGradientBoostingClassifier(max_iter=5)).fit(FRAME, y)


def _xgboost() -> Any:
    xgb = pytest.importorskip("xgboost")
    return xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)


def _lightgbm() -> Any:
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)


MODELS: dict[str, Callable[[], Any]] = {
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=5).fit(X, y),
    "random_forest": lambda: RandomForestClassifier(5, random_state=0).fit(X, y),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=5).fit(X, y),
    "column_transformer_one_hot_hgb": _column_pipeline,
    "scaled_logistic_regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y),
    "k_neighbors": lambda: KNeighborsClassifier().fit(X, y),
    "calibrated": lambda: CalibratedClassifierCV(LogisticRegression(max_iter=500), cv=3).fit(X, y),
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
}


def _inputs(name: str) -> pd.DataFrame:
    return FRAME if name.startswith("column_transformer") else X


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory whose registry is the default ``.mlgate/registry``, as cwd."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snippet(readme: str) -> str:
    section = readme[readme.index("## Loading"):]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    return code


@pytest.mark.parametrize("name", list(MODELS))
def test_the_types_to_trust_are_recorded_shown_and_the_card_snippet_loads(
        name: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = MODELS[name]()
    inputs = _inputs(name)
    staged = stage_candidate(model, name=name, example=inputs.head(3), staging_dir=project / "s")
    published = LocalRegistry(".mlgate/registry").publish(staged, RUN)
    # What skops itself says of the published file, computed here independently.
    expected = sorted(sio.get_untrusted_types(file=published.path / "model.skops"))
    assert list(staged.untrusted_types) == expected
    assert published.manifest["model"]["untrusted_types"] == expected

    if expected:  # never trusted for the consumer: load() without trusted= refuses
        with pytest.raises(ArtifactError) as refused:
            pytest_mlgate.load(f"{name}@latest")
        assert all(t in str(refused.value) for t in expected)

    readme = (published.path / "README.md").read_text()
    code = _snippet(readme)
    assert ("trusted=[" in code) == bool(expected)
    namespace: dict[str, Any] = {}
    exec(compile(code, f"{name}/README.md", "exec"), namespace)  # as a consumer would paste it
    np.testing.assert_array_equal(namespace["model"].predict(inputs), model.predict(inputs))

    assert main(["show", f"{name}@1"]) == 0
    shown = capsys.readouterr().out
    if expected:
        assert f"trusted={expected!r}" in shown
    else:
        assert "none needed" in shown


def test_publishing_loads_the_staged_model_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staged = stage_candidate(RandomForestClassifier(3, random_state=0).fit(X, y), name="rf",
                             example=X.head(2), staging_dir=project / "s")
    real_load = sio.load
    loads: list[Any] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs.get("trusted"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(sio, "load", counted)
    LocalRegistry(".mlgate/registry").publish(staged, RUN)
    assert loads == [["sklearn.tree._tree.Tree"]]


def test_a_joblib_artefact_card_asks_for_the_joblib_opt_in(project: Path) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    staged = stage_candidate(model, name="jl", example=X.head(2), staging_dir=project / "s",
                             allow_pickle=True, serializer="joblib")
    published = LocalRegistry(".mlgate/registry").publish(staged, RUN)
    code = _snippet((published.path / "README.md").read_text())
    assert "trusted=[\n        'joblib',\n    ]" in code
    namespace: dict[str, Any] = {}
    exec(compile(code, "jl/README.md", "exec"), namespace)
    np.testing.assert_array_equal(namespace["model"].predict(X), model.predict(X))
