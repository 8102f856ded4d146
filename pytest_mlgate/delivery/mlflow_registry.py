"""The MLflow Model Registry as a registry (``mlflow:<tracking URI>``): publish a verified
artefact as a registered model version, move aliases, record deploys, and locate a reference
(``name``, ``name@alias``, ``name@version``, ``models:/name@alias``, ``models:/name/version``)
by downloading the version's artefact into a temporary directory and pinning the artefact id its
``mlgate.artifact_id`` tag records.

MLflow has no transactions, so a publish is a sequence of calls with one commit point:

1. the artefact is built and verified locally, as for the local registry, and logged with its
   ``MLmodel`` as the artifacts of a run (experiment named after the model);
2. a model version is created from them, tagged ``mlgate.artifact_id`` and
   ``mlgate.status = publishing`` in the same call;
3. the artefact is downloaded back and verified against that id;
4. the tag ``mlgate.status`` is set to ``published``: the **commit point**. A version without
   it (the publisher died, or step 3 failed) is an orphan: never ``latest``, never given an
   alias, refused when loaded, and tagged so that it can be found and deleted.

Aliases move afterwards, one ``set_registered_model_alias`` call each, only to committed
versions; ``latest`` is not an MLflow alias (MLflow reserves the name): it means the newest
committed version. mlflow is imported on first use (the ``mlflow`` extra).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.delivery.artifact import validate_alias, validate_name
from pytest_mlgate.delivery.registry import (
    LATEST,
    VERSION,
    LocalRegistry,
    Located,
    PublishedArtifact,
    alias_request,
    open_verified,
    parse_ref,
)
from pytest_mlgate.delivery.registry_uri import (
    MLFLOW_PREFIX,
    MODELS_PREFIX,
    is_mlflow,
    is_models_uri,
    tracking_uri,
)
from pytest_mlgate.delivery.staging import StagedCandidate
from pytest_mlgate.delivery.verify import ID_PATTERN, Pin, VerifiedArtifact
from pytest_mlgate.errors import MlgateError, RegistryError, VerificationError
from pytest_mlgate.strict_json import dumps

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

ID_TAG = "mlgate.artifact_id"
STATUS_TAG = "mlgate.status"
PUBLISHING, PUBLISHED = "publishing", "published"
DEPLOY_TAG = "mlgate.deploy."
MODEL_DIR = "model"
_HEALTH_TIMEOUT_S = 10.0
_READY_TIMEOUT_S = 300.0
_KEY = re.compile(r"[^0-9A-Za-z_\-. /]")  # what MLflow accepts in a metric or tag key


@dataclass(frozen=True)
class MlflowRef:
    """A reference against an MLflow registry: a model name and an alias, a version or latest."""

    name: str
    which: str  # "latest", an alias, or a version number

    @property
    def label(self) -> str:
        return f"{self.name}@{self.which}"


def parse_mlflow_ref(ref: str) -> MlflowRef:
    """``models:/name@alias``, ``models:/name/3``, ``name``, ``name@alias`` or ``name@3``;
    RegistryError naming what is malformed."""
    text = ref
    if is_models_uri(text):
        body = text[len(MODELS_PREFIX):]
        name, slash, version = body.partition("/")
        if slash:
            if not VERSION.match(version) and version != LATEST:
                raise RegistryError(f"bad reference {ref!r}: after models:/{name}/ comes a "
                                    "version number (models:/NAME/3), or use models:/NAME@ALIAS.")
            text = f"{name}@{version}"
        else:
            text = body
    name, which = parse_ref(text)
    return MlflowRef(name, which)


def locate_mlflow(ref: str, registry: str | None) -> Located:
    """Download what ``ref`` names from the MLflow registry ``registry`` (``mlflow:URI``; for a
    ``models:/`` reference with no MLflow registry given, the MLFLOW_TRACKING_URI environment
    variable) into a temporary directory, with the id the version's tag pins."""
    if not is_mlflow(registry):
        import os

        env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
        if not env:
            raise RegistryError(f"{ref!r} is an MLflow model URI, but no MLflow registry is named: "
                                "pass registry='mlflow:http://HOST:PORT' (--registry on the "
                                "command line), or set MLFLOW_TRACKING_URI.")
        registry = MLFLOW_PREFIX + env
    assert registry is not None
    return MlflowRegistry(registry).locate(ref)


