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


# -- profiles as this version writes them (schema 2, CDF knots) ---------------------------------


def _knots_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "t": rng.standard_t(2, size=n),
                         "c": rng.choice(["a", "b", "c"], size=n)})


def test_cli_reads_a_knots_profile_written_by_this_version(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    # More than 512 distinct values: stored as knots/below/at; the CLI refused these with
    # "quantiles and levels do not pair up" (exit 2 on identical data).
    ref = _knots_frame(600)
    prof = profile(ref)
    assert not prof.column("x").exact and prof.column("x").knots
    (tmp_path / "profile.json").write_text(json.dumps(prof.to_json(), allow_nan=False))
    ref.to_csv(tmp_path / "same.csv", index=False)
    ref.assign(x=ref["x"] + 1.0).to_csv(tmp_path / "shifted.csv", index=False)
    assert main(["drift", str(tmp_path / "profile.json"), str(tmp_path / "same.csv")]) == 0
    assert "no data drift in 3 column(s)" in capsys.readouterr().out
    assert main(["drift", str(tmp_path / "profile.json"), str(tmp_path / "shifted.csv")]) == 1


def test_cli_reads_the_profile_of_a_delivered_model_with_many_distinct_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    from pytest_mlgate.delivery.registry import LocalRegistry
    from pytest_mlgate.delivery.staging import stage_candidate

    train = _knots_frame(1200)[["x", "t"]]
    model = LogisticRegression().fit(train, (train["x"] > 0).astype(int))
    staged = stage_candidate(model, name="clf", data={"train": train},
                             staging_dir=tmp_path / "stage")
    reg = tmp_path / "registry"
    LocalRegistry(reg).publish(staged, {})
    same, shifted = tmp_path / "same.csv", tmp_path / "shifted.csv"
    train.to_csv(same, index=False)
    train.assign(x=train["x"] * 2.0).to_csv(shifted, index=False)
    assert main(["drift", "clf@latest", str(same), "--registry", str(reg)]) == 0
    assert main(["drift", "clf@latest", str(shifted), "--registry", str(reg)]) == 1


def _damaged(doc: dict, column: int, **fields: object) -> dict:  # type: ignore[type-arg]
    out = json.loads(json.dumps(doc))
    out["columns"][column].update(fields)
    return out


@pytest.mark.parametrize(("change", "match"), [
    (lambda c: {"knots": c["knots"][::-1]}, "knots is not sorted"),
    (lambda c: {"below": c["below"][:-1]}, "knots, below and at do not pair up"),
    (lambda c: {"at": [c["at"][0] + 5, *c["at"][1:]]}, "not the counts of a sorted column"),
    (lambda c: {"effect_bound": None}, "effect_bound"),
    (lambda c: {"levels": [0.0, 1.0], "quantiles": [0.0, 1.0]}, "a column has one form"),
    (lambda c: {"n_missing": 3}, "not the counts of a sorted column"),
])
def test_inconsistent_knots_profiles_are_refused_by_the_api_and_the_cli(  # type: ignore[no-untyped-def]
        tmp_path, capsys, change, match) -> None:
    from pytest_mlgate.errors import DataError
    from pytest_mlgate.profiles import Profile

    ref = _knots_frame(600)
    doc = profile(ref).to_json()
    bad = _damaged(doc, 0, **change(doc["columns"][0]))
    with pytest.raises(DataError, match=match):
        Profile.from_json(bad)
    (tmp_path / "profile.json").write_text(json.dumps(bad))
    ref.to_csv(tmp_path / "same.csv", index=False)
    assert main(["drift", str(tmp_path / "profile.json"), str(tmp_path / "same.csv")]) == 2
    err = capsys.readouterr().err
    assert "profile.json" in err and match.split()[0] in err
