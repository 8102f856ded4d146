"""The MLflow Model Registry as a registry, against a real ``mlflow server`` started here (SQLite
backend store, a local artifact store, a free loopback port), stopped when the module ends.

One server for the module, and each test uses model names of its own, so the tests do not
depend on one another's order."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..serve.helpers import request, serving
from .helpers import load_report, run_pytest
from .test_delivery_flow import DELIVERY_TESTS

mlflow = pytest.importorskip("mlflow")

from sklearn.datasets import load_iris, load_wine  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import pytest_mlgate  # noqa: E402
from pytest_mlgate.delivery import generate_key_pair, stage_candidate  # noqa: E402
from pytest_mlgate.delivery.artifact import artifact_id  # noqa: E402
from pytest_mlgate.delivery.mlflow_registry import (  # noqa: E402
    ID_TAG,
    PUBLISHING,
    STATUS_TAG,
    MlflowRegistry,
)
from pytest_mlgate.delivery.signing import load_signing_key  # noqa: E402
from pytest_mlgate.errors import RegistryError, VerificationError  # noqa: E402

STARTUP_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Server:
    uri: str  # the tracking URI
    artifacts: Path  # the server's artifact store

    @property
    def registry(self) -> str:
        return f"mlflow:{self.uri}"

    def client(self) -> Any:
        return mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def artefact_dir(self, name: str, version: int) -> Path:
        """Where the server keeps the artefact of ``name`` version ``version``."""
        run_id = self.client().get_model_version(name, str(version)).run_id
        (found,) = self.artifacts.glob(f"*/{run_id}/artifacts/model/artifact")
        return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - open while the server runs
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(f"{uri}/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("mlflow server did not start:\n"
                                     + (root / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield Server(uri=uri, artifacts=root / "artifacts")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@dataclass(frozen=True)
class Published:
    name: str
    version: int
    artifact_id: str
    model: Any
    X: Any
    public_key: Path


@pytest.fixture(scope="module")
def published(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """A signed iris model published to the server with the alias production."""
    tmp = tmp_path_factory.mktemp("published")
    private, public = generate_key_pair(tmp / "key")
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    staged = stage_candidate(model, name="iris", example=X.head(3), staging_dir=tmp / "staging")
    out = MlflowRegistry(server.registry).publish(
        staged, {}, aliases=["production"], signing_key=load_signing_key(str(private)))
    return Published("iris", out.version, out.artifact_id, model, X, public)


def _cli(*args: str, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


# -- gate mode -----------------------------------------------------------------------------------

# The delivery scenario's suite under a name of its own (the module's server also holds "iris").
GATED_TESTS = DELIVERY_TESTS.replace('name="iris"', 'name="flowers"')

DEPLOY = '''
import json, os, sys
with open("deployed.json", "w") as fh:
    json.dump({k: v for k, v in os.environ.items() if k.startswith("MLGATE_ARTIFACT")}, fh)
sys.exit(int(os.environ.get("MLGATE_DEPLOY_EXIT", "0")))
'''


def test_gate_mode_publishes_a_version_and_moves_the_alias_only_after_deploy(
        server: Server, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_model=GATED_TESTS)
    (pytester.path / "deploy.py").write_text(DEPLOY)
    pytester.makeini(f'[pytest]\nmlgate_registry = {server.registry}\n'
                     'mlgate_deploy = ["{python}", "deploy.py"]\nmlgate_aliases = staging\n')
    result = run_pytest(pytester, "--mlgate", "--mlgate-deliver", "--mlgate-report", "r.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"*delivery: published flowers v1 to {server.registry}*"])
    client = server.client()
    v1 = client.get_model_version("flowers", "1")
    report = load_report(pytester.path / "r.json")
    aid = report["delivery"]["artifacts"][0]["artifact_id"]
    assert v1.tags[ID_TAG] == aid and v1.tags[STATUS_TAG] == "published"
    assert v1.tags["mlgate.verdict"] == "pass" and v1.tags["mlgate.gate.validation"] == "pass"
    assert json.loads(v1.tags["mlgate.deploy.1"])["status"] == "ok"
    assert client.get_model_version_by_alias("flowers", "staging").version == "1"
    run = client.get_run(v1.run_id)
    assert run.data.params["artifact_id"] == aid
    assert run.data.metrics["accuracy"] > 0.9
    assert client.get_experiment(run.info.experiment_id).name == "flowers"
    deployed = json.loads((pytester.path / "deployed.json").read_text())
    assert deployed["MLGATE_ARTIFACT_ID"] == aid and deployed["MLGATE_ARTIFACT_VERSION"] == "1"

    # A failing deploy, under -n 2: version 2 is published, staging stays on version 1.
    monkeypatch.setenv("MLGATE_DEPLOY_EXIT", "3")
    result = run_pytest(pytester, "--mlgate", "--mlgate-deliver", workers=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*delivery failed: flowers@2 is published, but deploy*failed "
                                 "(staging not moved)*"])
    v2 = client.get_model_version("flowers", "2")
    assert v2.tags[STATUS_TAG] == "published"
    assert json.loads(v2.tags["mlgate.deploy.1"])["status"] == "failed"
    assert client.get_model_version_by_alias("flowers", "staging").version == "1"
    listing = _cli("list", "--registry", server.registry)
    assert listing.returncode == 0, listing.stderr
    assert "latest->2" in listing.stdout and "staging->1" in listing.stdout


# -- loading -------------------------------------------------------------------------------------

def test_load_by_every_reference_form(server: Server, published: Published,
                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    want = published.model.predict_proba(published.X)
    v = published.version
    for ref in ("models:/iris@production", f"models:/iris/{v}", "iris@production", f"iris@{v}",
                "iris", "iris@latest"):
        model = pytest_mlgate.load(ref, registry=server.registry, expect_id=published.artifact_id,
                                   public_key=published.public_key)
        assert (model.predict_proba(published.X) == want).all(), ref
    card = MlflowRegistry(server.registry).open("iris", read=["README.md"]).files["README.md"]
    assert f"registry={server.registry!r},  # where it was published\n" in card.decode()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)  # models:/ without registry=
    assert (pytest_mlgate.load("models:/iris@production").predict_proba(published.X) == want).all()
    other = "sha256:" + "0" * 64
    with pytest.raises(VerificationError, match="expected by the caller"):
        pytest_mlgate.load("models:/iris@production", expect_id=other)
    _, wrong_key = generate_key_pair(tmp_path / "other")
    with pytest.raises(VerificationError, match=r"iris-v1.*manifest.sig was made with another key"):
        pytest_mlgate.load("models:/iris@production", public_key=wrong_key)


def test_mlflow_pyfunc_load_model_predicts_as_the_model_that_was_tested(
        server: Server, published: Published) -> None:
    # A consumer with MLflow and pytest-mlgate installed, in a fresh process.
    code = (
        "import mlflow, json\n"
        "from sklearn.datasets import load_iris\n"
        "X, _ = load_iris(return_X_y=True, as_frame=True)\n"
        "try:\n"
        "    mlflow.pyfunc.load_model('models:/iris@production', model_config={'expect_id': 'sha256:' + '0' * 64})\n"
        "    print('LOADED with a wrong pin')\n"
        "except Exception as exc:\n"
        "    print('REFUSED', exc)\n"
        "m = mlflow.pyfunc.load_model('models:/iris@production')\n"
        "print(json.dumps([int(p) for p in m.predict(X)]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MLFLOW_TRACKING_URI": server.uri}, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    # MLflow passes only the model_config keys the MLmodel declares; the pin was dropped with a
    # warning and the model loaded (new-user trial).
    assert "REFUSED" in out.stdout and "0000000000" in out.stdout, out.stdout + out.stderr
    assert "were ignored" not in out.stderr, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == published.model.predict(
        published.X).tolist()


def test_a_tampered_artefact_is_refused(server: Server, tmp_path: Path) -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    staged = stage_candidate(model, name="tampered", example=X.head(3), staging_dir=tmp_path)
    out = MlflowRegistry(server.registry).publish(staged, {})
    where = server.artefact_dir("tampered", out.version)
    readme = where / "README.md"
    readme.write_text(readme.read_text() + "\nan edit\n")
    with pytest.raises(VerificationError, match=r"README\.md"):
        pytest_mlgate.load("models:/tampered/1", registry=server.registry)
    # MLflow's own loader goes through the same check.
    code = "import mlflow; mlflow.pyfunc.load_model('models:/tampered/1')"
    pyfunc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "MLFLOW_TRACKING_URI": server.uri}, timeout=300,
                            check=False)
    assert pyfunc.returncode != 0 and "README.md" in pyfunc.stderr
    # The manifest re-hashed to match: consistent in itself, but not the id the version's tag pins.
    manifest_path = where / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    data = readme.read_bytes()
    manifest["files"]["README.md"] = {"sha256": "sha256:" + hashlib.sha256(data).hexdigest(),
                                      "size": len(data)}
    manifest["artifact_id"] = artifact_id(manifest)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(VerificationError, match=f"not {out.artifact_id}.*MLflow registry pinned"):
        pytest_mlgate.load("tampered", registry=server.registry)
    verify = _cli("verify", "models:/tampered/1", "--registry", server.registry)
    assert verify.returncode == 1 and "FAILED" in verify.stdout and "Traceback" not in verify.stderr
    # MLflow's loader sees a directory, not the version's tag: the pin comes from the consumer
    # (model_config or MLGATE_EXPECT_ID), and then the re-hashed manifest is refused (attacker trial).
    pinned = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "MLFLOW_TRACKING_URI": server.uri,
                                 "MLGATE_EXPECT_ID": out.artifact_id}, check=False)
    assert pinned.returncode != 0 and out.artifact_id in pinned.stderr, pinned.stderr[-2000:]


# -- what is not there, or not ours ------------------------------------------------------------

def test_unknown_model_alias_and_version_are_named(server: Server, published: Published) -> None:
    reg = server.registry
    with pytest.raises(RegistryError, match="no registered model 'nosuch'"):
        pytest_mlgate.load("nosuch@production", registry=reg)
    with pytest.raises(RegistryError, match=r"'iris' has no alias 'canary'.*aliases: production"):
        pytest_mlgate.load("models:/iris@canary", registry=reg)
    with pytest.raises(RegistryError, match="'iris' has no version '99'"):
        pytest_mlgate.load("models:/iris/99", registry=reg)
    cli = _cli("show", "iris@canary", "--registry", reg)
    assert cli.returncode == 2 and "no alias 'canary'" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_versions_not_published_by_mlgate_are_refused(server: Server, published: Published,
                                                      tmp_path: Path) -> None:
    client = server.client()
    client.create_registered_model("foreign")
    run = client.create_run(client.create_experiment("foreign"))
    (tmp_path / "model.txt").write_text("not an artefact")
    client.log_artifacts(run.info.run_id, str(tmp_path), "model")
    client.create_model_version("foreign", f"{run.info.artifact_uri}/model", run.info.run_id)
    with pytest.raises(RegistryError, match="not published by pytest-mlgate"):
        pytest_mlgate.load("models:/foreign/1", registry=server.registry)
    # An orphan: registered by a publisher that died before its commit point.
    first = client.get_model_version("iris", str(published.version))
    orphan = client.create_model_version("iris", first.source, first.run_id, tags={
        ID_TAG: published.artifact_id, STATUS_TAG: PUBLISHING})
    with pytest.raises(RegistryError, match="orphan"):
        pytest_mlgate.load(f"models:/iris/{orphan.version}", registry=server.registry)
    latest = pytest_mlgate.load("iris", registry=server.registry)  # latest skips the orphan
    assert (latest.predict(published.X) == published.model.predict(published.X)).all()
    listing = _cli("list", "--registry", server.registry)
    assert f"version(s) {orphan.version} are orphans" in listing.stderr
    assert "iris" in listing.stdout and f"latest->{published.version}" in listing.stdout


def test_an_unreachable_server_is_named(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(RegistryError, match=f"tracking server {uri} is unreachable"):
        pytest_mlgate.load("iris@production", registry=f"mlflow:{uri}")
    cli = _cli("verify", "models:/iris@production", "--registry", f"mlflow:{uri}")
    assert cli.returncode == 2 and f"{uri} is unreachable" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_a_tracking_uri_with_a_mistyped_scheme_is_named_not_a_traceback(tmp_path: Path) -> None:
    """mlflow:htp://... ended in a KeyError traceback from MLflow's store registry, on the
    command line and in a gate-mode run (attacker trial)."""
    cli = _cli("show", "iris", "--registry", "mlflow:htp://127.0.0.1:5977")
    assert cli.returncode == 2 and "'htp' is not a tracking URI scheme" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr
    with pytest.raises(RegistryError, match="'htp' is not a tracking URI scheme"):
        pytest_mlgate.load("iris", registry="mlflow:htp://127.0.0.1:5977")


def test_without_mlflow_an_mlflow_registry_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    with pytest.raises(RegistryError, match=r"pip install 'pytest-mlgate\[mlflow\]'"):
        pytest_mlgate.load("iris", registry="mlflow:http://127.0.0.1:5000")


# -- the command line ----------------------------------------------------------------------------

def test_cli_serves_verifies_and_promotes_against_mlflow(server: Server, published: Published,
                                                         tmp_path: Path) -> None:
    reg = server.registry
    verify = _cli("verify", "models:/iris@production", "--registry", reg, "--public-key",
                  str(published.public_key))
    assert verify.returncode == 0, verify.stderr
    assert published.artifact_id in verify.stdout and "signature valid" in verify.stdout
    with serving("models:/iris@production", "--registry", reg) as served:
        health = request(served.url + "/health").json()
        assert health["artifact_id"] == published.artifact_id
        rows = published.X.head(5)
        answer = request(served.url + "/invocations", {"dataframe_split": {
            "columns": list(rows.columns), "data": rows.values.tolist()}}).json()
        assert answer["predictions"] == published.model.predict(rows).tolist()
    container = _cli("container", "iris@production", str(tmp_path / "ctx"), "--registry", reg)
    assert container.returncode == 0, container.stderr
    assert (tmp_path / "ctx" / "artifact" / "manifest.json").is_file()
    promote = _cli("promote", "iris", str(published.version), "--alias", "champion",
                   "--registry", reg)
    assert promote.returncode == 0, promote.stderr
    assert server.client().get_model_version_by_alias("iris", "champion").version == str(
        published.version)


def test_an_mlflow_registry_without_a_tracking_uri_stops_the_run_at_start_up(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_model=GATED_TESTS)
    result = run_pytest(pytester, "--mlgate", "--mlgate-deliver", "--mlgate-registry=mlflow:")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlgate-registry = mlflow:*names no tracking server*"
                                 "mlflow:http://127.0.0.1:5000*"])
    assert "passed" not in result.stdout.str()


CRASHING_PUBLISHER = '''
import os, signal, sys
from pathlib import Path
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from pytest_mlgate.delivery import stage_candidate
from pytest_mlgate.delivery import mlflow_registry

X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500, C=0.5).fit(X, y)
staged = stage_candidate(model, name="crash", example=X.head(3), staging_dir=Path("staging"))
reg = mlflow_registry.MlflowRegistry(sys.argv[1])
if sys.argv[2] == "crash":
    # The publisher dies once the version is registered, before its commit point.
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    reg._download = die
reg.publish(staged, {}, aliases=["production"])
'''


def test_a_publisher_killed_after_registering_moves_nothing(server: Server,
                                                            tmp_path: Path) -> None:
    script = tmp_path / "publish.py"
    script.write_text(CRASHING_PUBLISHER)
    run = [sys.executable, str(script), server.registry]
    first = subprocess.run([*run, "ok"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    killed = subprocess.run([*run, "crash"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    client = server.client()
    assert client.get_model_version("crash", "2").tags[STATUS_TAG] == PUBLISHING
    assert client.get_model_version_by_alias("crash", "production").version == "1"
    reg = MlflowRegistry(server.registry)
    assert reg.aliases("crash") == {"latest": 1, "production": 1}
    with pytest.raises(RegistryError, match="orphan"):
        pytest_mlgate.load("models:/crash/2", registry=server.registry)
