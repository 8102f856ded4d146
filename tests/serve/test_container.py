"""``mlgate container``: the build context and manifests for a model published by a real
gate-mode run. No image builder here: the context's own entry point is started against the
copied artefact and answers /ping; kubernetes.yaml is parsed as Kubernetes would read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_mlgate.delivery import LocalRegistry

from .helpers import publish_by_run, request, serving


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_by_run(tmp_path_factory.mktemp("project"))


def container(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "container", *args],
                          capture_output=True, text=True, check=False, timeout=120, env=env)


@pytest.fixture(scope="module")
def context(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ctx") / "breast-cancer"
    proc = container("breast-cancer@latest", str(out), "--registry", str(registry))
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    return out


def _instructions(context: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (context / "Containerfile").read_text().splitlines():
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.setdefault(word, []).append(rest)
    return out


def test_the_containerfile_runs_mlgate_serve_as_a_non_root_user_with_a_health_check(
        context: Path) -> None:
    ins = _instructions(context)
    assert ins["FROM"] == [f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"]
    (user,) = ins["USER"]
    assert user not in ("root", "0")
    (health,) = ins["HEALTHCHECK"]
    assert "/ping" in health and "CMD" in health
    entry = json.loads(ins["ENTRYPOINT"][0])
    assert entry[:3] == ["mlgate", "serve", "/srv/artifact"] and "0.0.0.0" in entry
    assert ins["COPY"] == ["requirements.txt ./", "artifact/ /srv/artifact/"]


def test_requirements_pin_what_loading_and_serving_need_from_the_recorded_environment(
        context: Path, registry: Path) -> None:
    artefact = LocalRegistry(registry).artifact("breast-cancer@latest")
    recorded = json.loads((artefact.path / "environment.json").read_text())["distributions"]
    pins = dict(line.split("==") for line in (context / "requirements.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    for name in ("pytest-mlgate", "scikit-learn", "numpy", "pandas", "scipy", "skops",
                 "starlette", "uvicorn"):
        assert pins[name] == recorded[name], name
    # test-only tools of the project that published it are not needed to serve
    assert not {"pytest-xdist", "statsmodels", "mlflow", "lightgbm"} & set(pins)


def test_the_artifact_is_a_verified_copy(context: Path, registry: Path) -> None:
    from pytest_mlgate.delivery import verify_artifact

    artefact = LocalRegistry(registry).artifact("breast-cancer@latest")
    assert verify_artifact(context / "artifact", expect_id=artefact.artifact_id)


def test_kubernetes_yaml_has_probes_resources_a_service_and_an_autoscaler(
        context: Path, registry: Path) -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all((context / "kubernetes.yaml").read_text())}
    assert set(docs) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    (box,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert box[probe]["httpGet"] == {"path": "/ping", "port": 8080}
    assert box["image"] == "breast-cancer:1"
    run = json.loads((LocalRegistry(registry).artifact("breast-cancer@1").path / "run.json").read_text())
    rss = max(m["value"] for t in run["tests"] for m in t["metrics"] if m["name"] == "rss_peak_mb")
    memory = int(box["resources"]["requests"]["memory"].removesuffix("Mi"))
    assert rss <= memory <= rss * 1.5 + 16
    assert docs["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    selector = docs["Deployment"]["spec"]["selector"]["matchLabels"]
    assert docs["Service"]["spec"]["selector"] == selector
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == 8080
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": docs["Deployment"]["metadata"]["name"]}
    assert hpa["minReplicas"] <= hpa["maxReplicas"]


def test_the_entry_point_serves_the_copied_artefact(context: Path, registry: Path) -> None:
    entry = json.loads(_instructions(context)["ENTRYPOINT"][0])
    assert entry[:2] == ["mlgate", "serve"]
    # As the image would run it, with the context's artefact in place of /srv/artifact and a
    # free loopback port in place of 0.0.0.0:8080.
    args = [str(context / "artifact") if a == "/srv/artifact" else a for a in entry[2:]]
    args = [a for a in args if a not in ("--host", "0.0.0.0", "--port", "8080")]
    with serving(args[0], *args[1:], cwd=context) as srv:
        assert request(f"{srv.url}/ping").status == 200
        health = request(f"{srv.url}/health").json()
        assert health["artifact_id"] == LocalRegistry(registry).artifact("breast-cancer@1").artifact_id


def test_an_existing_outdir_is_never_overwritten(registry: Path, tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    proc = container("breast-cancer", str(out), "--registry", str(registry))
    assert proc.returncode == 2 and "not an empty directory" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_outdir_parents_are_made_and_a_file_is_named_as_a_file(registry: Path, tmp_path: Path) -> None:
    """The docs' `mlgate container NAME build/NAME` failed on a fresh project (no build/), and a
    file as OUTDIR was called "not an empty directory" (new-user and attacker trials)."""
    proc = container("breast-cancer", str(tmp_path / "build" / "bc"), "--registry", str(registry))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build" / "bc" / "Containerfile").is_file()
    (tmp_path / "afile").write_text("keep")
    for target in (tmp_path / "afile", tmp_path / "afile" / "ctx"):
        proc = container("breast-cancer", str(target), "--registry", str(registry))
        assert proc.returncode == 2 and "is a file, not a directory" in proc.stderr, proc.stderr
    assert (tmp_path / "afile").read_text() == "keep"


def test_build_without_a_builder_says_so_and_writes_nothing(registry: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    proc = container("breast-cancer", str(tmp_path / "ctx"), "--registry", str(registry),
                     "--build", "bc:1", env=env)
    assert proc.returncode == 2
    assert "docker, podman or buildah" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ctx").exists()
