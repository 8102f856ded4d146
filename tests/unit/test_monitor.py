"""`mlgate monitor` against a real published artefact: healthy, drifted, bad input, the
notification summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.cli import main


@pytest.fixture
def published(tmp_path: Path) -> dict[str, Any]:
    from pytest_mlgate.delivery.registry import LocalRegistry
    from pytest_mlgate.delivery.staging import stage_candidate

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    idx = np.random.default_rng(0).permutation(len(X))
    train, new = X.iloc[idx[:300]], X.iloc[idx[300:]].reset_index(drop=True)
    model = LogisticRegression(max_iter=5000).fit(train, y.iloc[idx[:300]])
    staged = stage_candidate(model, name="cancer", data={"train": train},
                             staging_dir=tmp_path / "stage")
    reg = tmp_path / "registry"
    art = LocalRegistry(reg).publish(staged, {})
    return {"tmp": tmp_path, "registry": str(reg), "new": new, "artifact": art}


def _monitor(p: dict[str, Any], data: Path, *extra: str) -> int:
    return main(["monitor", "cancer@latest", "--data", str(data), "--registry", p["registry"],
                 *extra])


def test_data_like_the_training_data_is_healthy(published: dict[str, Any], capsys) -> None:  # type: ignore[no-untyped-def]
    tmp = published["tmp"]
    published["new"].to_csv(tmp / "new.csv", index=False)
    assert _monitor(published, tmp / "new.csv", "--report", str(tmp / "m.json")) == 0
    out = capsys.readouterr().out
    assert out.startswith("mlgate monitor: healthy: cancer@1 is healthy: no input drift in 30")
    report = json.loads((tmp / "m.json").read_text())
    assert report["schema"] == "pytest-mlgate/monitor" and report["schema_version"] == 1
    assert report["verdict"] == "healthy" and report["failures"] == []
    assert report["model"] == {"name": "cancer", "version": 1,
                               "artifact_id": published["artifact"].artifact_id}
    assert report["rows"] == len(published["new"])
    assert set(report["not_checked"]) == {"performance", "latency", "prediction_drift"}


def test_shifted_columns_are_drifted_and_the_summary_leads_with_them(published: dict[str, Any], capsys) -> None:  # type: ignore[no-untyped-def]
    tmp = published["tmp"]
    new = published["new"].copy()
    new["worst area"] *= 1.6
    new["mean texture"] += 4.0
    new.to_parquet(tmp / "new.parquet")
    code = _monitor(published, tmp / "new.parquet", "--report", str(tmp / "m.json"),
                    "--markdown", str(tmp / "m.md"))
    assert code == 1
    out = capsys.readouterr().out
    assert "cancer@1 has drifted: input drift in 2 of 30 column(s)" in out
    report = json.loads((tmp / "m.json").read_text())
    assert report["verdict"] == "drifted"
    assert sorted(report["input_drift"]["columns"][i]["name"] for i in range(30)
                  if report["input_drift"]["columns"][i]["drifted"]) == ["mean texture", "worst area"]
    md = (tmp / "m.md").read_text()
    assert md.startswith("## mlgate monitor: **drifted**")
    assert md.index("### What failed") < md.index("### Input drift")
    assert "input column 'worst area' drifted" in md.split("### Input drift")[0]


def test_bad_input_exits_2_and_writes_nothing(published: dict[str, Any], capsys) -> None:  # type: ignore[no-untyped-def]
    tmp = published["tmp"]
    published["new"].head(0).to_csv(tmp / "empty.csv", index=False)
    assert _monitor(published, tmp / "empty.csv", "--report", str(tmp / "m.json")) == 2
    assert "has no rows; there is nothing to monitor" in capsys.readouterr().err
    published["new"].drop(columns="mean area").to_csv(tmp / "cut.csv", index=False)
    assert _monitor(published, tmp / "cut.csv", "--report", str(tmp / "m.json")) == 2
    assert "missing from current: 'mean area'" in capsys.readouterr().err
    assert not (tmp / "m.json").exists()
    published["new"].to_csv(tmp / "new.csv", index=False)
    assert _monitor(published, tmp / "new.csv", "--labels", "target") == 2
    err = capsys.readouterr().err
    assert err.startswith("mlgate: error: --labels: performance on labelled feedback is not "
                          "available in this build")
    assert main(["monitor", "nosuch", "--data", str(tmp / "new.csv"),
                 "--registry", published["registry"]]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_notification_summary_says_what_drifted(published: dict[str, Any], capsys) -> None:  # type: ignore[no-untyped-def]
    from pytest_mlgate.cli.drift import load_reference
    from pytest_mlgate.monitoring import ModelInfo, MonitorResult, monitor_notification
    from pytest_mlgate.stats.drift import check_drift

    new = published["new"].copy()
    new["worst area"] *= 1.6
    prof, _, _ = load_reference("cancer", published["registry"])
    art = published["artifact"]
    result = MonitorResult(model=ModelInfo("cancer", 1, art.artifact_id), reference="cancer",
                           data="new.csv", n_rows=len(new), input_drift=check_drift(prof, new),
                           report_path="out/m.json")
    summary = monitor_notification(result)
    assert set(summary) == {"source", "verdict", "healthy", "title", "failures", "metrics",
                            "model", "report_path", "state_key"}
    assert summary["source"] == "monitor" and summary["verdict"] == "drifted"
    assert summary["healthy"] is False and summary["state_key"] == "cancer"
    assert summary["title"] == "cancer@1 has drifted: input drift in 1 of 30 column(s)"
    assert "\n" not in summary["title"]
    assert isinstance(summary["failures"], tuple) and len(summary["failures"]) == 1
    assert summary["failures"][0].startswith("input column 'worst area' drifted")
    assert summary["metrics"][0]["name"] == "drift_share"
    assert summary["metrics"][0]["value"] == pytest.approx(1 / 30)
    assert summary["metrics"][0]["verdict"] == "fail"
    assert summary["model"] == {"name": "cancer", "version": 1, "artifact_id": art.artifact_id}
    assert summary["report_path"] == "out/m.json"


def test_notify_sends_the_verdict_to_the_webhook_and_runs_the_retraining_command(
        published: dict[str, Any], capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--notify reads mlgate_notify from the project's ini, posts the monitor's verdict to a real
    HTTP server, runs mlgate_on_degraded with the report's path, and a target that is down
    changes nothing but a line on stderr."""
    from tests.notify.servers import free_port, http_recorder

    tmp = published["tmp"]
    new = published["new"].copy()
    new["worst area"] *= 1.6
    new.to_csv(tmp / "new.csv", index=False)
    monkeypatch.chdir(tmp)
    marker = tmp / "retrain.txt"
    with http_recorder() as hook:
        (tmp / "pytest.ini").write_text(
            "[pytest]\nmlgate_notify =\n"
            f"    webhook {hook.url}\n    webhook http://127.0.0.1:{free_port()}/down\n"
            f"mlgate_on_degraded = {sys.executable} -c \"import os, pathlib; "
            f"pathlib.Path({str(marker)!r}).write_text(os.environ['MLGATE_VERDICT'] + ' ' + "
            "os.environ['MLGATE_REPORT'])\"\n")
        code = _monitor(published, tmp / "new.csv", "--report", str(tmp / "m.json"), "--notify")
        assert code == 1
        assert len(hook.requests) == 1
        sent = hook.requests[0].json()
    assert sent["verdict"] == "drifted", sent
    assert "worst area" in json.dumps(sent)
    assert marker.read_text() == f"drifted {tmp / 'm.json'}"
    captured = capsys.readouterr()
    assert "could not notify webhook" in captured.err, captured.err
    assert "notified webhook" in captured.out, captured.out


def test_notify_with_a_bad_ini_line_is_a_usage_error_before_anything_is_written(
        published: dict[str, Any], capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tmp = published["tmp"]
    published["new"].to_csv(tmp / "new.csv", index=False)
    monkeypatch.chdir(tmp)
    (tmp / "pytest.ini").write_text("[pytest]\nmlgate_notify = pager 555-0100\n")
    assert _monitor(published, tmp / "new.csv", "--report", str(tmp / "m.json"), "--notify") == 2
    assert "mlgate_notify" in capsys.readouterr().err
    assert not (tmp / "m.json").exists()


def test_a_bare_profile_is_no_artefact(published: dict[str, Any], capsys) -> None:  # type: ignore[no-untyped-def]
    tmp = published["tmp"]
    published["new"].to_csv(tmp / "new.csv", index=False)
    profile = Path(published["artifact"].path) / "profile.json"
    (tmp / "p.json").write_bytes(profile.read_bytes())
    assert main(["monitor", str(tmp / "p.json"), "--data", str(tmp / "new.csv")]) == 2
    assert "is a profile, not an artefact" in capsys.readouterr().err