def _download_dir(label: str) -> Path:
    """A fresh directory for one download (named after ``label``, for messages), removed when
    the process ends."""
    path = Path(tempfile.mkdtemp(prefix=f"mlgate-mlflow-{_KEY.sub('_', label)[:80]}-"))
    atexit.register(shutil.rmtree, path, True)
    return path


class _StagingRegistry(LocalRegistry):
    """The local registry that builds and self-checks the artefact before it goes to MLflow;
    its model card names the MLflow registry as where the model was published."""

    def __init__(self, root: Path, named: str) -> None:
        super().__init__(root)
        self._named = named

    def _as_named_from(self, rootdir: Any) -> str | None:
        return self._named


class MlflowRegistry:
    """A registry on an MLflow tracking server (``mlflow:<tracking URI>``); the same calls as
    ``LocalRegistry`` where delivery and the loaders use them."""

    def __init__(self, registry: str) -> None:
        self.registry = registry
        self.uri = tracking_uri(registry)
        self.root = registry  # for messages, as LocalRegistry.root
        self._client: MlflowClient | None = None

    # -- the connection ------------------------------------------------------------------------
    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._reachable()
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def _reachable(self) -> None:
        """RegistryError naming the URI when an HTTP tracking server does not answer /health
        (MLflow's own client would retry for minutes first)."""
        if not self.uri.startswith(("http://", "https://")):
            return
        url = self.uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=_HEALTH_TIMEOUT_S) as response:
                response.read(64)
        except urllib.error.HTTPError as exc:
            raise RegistryError(f"the MLflow tracking server {self.uri} answered {url} with HTTP "
                                f"{exc.code}; check the registry URI ({self.registry}).") from None
        except (OSError, ValueError) as exc:
            why = getattr(exc, "reason", None) or exc
            raise RegistryError(f"the MLflow tracking server {self.uri} is unreachable ({why}); "
                                "start it, or fix the registry URI "
                                f"({self.registry}).") from None

    @contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        """MLflow's exceptions as RegistryError saying what was being done."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except MlflowException as exc:
            raise RegistryError(f"{what} on the MLflow registry {self.uri} failed: "
                                f"{str(exc)[:500]}") from None

    # -- reading -------------------------------------------------------------------------------
    def version(self, name: str, which: str) -> ModelVersion:
        """The model version ``which`` (a number, an alias, or latest) of ``name``."""
        from mlflow.exceptions import MlflowException

        client = self.client
        try:
            client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise RegistryError(f"no registered model {name!r} in the MLflow registry "
                                    f"{self.uri}.") from None
            raise RegistryError(f"looking up {name!r} in the MLflow registry {self.uri} failed: "
                                f"{str(exc)[:500]}") from None
        if which == LATEST:
            committed = self.committed(name)
            if not committed:
                raise RegistryError(f"{name!r} in the MLflow registry {self.uri} has no version "
                                    "published by pytest-mlgate (publish with `pytest --mlgate "
                                    "--mlgate-deliver`).")
            return committed[-1]
        try:
            if VERSION.match(which):
                return client.get_model_version(name, which)
            return client.get_model_version_by_alias(name, which)
        except MlflowException:
            kind = "version" if VERSION.match(which) else "alias"
            raise RegistryError(f"{name!r} has no {kind} {which!r} in the MLflow registry "
                                f"{self.uri}; {self._known(name)}.") from None

    def _known(self, name: str) -> str:
        try:
            model = self.client.get_registered_model(name)
            aliases = sorted((model.aliases or {}).keys())
        except Exception:  # only for a message
            aliases = []
        versions = [v.version for v in self._all_versions(name)]
        return (f"versions: {', '.join(map(str, versions)) or 'none'}; aliases: "
                f"{', '.join(aliases) or 'none'}")

    def _all_versions(self, name: str) -> list[ModelVersion]:
        with self._calls(f"listing the versions of {name!r}"):
            found = self.client.search_model_versions(f"name = '{name}'")
        return sorted(found, key=lambda v: int(v.version))

    def committed(self, name: str) -> list[ModelVersion]:
        """Versions of ``name`` whose publish by pytest-mlgate completed, oldest first."""
        return [v for v in self._all_versions(name)
                if (v.tags or {}).get(STATUS_TAG) == PUBLISHED and ID_TAG in (v.tags or {})]

    def orphans(self, name: str) -> list[int]:
        """Versions registered by pytest-mlgate whose publish did not complete."""
        return [int(v.version) for v in self._all_versions(name)
                if (v.tags or {}).get(STATUS_TAG) == PUBLISHING]

    def pin(self, name: str, mv: ModelVersion) -> Pin:
        """The artefact id the version's tag records; RegistryError for a version that is not a
        completed pytest-mlgate publish."""
        tags = mv.tags or {}
        aid = tags.get(ID_TAG)
        where = f"{name} version {mv.version} in the MLflow registry {self.uri}"
        if aid is None:
            raise RegistryError(f"{where} was not published by pytest-mlgate (it has no {ID_TAG} "
                                "tag, so no manifest to verify it against); load it with MLflow, "
                                "or publish with `pytest --mlgate --mlgate-deliver`.")
        if not ID_PATTERN.match(str(aid)):
            raise RegistryError(f"{where} has the tag {ID_TAG} = {str(aid)[:80]!r}, which is not "
                                "an artefact id: the tag was edited. Do not use the version.")
        if tags.get(STATUS_TAG) != PUBLISHED:
            raise RegistryError(f"{where} is an orphan: its publish did not complete (tag "
                                f"{STATUS_TAG} = {tags.get(STATUS_TAG)!r}, not {PUBLISHED!r}), so "
                                "nothing loads it. Delete the version, and publish again.")
        return Pin(str(aid), f"the MLflow registry pinned for {name}@{mv.version} (tag {ID_TAG} "
                             f"at {self.uri})")

    def locate(self, ref: str, *, registry_option: str = "--registry mlflow:URI") -> Located:
        """Download the artefact ``ref`` names into a temporary directory (removed when the
        process ends), with the id the version's tag pins. Nothing is verified yet: the caller
        opens it with ``open_verified``."""
        parsed = parse_mlflow_ref(ref)
        mv = self.version(parsed.name, parsed.which)
        pin = self.pin(parsed.name, mv)
        path = self._download(parsed.name, mv)
        return Located(path=path, label=ref, pin=pin, name=parsed.name, version=int(mv.version))

    def _download(self, name: str, mv: ModelVersion) -> Path:
        from mlflow.artifacts import download_artifacts

        dst = _download_dir(f"{name}-v{mv.version}")
        source = str(mv.source).rstrip("/") + "/" + _artifact_dir()
        with self._calls(f"downloading {name} version {mv.version} ({source})"):
            path = download_artifacts(artifact_uri=source, dst_path=str(dst),
                                      tracking_uri=self.uri)
        return Path(path)

    def open(self, ref: str, *, read: Sequence[str] = (), expect_id: str | None = None,
             public_key: Any = None) -> VerifiedArtifact:
        """``ref`` downloaded and verified against its manifest, the version's id tag (and
        ``expect_id``, and the signature with ``public_key``), as ``LocalRegistry.open``."""
        from pytest_mlgate.delivery.signing import load_public_key

        key: Ed25519PublicKey | None = None if public_key is None else load_public_key(public_key)
        return open_verified(self.locate(ref), read=read, expect_id=expect_id, public_key=key)

    def names(self) -> list[str]:
        with self._calls("listing the registered models"):
            return sorted(m.name for m in self.client.search_registered_models())

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version of ``name`` (``latest``: the newest committed version)."""
        with self._calls(f"reading the aliases of {name!r}"):
            model = self.client.get_registered_model(name)
        out = {a: int(v) for a, v in (model.aliases or {}).items()}
        committed = self.committed(name)
        if committed:
            out[LATEST] = int(committed[-1].version)
        return dict(sorted(out.items()))

    # -- writing -------------------------------------------------------------------------------
    def publish(self, staged: StagedCandidate, run: Mapping[str, Any], *,
                aliases: Sequence[str] = (),
                signing_key: Ed25519PrivateKey | None = None) -> PublishedArtifact:
        """Build and verify the artefact locally, log it to a run, register it as a new version
        and commit (see the module docstring); then move ``aliases``. RegistryError (or the
        build's ArtifactError / VerificationError) saying what happened otherwise."""
        name = validate_name(staged.name)
        extra = [validate_alias(a) for a in aliases if a != LATEST]
        client = self.client
        work = Path(tempfile.mkdtemp(prefix="mlgate-mlflow-publish-"))
        try:
            built = _StagingRegistry(work / "registry", self.registry).publish(
                staged, run, signing_key=signing_key)
            model_dir = work / MODEL_DIR
            shutil.copytree(built.path, model_dir / _artifact_dir(), symlinks=True)
            from pytest_mlgate.delivery.mlflow_model import write_mlflow_model
            from pytest_mlgate.strict_json import loads as loads_strict

            environment = loads_strict((built.path / "environment.json").read_bytes())
            write_mlflow_model(model_dir, environment if isinstance(environment, dict) else {})
            aid = built.artifact_id
            nothing = "nothing was registered"
            with self._calls(f"logging the run of {name!r} ({nothing})"):
                run_id, source = self._log_run(client, name, built, run, model_dir)
            with self._calls(f"registering {name!r} ({nothing}; the run {run_id} holds the "
                             "artefact)"):
                self._ensure_model(client, name)
                mv = client.create_model_version(name, source=source, run_id=run_id,
                                                 tags={ID_TAG: aid, STATUS_TAG: PUBLISHING,
                                                       **_version_tags(run)},
                                                 await_creation_for=0)
                mv = self._ready(client, mv)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        version = int(mv.version)
        orphan = (f"{name} version {version} is registered but not published (tag {STATUS_TAG} = "
                  f"{PUBLISHING}: an orphan nothing loads; delete it)")
        try:
            located = Located(path=self._download(name, mv), label=f"{name}@{version}",
                              pin=Pin(aid, "just published"), name=name, version=version)
            verified = open_verified(located)
        except MlgateError as exc:
            raise VerificationError(f"{orphan}: downloading it back did not verify: {exc}") from exc
        with self._calls(f"committing {name} version {version} ({orphan})"):
            client.set_model_version_tag(name, str(version), STATUS_TAG, PUBLISHED)
        published = PublishedArtifact(name=name, version=version, path=located.path,
                                      artifact_id=aid, manifest=verified.manifest)
        if extra:
            self.move_aliases(name, version, extra)
        return published

    def _log_run(self, client: MlflowClient, name: str, built: PublishedArtifact,
                 run: Mapping[str, Any], model_dir: Path) -> tuple[str, str]:
        """A finished run of the experiment ``name`` holding ``model_dir``: its id and the
        artifact URI of the model directory."""
        from mlflow.entities import Metric, Param

        experiment = client.get_experiment_by_name(name)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else client.create_experiment(name))
        git_info = built.manifest.get("git")
        git: Mapping[str, Any] = git_info if isinstance(git_info, dict) else {}
        commit = str(git.get("commit") or "")
        tags = {ID_TAG: built.artifact_id, "mlflow.runName": f"mlgate {name}"}
        if commit:
            tags["mlflow.source.git.commit"] = commit
        created = client.create_run(experiment_id, tags=tags)
        run_id = created.info.run_id
        params = {"artifact_id": built.artifact_id, "git_commit": commit or "unknown",
                  "format": str(built.manifest.get("format")),
                  "mlgate_version": str(built.manifest.get("mlgate_version"))}
        metrics = _run_metrics(run)
        now = int(time.time() * 1000)
        client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()],
                         metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])
        client.log_artifacts(run_id, str(model_dir), MODEL_DIR)
        with contextlib.redirect_stdout(io.StringIO()):  # MLflow prints the run's URL there
            client.set_terminated(run_id)
        return run_id, f"{created.info.artifact_uri.rstrip('/')}/{MODEL_DIR}"

    @staticmethod
    def _ready(client: MlflowClient, mv: ModelVersion) -> ModelVersion:
        """``mv`` once its status is READY (a server may register asynchronously); waits
        quietly (MLflow's own wait logs to stderr)."""
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while mv.status != "READY":
            if mv.status == "FAILED_REGISTRATION" or time.monotonic() > deadline:
                raise RegistryError(f"MLflow did not register {mv.name} version {mv.version} "
                                    f"(status {mv.status}: {mv.status_message or 'no message'}); "
                                    "nothing was published.")
            time.sleep(0.2)
            mv = client.get_model_version(mv.name, mv.version)
        return mv

    @staticmethod
    def _ensure_model(client: MlflowClient, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            try:
                client.create_registered_model(name)
            except MlflowException as again:  # made meanwhile by a concurrent publisher
                if again.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise

    def promote(self, name: str, version: int, alias: str) -> None:
        self.move_aliases(name, version, [alias])

    def move_aliases(self, name: str, version: int, aliases: Sequence[str]) -> None:
        """Point each alias at ``version``, a committed pytest-mlgate version, one call each:
        MLflow cannot move several at once, so RegistryError says which moved."""
        wanted = alias_request(name, version, aliases)
        if not wanted:
            return
        self.pin(name, self.version(name, str(version)))  # only a committed version
        moved: list[str] = []
        for alias in wanted:
            left = [a for a in wanted if a not in moved]
            done = f" ({', '.join(moved)} moved already)" if moved else ""
            with self._calls(f"moving {', '.join(left)} of {name!r} to version {version}{done}"):
                self.client.set_registered_model_alias(name, alias, str(version))
            moved.append(alias)

    def record_deploy(self, published: PublishedArtifact, target: str, status: str,
                      message: str = "") -> None:
        """Tag the version with a deploy result (``mlgate.deploy.N``: target, status, message)."""
        with self._calls(f"recording the deploy of {published.ref}"):
            mv = self.client.get_model_version(published.name, str(published.version))
            n = 1 + sum(1 for k in (mv.tags or {}) if k.startswith(DEPLOY_TAG))
            value = dumps({"target": target, "status": status, "message": message[-300:]})[:4900]
            self.client.set_model_version_tag(published.name, str(published.version),
                                              f"{DEPLOY_TAG}{n}", value)


def _artifact_dir() -> str:
    from pytest_mlgate.delivery.mlflow_model import ARTIFACT_DIR

    return ARTIFACT_DIR


def _number(x: Any) -> float | None:
    import math

    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        value = float(x)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _run_metrics(run: Mapping[str, Any]) -> dict[str, float]:
    """Each recorded metric of the run that is a finite number, keyed by its name (with the
    test's name when several tests record one name), in MLflow's key alphabet."""
    from pytest_mlgate.delivery.card import metric_rows

    rows = metric_rows(run)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["name"]] = counts.get(r["name"], 0) + 1
    out: dict[str, float] = {}
    for r in rows:
        value = _number(r.get("value"))
        if value is None:
            continue
        test = r["test"].rsplit("::", 1)[-1]
        key = r["name"] if counts[r["name"]] == 1 else f"{test}/{r['name']}"
        out[_KEY.sub("_", key)[:250]] = value
    return out


def _version_tags(run: Mapping[str, Any]) -> dict[str, str]:
    """The run's verdicts and metrics as version tags: ``mlgate.gate.<gate>`` and
    ``mlgate.metric.<name>``."""
    tags: dict[str, str] = {}
    if isinstance(run.get("verdict"), str):
        tags["mlgate.verdict"] = str(run["verdict"])[:100]
    gates_info = run.get("gates")
    gates: Mapping[str, Any] = gates_info if isinstance(gates_info, Mapping) else {}
    for gate, info in gates.items():
        verdict = info.get("verdict") if isinstance(info, Mapping) else None
        if isinstance(verdict, str):
            tags[f"mlgate.gate.{_KEY.sub('_', str(gate))[:100]}"] = verdict[:100]
    for key, value in _run_metrics(run).items():
        tags[f"mlgate.metric.{key}"[:250]] = repr(value)
    return tags
