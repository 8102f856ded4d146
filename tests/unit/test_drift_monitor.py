"""`mlgate drift`: exit 0 without drift, 1 with drift, 2 on errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from pytest_mlgate.cli import main
from pytest_mlgate.profiles import profile


@pytest.fixture
def setup(tmp_path):  # type: ignore[no-untyped-def]
    X = load_breast_cancer(as_frame=True).data
    idx = np.random.default_rng(0).permutation(len(X))
    train, new = X.iloc[idx[:300]], X.iloc[idx[300:]].reset_index(drop=True)
    art = tmp_path / "artefact"
    art.mkdir()
    (art / "profile.json").write_text(json.dumps(profile(train).to_json(), allow_nan=False))
    return tmp_path, art, new


def test_no_drift_exits_0(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp, art, new = setup
    new.to_csv(tmp / "new.csv", index=False)
    assert main(["drift", str(art), str(tmp / "new.csv")]) == 0
    assert "no data drift in 30 column(s)" in capsys.readouterr().out
    assert main(["drift", str(art / "profile.json"), str(tmp / "new.csv"), "--columns",
                 "mean radius", "mean area"]) == 0


def test_drift_exits_1_with_a_table(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp, art, new = setup
    new["worst area"] *= 1.5
    new.to_parquet(tmp / "new.parquet")
    out_json = tmp / "result.json"
    code = main(["drift", str(art), str(tmp / "new.parquet"), "--markdown",
                 "--json", str(out_json)])
    assert code == 1
    out = capsys.readouterr().out
    assert out.startswith("**drift**: 1 of 30 columns") and "| worst area |" in out
    assert json.loads(out_json.read_text())["columns"][23]["drifted"] is True


def test_errors_exit_2(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp, art, new = setup
    new.drop(columns="mean area").to_csv(tmp / "cut.csv", index=False)
    assert main(["drift", str(art), str(tmp / "cut.csv")]) == 2
    assert "missing from current: 'mean area'" in capsys.readouterr().err
    assert main(["drift", str(art), str(tmp / "nope.csv")]) == 2
    (tmp / "empty").mkdir()
    new.to_csv(tmp / "new.csv", index=False)
    assert main(["drift", str(tmp / "empty"), str(tmp / "new.csv")]) == 2
    assert "neither manifest.json nor profile.json" in capsys.readouterr().err
    pd.DataFrame({"a": [1]}).to_json(tmp / "x.json")
    assert main(["drift", str(art), str(tmp / "x.json")]) == 2


def test_published_artefact_by_reference_and_tampering(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    from pytest_mlgate.delivery.registry import LocalRegistry
    from pytest_mlgate.delivery.staging import stage_candidate

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    idx = np.random.default_rng(0).permutation(len(X))
    train, new = X.iloc[idx[:300]], X.iloc[idx[300:]].reset_index(drop=True)
    model = LogisticRegression(max_iter=5000).fit(train, y.iloc[idx[:300]])
    staged = stage_candidate(model, name="cancer", data={"train": train},
                             staging_dir=tmp_path / "stage")
    reg = tmp_path / "registry"
    published = LocalRegistry(reg).publish(staged, {})
    new.to_csv(tmp_path / "new.csv", index=False)
    args = ["drift", "cancer@latest", str(tmp_path / "new.csv"), "--registry", str(reg),
            "--columns", "mean radius", "mean texture"]
    assert main(args) == 0
    shifted = new.assign(**{"mean radius": new["mean radius"] * 1.4})
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    assert main([*args[:1], str(published.path), str(tmp_path / "shifted.csv"),
                 "--columns", "mean radius"]) == 1
    capsys.readouterr()
    prof = published.path / "profile.json"
    prof.chmod(0o644)
    prof.write_text(prof.read_text().replace('"n_rows": 300', '"n_rows": 301'))
    assert main(args) == 2
    assert "profile.json" in capsys.readouterr().err
