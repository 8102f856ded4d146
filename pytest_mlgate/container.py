"""``mlgate container``: a build context that serves one verified artefact, and the Kubernetes
manifests that run it.

OUTDIR receives ``Containerfile`` (a slim official Python image of the artefact's Python
version, a non-root user, ``HEALTHCHECK`` on ``/ping``, ``mlgate serve`` as the entry point),
``requirements.txt`` (what loading and serving need, each pinned to the version the artefact's
recorded environment had), ``artifact/`` (the artefact, copied and verified again against its
id) and ``kubernetes.yaml`` (Deployment with readiness and liveness probes on ``/ping`` and
memory requests from the run's measured ``rss_peak_mb``, Service, HorizontalPodAutoscaler).
Everything is written into a temporary directory beside OUTDIR and renamed into place.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ServeError
from pytest_mlgate.strict_json import quoted

PORT = 8080
UID = 10001
APP_DIR = "/srv"
ARTIFACT_DIR = f"{APP_DIR}/artifact"
# What `mlgate serve` needs besides pytest-mlgate's own dependencies: its `serve` extra.
SERVE_REQUIREMENTS = ("starlette", "uvicorn")
BUILDERS = ("docker", "podman", "buildah")
DEFAULT_MEMORY_MIB = 512  # requested when the run measured no rss_peak_mb
MEMORY_HEADROOM = 1.5  # request = measured peak RSS x this; the limit is twice the request


@dataclass(frozen=True)
class Context:
    """What was written: the build context directory and the facts it was made from."""

    path: Path
    name: str
    version: int | None
    artifact_id: str
    image: str
    base_image: str
    memory_mib: int
    rss_peak_mb: float | None
    unpinned: tuple[str, ...]  # requirements whose version is not in the artefact's environment


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(environment: Mapping[str, Any], extra_roots: Sequence[str] = ()
                 ) -> tuple[list[str], list[str]]:
    """Pinned lines for pytest-mlgate, the serve extra and ``extra_roots`` with everything they
    need (from the installed distributions' metadata), at the versions in ``environment``
    (``environment.json``). Returns the lines and the names pinned from this machine instead."""
    from importlib import metadata

    from packaging.requirements import Requirement

    recorded = {_normal(k): str(v) for k, v in (environment.get("distributions") or {}).items()}
    todo = ["pytest-mlgate", *SERVE_REQUIREMENTS, *extra_roots]
    seen: dict[str, str] = {}
    while todo:
        name = todo.pop()
        key = _normal(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            seen[key] = name
            continue
        seen[key] = dist.metadata["Name"] or name
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(req.name)
    lines, unpinned = [], []
    for key, name in sorted(seen.items()):
        version = recorded.get(key)
        if version is None:
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
            unpinned.append(name)
        lines.append(f"{name}=={version}")
    return lines, unpinned


def _model_roots(untrusted: Sequence[str]) -> list[str]:
    """Distributions providing the modules of the model's custom types (xgboost, lightgbm...)."""
    from importlib import metadata

    providers = metadata.packages_distributions()
    roots = []
    for qualname in untrusted:
        for dist in providers.get(qualname.split(".", 1)[0], ()):
            roots.append(dist)
    return sorted(set(roots))


def memory_mib(run: Mapping[str, Any]) -> tuple[int, float | None]:
    """The memory request (MiB) from the highest ``rss_peak_mb`` the run recorded."""
    from pytest_mlgate.delivery.card import metric_rows

    peaks = [float(r["value"]) for r in metric_rows(run) if r["name"] == "rss_peak_mb"
             and isinstance(r.get("value"), (int, float)) and math.isfinite(float(r["value"]))]
    if not peaks:
        return DEFAULT_MEMORY_MIB, None
    peak = max(peaks)
    return max(64, math.ceil(peak * MEMORY_HEADROOM / 16.0) * 16), peak


def containerfile(*, base_image: str, name: str, artifact_id: str, trusted: Sequence[str]) -> str:
    entry = ["mlgate", "serve", ARTIFACT_DIR, "--host", "0.0.0.0", "--port", str(PORT)]
    if trusted:
        entry += ["--trusted", *trusted]
    probe = ("import sys, urllib.request; sys.exit(urllib.request.urlopen("
             f"'http://127.0.0.1:{PORT}/ping', timeout=2).status != 200)")
    return "\n".join([
        f"# The model {name} ({artifact_id}), served by mlgate serve. Written by `mlgate container`.",
        f"FROM {base_image}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1",
        f"RUN useradd --create-home --uid {UID} --user-group mlgate",
        f"WORKDIR {APP_DIR}",
        "COPY requirements.txt ./",
        "RUN python -m pip install --no-cache-dir -r requirements.txt",
        # Read-only for the server's user: it verifies every file at start-up anyway.
        f"COPY artifact/ {ARTIFACT_DIR}/",
        f"LABEL org.opencontainers.image.title={quoted(name)} "
        f"io.mlgate.artifact-id={quoted(artifact_id)}",
        f"USER {UID}",
        f"EXPOSE {PORT}",
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 "
        f"CMD {quoted(['python', '-c', probe])}",
        f"ENTRYPOINT {quoted(entry)}",
        "",
    ])


def kubernetes(*, name: str, image: str, artifact_id: str, memory: int) -> str:
    """A Deployment, a Service and a HorizontalPodAutoscaler, as YAML documents."""
    app = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63] or "model"
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "mlgate"}
    probe = {"httpGet": {"path": "/ping", "port": PORT}}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app, "labels": labels,
                     "annotations": {"mlgate.io/artifact-id": artifact_id}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": {
                "metadata": {"labels": labels,
                             "annotations": {"mlgate.io/artifact-id": artifact_id}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": UID},
                    "containers": [{
                        "name": app, "image": image,
                        "ports": [{"name": "http", "containerPort": PORT}],
                        "readinessProbe": {**probe, "initialDelaySeconds": 2, "periodSeconds": 5},
                        "livenessProbe": {**probe, "initialDelaySeconds": 30, "periodSeconds": 10,
                                          "failureThreshold": 3},
                        "resources": {"requests": {"cpu": "250m", "memory": f"{memory}Mi"},
                                      "limits": {"memory": f"{2 * memory}Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True},
                    }],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "labels": labels},
        "spec": {"selector": {"app.kubernetes.io/name": app},
                 "ports": [{"name": "http", "port": 80, "targetPort": PORT}]},
    }
    hpa = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": app, "labels": labels},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                 "minReplicas": 2, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
    }
    head = (f"# {name} ({artifact_id}) served by mlgate serve; `kubectl apply -f kubernetes.yaml`.\n"
            f"# Memory request: {memory}Mi, from the run's measured peak RSS (see docs/container.md).\n")
    return head + "---\n".join(_yaml(doc) for doc in (deployment, service, hpa))


