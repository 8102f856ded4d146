"""Messages a new user met in the issue-18 trial: each says what to do in the words of the place
where it is read (Python, the command line, the ini file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

import pytest_mlgate
from pytest_mlgate.cli import main
from pytest_mlgate.delivery import LocalRegistry, stage_candidate
from pytest_mlgate.delivery.registry import locate_ref, parse_ref
from pytest_mlgate.errors import ArtifactError, ConfigError, MlgateError, RegistryError
from pytest_mlgate.profiles import profile
from pytest_mlgate.settings import resolve

TREE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def _settings(tmp_path: Path, **ini: str) -> Any:
    return resolve(lambda dest: None, lambda key: ini.get(key), tmp_path)


def test_a_partial_trusted_list_is_told_the_whole_list(tmp_path: Path) -> None:
    X = np.array([[0.0], [1.0], [0.1], [0.9]] * 5)
    model = HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=2).fit(X, [0, 1, 0, 1] * 5)
    reg = LocalRegistry(tmp_path / "reg")
    reg.publish(stage_candidate(model, name="hgb", example=X[:2], staging_dir=tmp_path / "s"), {})
    with pytest.raises(ArtifactError) as err:
        pytest_mlgate.load("hgb", trusted=["mypkg.Clipper"], registry=tmp_path / "reg")
    # Following the advice literally must not drop the type already passed.
    assert f"(besides the 1 given): {TREE}. If you trust them, pass trusted=['mypkg.Clipper', '{TREE}']" \
        in str(err.value)


def test_drift_on_the_command_line_names_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0)})
    (tmp_path / "profile.json").write_text(json.dumps(profile(frame).to_json(), allow_nan=False))
    frame.drop(columns="b").to_csv(tmp_path / "cut.csv", index=False)
    assert main(["drift", str(tmp_path / "profile.json"), str(tmp_path / "cut.csv")]) == 2
    err = capsys.readouterr().err
    assert "choose the columns with --columns COLUMN [COLUMN ...]" in err and "columns=[" not in err
    frame.to_csv(tmp_path / "new.csv", index=False)
    assert main(["drift", str(tmp_path / "profile.json"), str(tmp_path / "new.csv"), "--alpha", "2"]) == 2
    err = capsys.readouterr().err
    assert "--alpha must be in (0, 1), got 2.0" in err and "check_drift" not in err


def test_baseline_help_line_is_a_whole_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "baseline  show a baseline file, or compare two baseline files" in capsys.readouterr().out


@pytest.mark.parametrize(("key", "flag"), [("mlgate_deliver", "--mlgate-deliver"),
                                          ("mlgate_update_baseline", "--mlgate-update-baseline")])
def test_an_ini_key_that_needs_gate_mode_is_named_as_written(tmp_path: Path, key: str, flag: str) -> None:
    with pytest.raises(ConfigError, match=rf"^ini {key} = true needs gate mode: add --mlgate"):
        _settings(tmp_path, **{key: "true"})
    with pytest.raises(ConfigError, match=rf"^{flag} needs gate mode"):
        resolve(lambda dest: True if dest == key else None, lambda k: None, tmp_path)


def test_a_key_pasted_into_the_ini_is_explained(tmp_path: Path) -> None:
    pasted = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----"
    with pytest.raises(ConfigError) as err:
        _settings(tmp_path, mlgate_signing_key=pasted)
    message = str(err.value)
    assert message.startswith("ini mlgate_signing_key holds a key itself; it must name where the key is")
    assert "env:VARIABLE" in message and "mlgate keygen PATH" in message
    assert "MC4CAQ" not in message, "the secret is never echoed"


def test_an_empty_alias_is_refused() -> None:
    with pytest.raises(RegistryError, match=r"bad reference 'cancer@': nothing follows '@'; write 'cancer' or "
                                            r"'cancer@latest'"):
        parse_ref("cancer@")


def test_a_bare_name_that_is_a_file_is_called_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("profile.json").write_text("{}")
    with pytest.raises(RegistryError, match=r"to use the file 'profile.json' here, write ./profile.json"):
        locate_ref("profile.json", tmp_path / "reg")


def test_promote_of_an_unknown_model_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "reg").mkdir()
    assert main(["promote", "nope", "1", "--alias", "x", "--registry", str(tmp_path / "reg")]) == 2
    assert "no model named 'nope'" in capsys.readouterr().err


def test_benchmark_of_a_value_names_it(tmp_path: Path) -> None:
    from pytest_mlgate.perf.benchmark import _check_fn

    with pytest.raises(MlgateError, match=r"got int 5, which is not callable; write benchmark\(model.predict, X\)"):
        _check_fn(5)
