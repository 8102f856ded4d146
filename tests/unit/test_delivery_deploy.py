"""Deploy: the order publish -> deploy -> aliases, deploy results in the history, process groups."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.delivery import DeployTarget, LocalRegistry, run_deploy_target, stage_candidate
from pytest_mlgate.delivery.deploy import DeployTimeout
from pytest_mlgate.delivery.pipeline import deliver_candidate
from pytest_mlgate.delivery.staging import StagedCandidate

X, Y = load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> StagedCandidate:
    model = LogisticRegression(max_iter=300).fit(X, Y)
    return stage_candidate(model, name="iris", example=X.head(2),
                           staging_dir=tmp_path_factory.mktemp("staged"))


def _script(tmp_path: Path, body: str) -> DeployTarget:
    path = tmp_path / "deploy.py"
    path.write_text(textwrap.dedent(body))
    return DeployTarget((sys.executable, str(path)), 30.0)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
def test_a_timeout_ends_the_whole_process_group(staged: StagedCandidate, tmp_path: Path) -> None:
    """A deploy command that starts a child, which would finish the deploy after the timeout:
    the child is killed with it, so nothing is deployed after the failure was reported."""
    marker = tmp_path / "deployed-late"
    target = _script(tmp_path, f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c",
                          "import time; time.sleep(1.5); open({str(marker)!r}, 'w').write('x')"])
        print("child started", flush=True)
        time.sleep(30)
    """)
    artifact = LocalRegistry(tmp_path / "reg").publish(staged, {})
    target = DeployTarget(target.argv, 0.8)
    with pytest.raises(DeployTimeout, match=r"longer than 0\.8 s; it \(pid \d+\) and every process "
                       r"in its process group were killed(.|\n)*child started"):
        run_deploy_target(target, artifact)
    time.sleep(2.5)
    assert not marker.exists(), "a child of the timed-out deploy command finished the deploy"


def test_aliases_move_only_after_every_deploy_step_succeeded(staged: StagedCandidate,
                                                             tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    ok = _script(tmp_path, "print('deployed')")
    entry, failure = deliver_candidate(reg, staged, {}, targets=[ok], aliases=["staging"])
    assert failure is None and entry["aliases"] == ["staging"]
    assert reg.aliases("iris") == {"latest": 1, "staging": 1}

    (tmp_path / "fail").mkdir()
    bad = _script(tmp_path / "fail", "import sys; print('bucket denied'); sys.exit(3)")
    entry, failure = deliver_candidate(reg, staged, {}, targets=[ok, bad], aliases=["staging"])
    assert failure is not None
    assert "iris@2 is published, but deploy" in failure and "(staging not moved)" in failure
    assert "bucket denied" in failure
    # latest is the newest published version; staging still points at the last good deploy.
    assert reg.aliases("iris") == {"latest": 2, "staging": 1}
    assert reg.locate("iris@staging").version == 1
    deploys = [(e["version"], e["status"]) for e in reg.history("iris") if e["event"] == "deploy"]
    assert deploys == [(1, "ok"), (2, "ok"), (2, "failed")]


def test_deploy_results_are_history_events_with_the_pinned_id(staged: StagedCandidate,
                                                              tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    slow = _script(tmp_path, "import time; time.sleep(30)")
    entry, failure = deliver_candidate(reg, staged, {}, targets=[DeployTarget(slow.argv, 0.5)],
                                       aliases=["production"])
    assert failure is not None and "timed out" in failure
    (event,) = [e for e in reg.history("iris") if e["event"] == "deploy"]
    assert event["status"] == "timed out" and event["artifact_id"] == entry["artifact_id"]
    assert "production" not in reg.aliases("iris")


def test_a_deploy_hook_that_raises_is_a_failed_deploy(staged: StagedCandidate,
                                                      tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")

    def hook(artifact: object) -> None:
        raise RuntimeError("cluster unreachable")

    entry, failure = deliver_candidate(reg, staged, {}, hooks=[("hook my_deploy", hook)],
                                       aliases=["staging"])
    assert failure is not None and "RuntimeError: cluster unreachable" in failure
    assert entry["deploy"] == [{"target": "hook my_deploy", "argv": None, "status": "failed",
                                "output": "cluster unreachable"}]
    assert "staging" not in reg.aliases("iris")


def test_a_deploy_script_can_load_exactly_the_artefact_it_was_given(staged: StagedCandidate,
                                                                    tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    script = _script(tmp_path, """
        import os, pytest_mlgate
        model = pytest_mlgate.load(os.environ["MLGATE_ARTIFACT_PATH"],
                                   expect_id=os.environ["MLGATE_ARTIFACT_ID"])
        print("loaded", type(model).__name__)
    """)
    entry, failure = deliver_candidate(reg, staged, {}, targets=[script])
    assert failure is None, failure
    assert entry["deploy"][0]["output"].strip() == "loaded LogisticRegression"


def _escaping_helper(tmp_path: Path) -> tuple[str, Path]:
    """Code that starts a helper in a session of its own (as a deploy starting a daemon does),
    holding the command's output for a minute; the helper writes its pid to the returned path."""
    pidfile = tmp_path / "helper.pid"
    code = (f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
            "time.sleep(60)")
    return f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", {code!r}], start_new_session=True)
        print("deploy started its helper", flush=True)
    """, pidfile


def _stop(pidfile: Path) -> None:
    import contextlib
    import os
    import signal

    for _ in range(100):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    if pidfile.exists() and pidfile.read_text():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


@pytest.mark.skipif(sys.platform == "win32", reason="sessions are POSIX")
def test_a_command_that_exits_ok_is_ok_even_when_a_helper_keeps_its_output(
        staged: StagedCandidate, tmp_path: Path) -> None:
    """The command's own exit status decides; a helper that left its session and keeps the
    output pipe open does not turn a success into a timeout, nor hold the step for its life."""
    body, pidfile = _escaping_helper(tmp_path)
    target = DeployTarget(_script(tmp_path, body + "\n        sys.exit(0)\n").argv, 30.0)
    artifact = LocalRegistry(tmp_path / "reg").publish(staged, {})
    start = time.monotonic()
    try:
        out = run_deploy_target(target, artifact)
    finally:
        _stop(pidfile)
    assert "deploy started its helper" in out
    assert "left its process group and still holds its output" in out
    assert time.monotonic() - start < 25, "the step waited for the helper, not for the command"


@pytest.mark.skipif(sys.platform == "win32", reason="sessions are POSIX")
def test_a_timeout_bounds_the_step_and_says_what_was_not_killed(
        staged: StagedCandidate, tmp_path: Path) -> None:
    body, pidfile = _escaping_helper(tmp_path)
    target = DeployTarget(_script(tmp_path, body + "\n        time.sleep(60)\n").argv, 1.0)
    artifact = LocalRegistry(tmp_path / "reg").publish(staged, {})
    start = time.monotonic()
    try:
        with pytest.raises(DeployTimeout, match=r"longer than 1 s; it \(pid \d+\) and every "
                           r"process in its process group were killed\. A process it started "
                           r"had left that group .* it was not killed(.|\n)*helper"):
            run_deploy_target(target, artifact)
    finally:
        _stop(pidfile)
    assert time.monotonic() - start < 25, "the timeout did not bound the step"