def _yaml(obj: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (scalars as JSON, which YAML reads)."""
    pad = " " * indent
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:\n{_yaml(v, indent + 2)}")
            else:
                out.append(f"{pad}{k}: {quoted(v)}\n")
        return "".join(out)
    if isinstance(obj, list):
        out = []
        for v in obj:
            if isinstance(v, dict) and v:
                body = _yaml(v, indent + 2)
                out.append(f"{pad}- {body[indent + 2:]}")
            else:
                out.append(f"{pad}- {quoted(v)}\n")
        return "".join(out)
    return f"{pad}{quoted(obj)}\n"


def write_context(ref: str, outdir: str | os.PathLike[str], *,
                  registry: str | os.PathLike[str] | None, base_image: str | None = None,
                  tag: str | None = None, trusted: Sequence[str] | None = None) -> Context:
    """Verify ``ref`` and write its build context into ``outdir`` (which must not exist, or be
    an empty directory)."""
    from pytest_mlgate.delivery.card import trusted_for_load
    from pytest_mlgate.delivery.registries import locate_ref
    from pytest_mlgate.delivery.registry import open_verified
    from pytest_mlgate.delivery.verify import Pin, open_artifact
    from pytest_mlgate.strict_json import loads

    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ServeError(f"OUTDIR {os.fspath(outdir)!r} is a file, not a directory; give a new path, "
                         "so nothing of yours is overwritten.")
    if out.exists() and any(out.iterdir()):
        raise ServeError(f"OUTDIR {os.fspath(outdir)!r} exists and is not an empty directory; "
                         "give a new path, so nothing of yours is overwritten.")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ServeError(f"{os.fspath(parent)!r} in OUTDIR {os.fspath(outdir)!r} is a file, not a directory.")
    located = locate_ref(ref, registry)
    verified = open_verified(located, read=["environment.json", "run.json"])
    manifest = verified.manifest
    name = str(manifest.get("name"))
    environment = loads(verified.files["environment.json"])
    run = loads(verified.files["run.json"])
    python = str(environment.get("python", ""))
    major_minor = ".".join(python.split(".")[:2]) if re.match(r"\d+\.\d+", python) else "3"
    base = base_image or f"python:{major_minor}-slim"
    recorded = trusted_for_load(manifest.get("model")) or []
    trust = list(trusted) if trusted is not None else recorded
    lines, unpinned = requirements(environment, _model_roots(
        [t for t in trust if t not in ("joblib", "pickle")]))
    memory, peak = memory_mib(run if isinstance(run, dict) else {})
    version = located.version
    image = tag or f"{name.lower()}:{version if version is not None else 'latest'}"
    try:  # as `mkdir -p`: the docs' `mlgate container NAME build/NAME` on a fresh project
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServeError(f"cannot create the directory {os.fspath(out.parent)!r} for OUTDIR: "
                         f"{exc.strerror or exc}") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a context is not
        shutil.copytree(located.path, tmp / "artifact", symlinks=True)
        # The copy is what the image will serve: it must be the artefact that verified.
        open_artifact(tmp / "artifact", pins=[Pin(verified.artifact_id, "of the artefact copied")])
        note = "".join(f"# {n}: not in the artefact's recorded environment; version of this machine\n"
                       for n in unpinned)
        (tmp / "requirements.txt").write_text(
            f"# What loading and serving {name} need, pinned to the artefact's recorded "
            "environment.\n" + note + "\n".join(lines) + "\n", encoding="utf-8")
        (tmp / "Containerfile").write_text(containerfile(
            base_image=base, name=name, artifact_id=verified.artifact_id, trusted=trust),
            encoding="utf-8")
        (tmp / "kubernetes.yaml").write_text(kubernetes(
            name=name, image=image, artifact_id=verified.artifact_id, memory=memory),
            encoding="utf-8")
        (tmp / ".dockerignore").write_text("kubernetes.yaml\n", encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Context(path=out, name=name, version=version, artifact_id=verified.artifact_id,
                   image=image, base_image=base, memory_mib=memory, rss_peak_mb=peak,
                   unpinned=tuple(unpinned))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def builder(path_env: str | None = None) -> list[str]:
    """The command that builds a context: the first of docker, podman, buildah on PATH."""
    for tool in BUILDERS:
        found = shutil.which(tool, path=path_env)
        if found:
            return [found, "bud" if tool == "buildah" else "build"]
    raise ServeError("--build needs docker, podman or buildah on PATH, and none was found; "
                     "install one, or build the context written here with your own tooling.")


def build(context: Context, tag: str) -> None:
    cmd = [*builder(), "-f", str(context.path / "Containerfile"), "-t", tag, str(context.path)]
    if subprocess.run(cmd, check=False).returncode != 0:
        raise ServeError(f"{' '.join(cmd)} failed (its output is above); the context in "
                         f"{context.path} is complete, fix the cause and build it again.")
