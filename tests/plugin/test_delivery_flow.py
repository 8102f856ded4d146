"""Delivery through the plugin: publish only after a complete run where every gate passed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .helpers import load_report, run_pytest

DELIVERY_TESTS = '''
import os
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def model(mlgate_session):
    m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    mlgate_session.candidate(m, name="iris", example=X.head(3), data={"train": X},
                             card={"owner": "tests", "license": "MIT"})
    return m

@pytest.mark.unit
def test_unit():
    assert os.environ.get("MLGATE_BREAK") != "unit"

@pytest.mark.integration
def test_integration(model):
    assert model.predict(X.head(2)).shape == (2,)

@pytest.mark.performance(model_size_mb="<= 5")
def test_size(model, mlgate):
    mlgate.measure_size(model)

@pytest.mark.validation(accuracy=">= 0.9")
def test_quality(model, mlgate):
    mlgate.evaluate(model, X, y)
'''

DEPLOY = '''
import json, os, sys
with open("deployed.json", "w") as fh:
    json.dump({k: v for k, v in os.environ.items() if k.startswith("MLGATE_ARTIFACT")}, fh)
print("deploy says hello")
sys.exit(int(os.environ.get("MLGATE_DEPLOY_EXIT", "0")))
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_model=DELIVERY_TESTS)
    (pytester.path / "deploy.py").write_text(DEPLOY)
    pytester.makeini('[pytest]\nmlgate_deploy = ["{python}", "deploy.py"]\nmlgate_aliases = staging\n')
    return pytester


def _mlgate(pytester: pytest.Pytester, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", *args], cwd=pytester.path,
                          capture_output=True, text=True, check=False)


@pytest.mark.both_modes
def test_passing_run_publishes_verifies_and_deploys(project: pytest.Pytester, run) -> None:
    result = run("--mlgate", "--mlgate-deliver", "--mlgate-report", "r.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*delivery: published iris v1 to *registry*"])
    deployed = json.loads((project.path / "deployed.json").read_text())
    assert deployed["MLGATE_ARTIFACT_NAME"] == "iris"
    assert deployed["MLGATE_ARTIFACT_VERSION"] == "1"
    report = load_report(project.path / "r.json")
    assert report["delivery"]["status"] == "delivered"
    assert report["delivery"]["artifacts"][0]["deploy"][0]["output"].strip() == "deploy says hello"
    listing = _mlgate(project, "list")
    assert listing.returncode == 0 and "iris" in listing.stdout and "staging->1" in listing.stdout
    assert _mlgate(project, "verify", "iris@latest").returncode == 0
    # the published model predicts exactly like the one that was tested
    out = subprocess.run([sys.executable, "-c", (
        "import pytest_mlgate, numpy as np\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "X, y = load_iris(return_X_y=True, as_frame=True)\n"
        "ref = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)\n"
        "m = pytest_mlgate.load('iris@staging', registry='.mlgate/registry')\n"
        "assert (m.predict_proba(X) == ref.predict_proba(X)).all()\n"
    )], cwd=project.path, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


@pytest.mark.both_modes
@pytest.mark.parametrize(
    ("args", "env", "why"),
    [
        ([], {"MLGATE_BREAK": "unit"}, "*nothing delivered: *gates failed*"),
        (["-k", "not test_unit"], {}, "*nothing delivered: the run was incomplete*"),
        (["-x"], {"MLGATE_BREAK": "unit"}, "*nothing delivered: *"),
    ],
)
def test_failing_or_incomplete_runs_publish_nothing(project: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch,
                                                    args: list[str], env: dict[str, str], why: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = run("--mlgate", "--mlgate-deliver", *args)
    result.stdout.fnmatch_lines([why])
    assert not (project.path / ".mlgate" / "registry" / "iris").exists()
    assert not (project.path / "deployed.json").exists()


def test_collect_only_publishes_nothing(project: pytest.Pytester) -> None:
    run_pytest(project, "--mlgate", "--mlgate-deliver", "--collect-only")
    assert not (project.path / ".mlgate" / "registry" / "iris").exists()


def test_failing_deploy_command_fails_the_run_and_moves_no_alias(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_DEPLOY_EXIT", "3")
    result = run_pytest(project, "--mlgate", "--mlgate-deliver")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*delivery failed: iris@1 is published, but deploy*deploy.py failed (staging not moved)*"
                                 "exited with status 3 for iris@1.", "  delivery output:", "    deploy says hello"])
    # latest is the newest published version; staging never points at a failed deploy.
    listing = _mlgate(project, "list")
    assert "latest->1" in listing.stdout and "staging" not in listing.stdout
    history = [json.loads(line) for line in
               (project.path / ".mlgate" / "registry" / "iris" / "history.jsonl").read_text().splitlines()]
    assert [(e["event"], e.get("status")) for e in history if e["event"] == "deploy"] == [("deploy", "failed")]


def test_deploy_command_that_does_not_exist(project: pytest.Pytester) -> None:
    project.makeini('[pytest]\nmlgate_deploy = ["no-such-deploy-tool-xyz", "--go"]\n')
    result = run_pytest(project, "--mlgate", "--mlgate-deliver")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*delivery failed:*no-such-deploy-tool-xyz*"])


@pytest.mark.both_modes
def test_deploy_hook_is_called_with_the_artifact(project: pytest.Pytester, run) -> None:
    project.makeconftest('''
def pytest_mlgate_deploy(artifact, config):
    with open("hook.txt", "w") as fh:
        fh.write(f"{artifact.name} {artifact.version} {artifact.artifact_id}")
''')
    result = run("--mlgate", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    name, version, artifact_id = (project.path / "hook.txt").read_text().split()
    assert (name, version) == ("iris", "1") and artifact_id.startswith("sha256:")


def test_two_different_models_under_one_name_fail_the_run(project: pytest.Pytester) -> None:
    project.makepyfile(test_other='''
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

@pytest.mark.integration
def test_other(mlgate):
    X, y = load_iris(return_X_y=True, as_frame=True)
    mlgate.candidate(DecisionTreeClassifier(random_state=0).fit(X, y), name="iris", example=X.head(3))
''')
    result = run_pytest(project, "--mlgate", "--mlgate-deliver")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*candidate 'iris' was registered twice with different models*"])
    assert not (project.path / ".mlgate" / "registry" / "iris").exists()


def test_unserializable_candidate_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

class Model:
    def __init__(self):
        self.f = lambda x: x
    def predict(self, X):
        return X

@pytest.mark.integration
def test_it(mlgate):
    mlgate.candidate(Model(), name="odd")
''')
    # In gate mode (outside it a candidate is not serialized: tests/plugin/test_candidates.py).
    result = run_pytest(pytester, "--mlgate", "-o", "mlgate_required_gates=integration")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ArtifactError*Model*mlgate_allow_pickle*"])
    assert "pytest_mlgate/delivery" not in result.stdout.str()


def test_bad_candidate_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest
from sklearn.dummy import DummyClassifier

@pytest.mark.integration
def test_it(mlgate):
    mlgate.candidate(DummyClassifier().fit([[0], [1]], [0, 1]), name="../evil")
''')
    result = run_pytest(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ArtifactError*'../evil'*"])


def test_a_passing_run_records_its_deploy_and_then_moves_the_alias(project: pytest.Pytester) -> None:
    result = run_pytest(project, "--mlgate", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    history = [json.loads(line) for line in
               (project.path / ".mlgate" / "registry" / "iris" / "history.jsonl").read_text().splitlines()]
    kinds = [(e["event"], e.get("alias") or e.get("status")) for e in history]
    assert kinds == [("publish", None), ("alias", "latest"), ("deploy", "ok"), ("alias", "staging")]
    assert len({e["artifact_id"] for e in history}) == 1


def test_no_gated_test_means_no_delivery(pytester: pytest.Pytester) -> None:
    """mlgate_required_gates empty and no gated test: every gate "passed", but the model passed
    none of them, so it is not delivered."""
    pytester.makepyfile(test_plain='''
from sklearn.dummy import DummyClassifier

def test_fit(mlgate_session):
    mlgate_session.candidate(DummyClassifier().fit([[0], [1]], [0, 1]), name="nothing")
''')
    pytester.makeini("[pytest]\nmlgate_required_gates =\n")
    result = run_pytest(pytester, "--mlgate", "--mlgate-deliver")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*nothing delivered: no gated test passed, so the model passed no gate*"])
    assert not (pytester.path / ".mlgate" / "registry" / "nothing").exists()


@pytest.mark.parametrize(("ini", "message"), [
    ('mlgate_deploy = ["python", 3]', "*mlgate_deploy line*must be a non-empty JSON array of strings*"),
    ("mlgate_deploy = deploy 'unterminated", "*mlgate_deploy line*check its quotes*"),
    ("mlgate_aliases = latest", "*mlgate_aliases lists 'latest'*"),
    ("mlgate_aliases = ../prod", "*mlgate_aliases: alias '../prod' is not allowed*"),
    ("mlgate_signing_key = env:MLGATE_NO_SUCH_KEY", "*MLGATE_NO_SUCH_KEY is not set*mlgate keygen*"),
])
def test_delivery_settings_are_checked_before_any_test_runs(project: pytest.Pytester, ini: str,
                                                            message: str) -> None:
    project.makeini(f"[pytest]\n{ini}\n")
    result = run_pytest(project, "--mlgate", "--mlgate-deliver")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "test_model.py" not in result.stdout.str()


def test_signed_delivery_with_a_key_from_the_environment(project: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    keys = project.path / "keys"
    assert _mlgate(project, "keygen", str(keys / "ci")).returncode == 0
    monkeypatch.setenv("MLGATE_SIGNING_KEY", (keys / "ci").read_text())
    (keys / "ci").unlink()  # in CI the private key exists only in the secret store
    project.makeini("[pytest]\nmlgate_signing_key = env:MLGATE_SIGNING_KEY\n")
    result = run_pytest(project, "--mlgate", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    checked = _mlgate(project, "verify", "iris", "--public-key", str(keys / "ci.pub"))
    assert checked.returncode == 0 and "signature valid" in checked.stdout, checked.stdout + checked.stderr


def test_gate_mode_warns_when_no_config_file_was_found(project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    """pytest's rootdir rule: a path after an option (the space form) is taken for a test path
    while the ini file is looked for, so the project's ini is not found."""
    registry = tmp_path_factory.mktemp("elsewhere") / "registry"
    registry.mkdir()
    (registry / "conftest.py").write_text("")
    spaced = run_pytest(project, "--mlgate", "--mlgate-registry", str(registry))
    spaced.stdout.fnmatch_lines(["*PytestConfigWarning: pytest-mlgate: gate mode runs without a configuration file*"
                                 "--mlgate-registry=/abs/dir*"])
    joined = run_pytest(project, "--mlgate", f"--mlgate-registry={registry}")
    assert "without a configuration file" not in joined.stdout.str()
