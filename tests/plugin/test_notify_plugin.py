"""Notifications from a gate-mode run: sent once, on the controller, after the reports; a target
that fails is named in the summary and changes nothing; a bad target line is a usage error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..notify.servers import free_port, http_recorder

FAILING = '''
import pytest

@pytest.mark.validation(accuracy=">= 0.9")
def test_validation(mlgate):
    mlgate.record("accuracy", 0.8)
'''


@pytest.mark.both_modes
def test_a_failing_gate_sends_exactly_one_webhook(pytester: pytest.Pytester,
                                                  run: Callable[..., pytest.RunResult]) -> None:
    pytester.makepyfile(test_gates=FAILING)
    with http_recorder() as server:
        pytester.makeini(f"[pytest]\nmlgate_required_gates = validation\nmlgate_notify = webhook {server.url}\n")
        result = run("--mlgate", "--mlgate-report=report.json")
    assert result.ret == 1
    (req,) = server.requests
    doc = req.json()
    assert doc["verdict"] == "fail" and doc["source"] == "ci"
    assert any("accuracy" in f and "needs >= 0.9" in f for f in doc["failures"])
    assert [m["name"] for m in doc["metrics"]] == ["accuracy"]
    assert doc["report_path"] == str(pytester.path / "report.json")
    assert "mlgate: notified webhook http://127.0.0.1:" in result.stdout.str()
    assert "SECRET" not in result.stdout.str()


@pytest.mark.both_modes
def test_a_target_that_is_down_never_changes_the_exit_status(pytester: pytest.Pytester,
                                                              run: Callable[..., pytest.RunResult]) -> None:
    pytester.makepyfile(test_gates=FAILING.replace("0.8", "0.95"))
    url = f"http://127.0.0.1:{free_port()}/services/T0SECRET/B0SECRET/tokSECRET"
    pytester.makeini(f"[pytest]\nmlgate_required_gates = validation\nmlgate_notify_on = always\n"
                     f"mlgate_notify = slack {url}\n")
    result = run("--mlgate")
    assert result.ret == 0
    out = result.stdout.str()
    assert "could not notify slack http://127.0.0.1:" in out and "connection refused" in out
    assert "SECRET" not in out and "Traceback" not in out


def test_a_bad_target_line_is_a_usage_error(pytester: pytest.Pytester) -> None:
    from .helpers import run_pytest

    pytester.makepyfile(test_gates=FAILING)
    pytester.makeini("[pytest]\nmlgate_notify = pager https://pager.example/x\n")
    result = run_pytest(pytester, "--mlgate")
    assert result.ret == 4
    err = result.stderr.str()
    assert "mlgate_notify line 'pager https://pager.example/x' is not a target" in err
    assert "'webhook URL', 'slack URL' or 'email ADDRESS'" in err
