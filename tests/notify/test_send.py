"""Notifications sent to real servers on 127.0.0.1: what each kind of target receives, when
``mlgate_notify_on`` sends, and what a target that is down, slow or failing does (nothing to the
verdict; an outcome that names it, secrets masked)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from pytest_mlgate.errors import ConfigError
from pytest_mlgate.notify import Notification, NotifyConfig, run_on_degraded, send_all
from pytest_mlgate.notify.targets import mask_url, parse_targets

from .servers import free_port, http_recorder, smtp_recorder

GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/churn",
          "GITHUB_RUN_ID": "4242"}
RUN_LINK = "https://github.com/acme/churn/actions/runs/4242"


def failing(**kw: object) -> Notification:
    fields: dict[str, object] = dict(
        source="ci", verdict="fail", healthy=False,
        title="pytest-mlgate: churn FAILED: validation gate: accuracy below the threshold",
        failures=("validation gate: tests/test_model.py::test_accuracy accuracy = 0.81 [0.78, 0.84]: "
                  "below the threshold: 0.81, needs >= 0.9", "1 test(s) without a gate failed or errored"),
        metrics=({"name": "accuracy", "value": 0.81, "low": 0.78, "high": 0.84, "verdict": "fail",
                  "test": "tests/test_model.py::test_accuracy"},),
        model={"name": "churn", "version": 3, "artifact_id": "sha256:abc"},
        report_path="/ci/report.json", state_key="ci:main")
    fields.update(kw)
    return Notification(**fields)  # type: ignore[arg-type]


def passing() -> Notification:
    return Notification(source="ci", verdict="pass", healthy=True, title="pytest-mlgate: churn passed every gate",
                        state_key="ci:main")


def config(*lines: str, **kw: object) -> NotifyConfig:
    return NotifyConfig(targets=parse_targets(lines), **kw)  # type: ignore[arg-type]


def test_webhook_receives_the_verdict_failures_metrics_model_and_run_link() -> None:
    with http_recorder() as server:
        outcomes = send_all(failing(), config(f"webhook {server.url}"), env=GITHUB)
    assert [o.ok for o in outcomes] == [True]
    (req,) = server.requests
    assert req.headers["Content-Type"].startswith("application/json")
    doc = req.json()
    assert doc["schema"] == "pytest-mlgate/notification"
    assert (doc["source"], doc["verdict"], doc["healthy"]) == ("ci", "fail", False)
    assert doc["failures"][0].startswith("validation gate: tests/test_model.py::test_accuracy")
    assert doc["metrics"] == [dict(failing().metrics[0])]
    assert doc["model"] == {"name": "churn", "version": 3, "artifact_id": "sha256:abc"}
    assert doc["report_path"] == "/ci/report.json"
    assert doc["run_url"] == RUN_LINK
    # The outcome names the target without the URL's token.
    assert "SECRET" not in str(outcomes[0]) and "127.0.0.1" in str(outcomes[0])


def test_run_link_from_gitlab_or_mlgate_run_url_and_none_outside_ci() -> None:
    with http_recorder() as server:
        cfg = config(f"webhook {server.url}")
        send_all(failing(), cfg, env={"CI_JOB_URL": "https://gitlab.example/acme/-/jobs/7"})
        send_all(failing(), cfg, env={**GITHUB, "MLGATE_RUN_URL": "https://ci.example/run/9"})
        send_all(failing(), cfg, env={})
    assert [r.json()["run_url"] for r in server.requests] == [
        "https://gitlab.example/acme/-/jobs/7", "https://ci.example/run/9", None]


def test_slack_message_has_text_and_blocks() -> None:
    with http_recorder() as server:
        (outcome,) = send_all(failing(failures=("accuracy < 0.9 & <b>",)), config(f"slack {server.url}"), env=GITHUB)
    assert outcome.ok
    msg = server.requests[0].json()
    assert set(msg) == {"text", "blocks"}
    # The text alone carries the message (Mattermost shows only it), escaped for mrkdwn.
    assert "churn FAILED" in msg["text"] and "accuracy &lt; 0.9 &amp; &lt;b&gt;" in msg["text"]
    assert f"<{RUN_LINK}|CI run>" in msg["text"]
    kinds = [b["type"] for b in msg["blocks"]]
    assert kinds[0] == "header" and kinds[-1] == "context" and "section" in kinds
    assert msg["blocks"][0]["text"] == {"type": "plain_text", "text": failing().title}
    metrics = next(b for b in msg["blocks"] if b["type"] == "section" and "*Metrics*" in b["text"]["text"])
    assert "accuracy = 0.81 [0.78, 0.84] fail" in metrics["text"]["text"]


def test_email_subject_is_the_title_and_body_gives_the_reasons() -> None:
    with smtp_recorder() as smtp:
        cfg = config("email ml-team@example.com", smtp_host=smtp.host, smtp_port=smtp.port,
                     smtp_from="gates@example.com")
        (outcome,) = send_all(failing(), cfg, env=GITHUB)
    assert outcome.ok, outcome
    (sender, rcpts, msg) = smtp.messages[0]
    assert (sender, rcpts) == ("gates@example.com", ["ml-team@example.com"])
    assert " ".join(str(msg["Subject"]).split()) == failing().title  # unfolded
    body = msg.get_content()
    assert "Verdict: fail" in body and "needs >= 0.9" in body
    assert "Model: churn v3 (sha256:abc)" in body and f"Run: {RUN_LINK}" in body


def test_the_smtp_password_never_appears_in_an_outcome() -> None:
    password = "hunter2-very-secret"
    with smtp_recorder() as smtp:  # a server without AUTH: the login fails
        cfg = config("email ml-team@example.com", smtp_host=smtp.host, smtp_port=smtp.port)
        (outcome,) = send_all(failing(), cfg, env={"MLGATE_SMTP_USER": "bot", "MLGATE_SMTP_PASSWORD": password})
        (half,) = send_all(failing(), cfg, env={"MLGATE_SMTP_PASSWORD": password})
    assert not outcome.ok and password not in str(outcome)
    assert "AUTH" in outcome.message
    assert not half.ok and "set both MLGATE_SMTP_USER and MLGATE_SMTP_PASSWORD" in half.message
    assert smtp.messages == []


def test_on_failure_sends_nothing_for_a_passing_run_and_always_does() -> None:
    with http_recorder() as server:
        assert send_all(passing(), config(f"webhook {server.url}"), env={}) == []
        assert len(server.requests) == 0
        (o,) = send_all(passing(), config(f"webhook {server.url}", on="always"), env={})
    assert o.ok and [r.json()["verdict"] for r in server.requests] == ["pass"]


def test_on_change_sends_only_when_the_verdict_changed(tmp_path: Path) -> None:
    state = tmp_path / ".mlgate" / "notify-state.json"
    with http_recorder() as server:
        cfg = config(f"webhook {server.url}", on="change", state_path=state)
        sent = [len(send_all(n, cfg, env={})) for n in (passing(), failing(), failing(), passing(), passing())]
        # Another key keeps its own verdict: its first failure is news.
        other = send_all(failing(state_key="ci:feature"), cfg, env={})
    assert sent == [0, 1, 0, 1, 0]
    assert [o.ok for o in other] == [True]
    assert [r.json()["verdict"] for r in server.requests] == ["fail", "pass", "fail"]
    doc = json.loads(state.read_text())
    assert doc["schema"] == "pytest-mlgate/notify-state"
    assert {k: v["verdict"] for k, v in doc["keys"].items()} == {"ci:main": "pass", "ci:feature": "fail"}


def test_a_change_a_target_missed_is_sent_again(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with http_recorder(status=500, answer=b"database on fire") as broken:
        (o,) = send_all(failing(), config(f"webhook {broken.url}", on="change", state_path=state), env={})
    assert not o.ok and "HTTP 500" in o.message and "database on fire" in o.message
    assert "SECRET" not in str(o)
    assert not state.exists()
    with http_recorder() as server:
        (again,) = send_all(failing(), config(f"webhook {server.url}", on="change", state_path=state), env={})
    assert again.ok and len(server.requests) == 1


def test_a_server_that_is_down_is_reported_not_raised() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T0SECRET/B0SECRET/tokenSECRET"
    (o,) = send_all(failing(), config(f"slack {url}"), env={})
    assert not o.ok and "connection refused" in o.message
    assert str(o).startswith("could not notify slack http://127.0.0.1:")
    assert "SECRET" not in str(o) and "Traceback" not in str(o)


def test_a_slow_server_times_out_within_the_timeout() -> None:
    with http_recorder(delay_s=5.0) as slow, http_recorder() as fast:
        start = time.monotonic()
        outcomes = send_all(failing(), config(f"webhook {slow.url}", f"webhook {fast.url}"),
                            env={}, timeout_s=0.5)
        elapsed = time.monotonic() - start
    assert [o.ok for o in outcomes] == [False, True]
    assert "timed out" in outcomes[0].message
    assert elapsed < 3.0  # not the server's 5 s
    assert len(fast.requests) == 1


def test_a_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_recorder() as server:
        cfg = config("slack env:TEAM_SLACK_URL")
        (missing,) = send_all(failing(), cfg, env={})
        (o,) = send_all(failing(), cfg, env={"TEAM_SLACK_URL": server.url})
    assert not missing.ok and "TEAM_SLACK_URL is not set" in missing.message
    assert o.ok and len(server.requests) == 1 and str(o) == "notified slack env:TEAM_SLACK_URL: HTTP 200"


def test_masking_keeps_host_and_words_and_hides_tokens_userinfo_and_query() -> None:
    assert mask_url("https://hooks.slack.com/services/T0123/B0456/XyZ789abc") == \
        "https://hooks.slack.com/services/***/***/***"
    assert mask_url("https://bot:pa55@chat.example.com:8443/hooks/3kd9xq8a1?token=abc&channel=ml#x") == \
        "https://***@chat.example.com:8443/hooks/***?token=***&channel=***#***"


@pytest.mark.parametrize(("line", "expected"), [
    ("pager https://x.example/hook", "is not a target"),
    ("webhook", "is not a target"),
    ("webhook ftp://x.example/hook", "is not an http:// or https:// URL"),
    ("email not-an-address", "is not an e-mail address"),
    ("email a@example.com, b@example.com", "is not a target"),
    ("slack env:1BAD", "is not an environment variable name"),
])
def test_a_bad_line_names_the_line_and_the_accepted_forms(line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_targets([line])
    assert expected in str(err.value)
    assert "ini mlgate_notify line" in str(err.value)


def test_a_bad_url_line_does_not_print_its_token() -> None:
    with pytest.raises(ConfigError) as err:
        parse_targets(["slack ftp://hooks.slack.com/services/T0SECRET/B0SECRET/tokSECRET"])
    assert "SECRET" not in str(err.value) and "'webhook URL', 'slack URL' or 'email ADDRESS'" in str(err.value)


def test_from_project_reads_the_ini_pytest_would(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text("[pytest]\nmlgate_notify =\n    webhook https://ci.example/hook\n"
                                      "    email team@example.com\nmlgate_notify_on = change\n"
                                      "mlgate_smtp_port = 2525\nmlgate_on_degraded = python retrain.py --fast\n")
    sub = tmp_path / "service"
    sub.mkdir()
    # A pyproject.toml without pytest configuration does not stop the search; tox.ini above wins.
    (sub / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    cfg = NotifyConfig.from_project(sub)
    assert [(t.kind, t.address) for t in cfg.targets] == [("webhook", "https://ci.example/hook"),
                                                         ("email", "team@example.com")]
    assert (cfg.on, cfg.smtp_port, cfg.smtp_host) == ("change", 2525, "localhost")
    assert cfg.on_degraded == ("python", "retrain.py", "--fast")
    assert cfg.state_path == tmp_path / ".mlgate" / "notify-state.json"
    # pyproject.toml's [tool.pytest.ini_options] in the nearer directory wins over tox.ini above.
    (sub / "pyproject.toml").write_text("[tool.pytest.ini_options]\nmlgate_notify = ['slack env:SLACK_URL']\n"
                                        "mlgate_on_degraded = '[\"retrain\", \"--all\"]'\n")
    cfg = NotifyConfig.from_project(sub)
    assert [str(t) for t in cfg.targets] == ["slack env:SLACK_URL"]
    assert cfg.on == "failure" and cfg.on_degraded == ("retrain", "--all")
    assert cfg.state_path == sub / ".mlgate" / "notify-state.json"


def test_from_project_names_the_file_of_a_bad_value(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\nmlgate_notify_on = sometimes\n")
    with pytest.raises(ConfigError) as err:
        NotifyConfig.from_project(tmp_path)
    assert str(tmp_path / "setup.cfg") in str(err.value) and "failure, always, change" in str(err.value)


def _monitor(verdict: str) -> Notification:
    return Notification(source="monitor", verdict=verdict, healthy=verdict == "healthy",
                        title=f"churn is {verdict}", state_key="monitor:churn@prod")


def test_run_on_degraded_runs_the_command_with_the_report_and_verdict(tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    script = ("import json, os, sys; json.dump({k: os.environ[k] for k in ('MLGATE_REPORT', 'MLGATE_VERDICT')}"
              ", open(sys.argv[1], 'w')); print('retraining started')")
    cfg = NotifyConfig(on_degraded=(sys.executable, "-c", script, str(out)))
    assert run_on_degraded(cfg, _monitor("healthy"), tmp_path / "r.json") is None
    assert not out.exists()
    outcome = run_on_degraded(cfg, _monitor("drifted"), tmp_path / "r.json")
    assert outcome is not None and outcome.ok, outcome
    assert json.loads(out.read_text()) == {"MLGATE_REPORT": str(tmp_path / "r.json"), "MLGATE_VERDICT": "drifted"}


def test_run_on_degraded_reports_a_failing_or_missing_command(tmp_path: Path) -> None:
    fails = NotifyConfig(on_degraded=(sys.executable, "-c", "import sys; print('no GPU'); sys.exit(3)"))
    outcome = run_on_degraded(fails, _monitor("degraded"), None)
    assert outcome is not None and not outcome.ok
    assert "exited with status 3" in outcome.message and "no GPU" in outcome.message
    missing = run_on_degraded(NotifyConfig(on_degraded=("no-such-retrain-program",)), _monitor("degraded"), None)
    assert missing is not None and not missing.ok and "was not found" in missing.message
    slow = NotifyConfig(on_degraded=(sys.executable, "-c", "import time; time.sleep(30)"))
    start = time.monotonic()
    timed_out = run_on_degraded(slow, _monitor("degraded"), None, timeout_s=0.5)
    assert timed_out is not None and "was killed" in timed_out.message
    assert time.monotonic() - start < 10
    assert NotifyConfig().on_degraded is None and run_on_degraded(NotifyConfig(), _monitor("drifted"), None) is None
