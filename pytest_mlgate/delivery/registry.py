"""The local registry: numbered, immutable artefact versions in a directory tree.

::

    <root>/.lock                      held while a version number is taken or an alias moves
    <root>/.staging/<token>/          an artefact being built; <token>.lock is held by its owner
    <root>/<name>/<version>/          a published artefact (renamed in whole, never edited)
    <root>/<name>/aliases/<alias>.json  {"version": N, ...}, replaced atomically
    <root>/<name>/history.jsonl       append-only log of publishes and alias moves

A version directory appears only through one ``rename`` of a complete, fsynced, verified staging
directory, so a reader never sees a partial version, whatever happens to the publisher.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.atomic import fsync_dir, write_json
from pytest_mlgate.delivery.artifact import (
    MANIFEST,
    build_manifest,
    validate_alias,
    validate_name,
)
from pytest_mlgate.delivery.staging import PROFILE_FILE, StagedCandidate
from pytest_mlgate.errors import ArtifactError, MlgateError, RegistryError, VerificationError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no owner locks, so staging is never reaped
    fcntl = None  # type: ignore[assignment]

DEFAULT_REGISTRY = ".mlgate/registry"
STAGING = ".staging"
LOCK = ".lock"
ALIASES = "aliases"
HISTORY = "history.jsonl"
LATEST = "latest"
LOCK_TIMEOUT_S = 600.0
# Seconds to sleep between publish steps; only the crash-safety tests set it.
STEP_DELAY_ENV = "MLGATE_TEST_PUBLISH_STEP_DELAY"


@dataclass(frozen=True)
class PublishedArtifact:
    """A version that is in the registry: where it is and what its manifest says."""

    name: str
    version: int
    path: Path
    artifact_id: str
    manifest: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def parse_ref(ref: str) -> tuple[str, str]:
    """``"name"`` -> ``(name, "latest")``; ``"name@x"`` -> ``(name, x)``."""
    name, _, which = ref.partition("@")
    try:
        validate_name(name)
    except ArtifactError as exc:
        raise RegistryError(f"bad reference {ref!r}: {exc}") from None
    return name, which or LATEST


def resolve_ref(ref: str | Path, registry: str | Path | None = None) -> Path:
    """An artefact directory: ``ref`` itself when it is a path to one, else ``name``,
    ``name@latest``, ``name@<alias>`` or ``name@<version>`` in ``registry``
    (default ``.mlgate/registry``)."""
    text = os.fspath(ref)
    path = Path(text)
    looks_like_path = isinstance(ref, Path) or "/" in text or os.sep in text or text in (".", "..")
    if looks_like_path or (path.is_dir() and (path / MANIFEST).is_file()):
        if not path.is_dir():
            raise RegistryError(f"artefact path {text!r} does not exist or is not a directory.")
        return path
    return LocalRegistry(registry if registry is not None else DEFAULT_REGISTRY).resolve(text)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _jsonable(obj: Any) -> Any:
    """Opaque run data made strict-JSON safe: non-finite floats become None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def _write_new(path: Path, data: bytes, written: list[Path] | None = None) -> None:
    """Create ``path`` (it must not exist) and write it; fsync now, or later when the caller
    collects it in ``written``."""
    with open(path, "xb") as fh:
        fh.write(data)
        if written is None:
            fh.flush()
            os.fsync(fh.fileno())
    if written is not None:
        written.append(path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` to ``dst`` (no copy on one filesystem), else copy and fsync. Returns
    whether ``dst`` still needs an fsync (a link shares the staged, unsynced pages)."""
    try:
        os.link(src, dst)
    except OSError:
        with open(src, "rb") as fin, open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        return False
    return True


@functools.cache
def _environment() -> dict[str, Any]:
    """Installed distributions (about 0.3 s to list); they do not change during one process."""
    from pytest_mlgate.provenance import environment_info

    return environment_info(all_distributions=True)


def _step(label: str) -> None:
    delay = os.environ.get(STEP_DELAY_ENV)
    if delay:
        time.sleep(float(delay))


def _check_in_place(path: Path, manifest: Mapping[str, Any]) -> None:
    from pytest_mlgate.delivery.verify import read_manifest

    on_disk = read_manifest(path)
    if on_disk["artifact_id"] != manifest["artifact_id"]:
        raise VerificationError(f"{path}: the published manifest is not the one just written.")
    for rel, entry in on_disk["files"].items():
        if (path / rel).stat().st_size != int(entry["size"]):
            raise VerificationError(f"{path}: file {rel!r} changed size after publishing.")


class _StagingArea:
    """A fresh directory under ``<root>/.staging`` whose owner holds ``<token>.lock`` while alive,
    so a later publisher can tell leftovers of killed publishers from work in progress."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.fd = -1
        self.lock_path = base
        self.dir = base

    def __enter__(self) -> Path:
        for _ in range(10):
            token = uuid.uuid4().hex
            lock_path = self.base / f"{token}.lock"
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            # A reaper may have taken and unlinked the fresh lock file before we locked it.
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd, self.lock_path, self.dir = fd, lock_path, self.base / token
                self.dir.mkdir()
                return self.dir
            os.close(fd)
        raise RegistryError(f"could not create a staging directory in {self.base}")

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(self.lock_path)
        os.close(self.fd)


def reap_staging(base: Path) -> list[str]:
    """Remove staging directories whose owner is gone (its lock is free); return their names."""
    if fcntl is None or not base.is_dir():
        return []
    removed: list[str] = []
    for entry in os.scandir(base):
        if entry.name.endswith(".lock"):
            try:
                fd = os.open(entry.path, os.O_RDWR)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its owner is alive
                try:
                    same = os.stat(entry.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    token = entry.name[: -len(".lock")]
                    shutil.rmtree(base / token, ignore_errors=True)
                    os.unlink(entry.path)
                    removed.append(token)
            finally:
                os.close(fd)
        elif entry.is_dir(follow_symlinks=False) and not (base / f"{entry.name}.lock").exists():
            # Owners create the lock before the directory and drop it after removing the
            # directory, so a directory without a lock is a reaper's or owner's unfinished removal.
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


class LocalRegistry:
    """A registry in a local (or network) directory; see the module docstring for the layout."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- reading -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Model names with at least one version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and self.versions(p.name))

    def versions(self, name: str) -> list[int]:
        """Published version numbers of ``name``, ascending."""
        d = self.root / validate_name(name)
        if not d.is_dir():
            return []
        return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit() and p.is_dir())

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version for ``name``."""
        d = self.root / validate_name(name) / ALIASES
        out: dict[str, int] = {}
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                if p.name.startswith("."):
                    continue
                with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                    out[p.stem] = int(json.loads(p.read_text(encoding="utf-8"))["version"])
        return out

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every publish and alias move of ``name``, oldest first."""
        path = self.root / validate_name(name) / HISTORY
        if not path.is_file():
            return []
        events = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):  # a line torn by a crash mid-append
                events.append(json.loads(line))
        return events

    def resolve(self, ref: str) -> Path:
        """The directory of ``name``, ``name@latest``, ``name@<alias>`` or ``name@<version>``."""
        name, which = parse_ref(ref)
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"no published versions of {name!r} in registry {self.root} "
                                f"(names there: {known}). Publish with `pytest --mlgate "
                                "--mlgate-deliver`, or pass --registry PATH.")
        if which.isdigit():
            if int(which) not in versions:
                raise RegistryError(f"{name!r} has no version {which} in {self.root}; versions: "
                                    f"{', '.join(map(str, versions))}.")
            return self.root / name / str(int(which))
        aliases = self.aliases(name)
        if which == LATEST and (LATEST not in aliases or aliases[LATEST] not in versions):
            return self.root / name / str(versions[-1])
        if which not in aliases:
            raise RegistryError(f"{name!r} has no alias {which!r} in {self.root}; aliases: "
                                f"{', '.join(sorted(aliases)) or 'none'}.")
        return self.root / name / str(aliases[which])

    def artifact(self, ref: str) -> PublishedArtifact:
        """The published artefact ``ref`` names, with its manifest (hashes not checked)."""
        from pytest_mlgate.delivery.verify import read_manifest

        path = self.resolve(ref)
        manifest = read_manifest(path)
        return PublishedArtifact(name=path.parent.name, version=int(path.name), path=path,
                                 artifact_id=str(manifest["artifact_id"]), manifest=manifest)

    # -- writing -------------------------------------------------------------------------------
    def publish(self, staged: StagedCandidate, run: Mapping[str, Any], *,
                aliases: Sequence[str] = ()) -> PublishedArtifact:
        """Build, verify and load the artefact in staging, then rename it in as the next version
        and move ``latest`` (and ``aliases``) to it. Raises RegistryError, ArtifactError or
        VerificationError with nothing published."""
        name = validate_name(staged.name)
        extra = [validate_alias(a) for a in aliases if a != LATEST]
        if not staged.model_path.is_file():
            raise ArtifactError(f"the staged model {staged.model_path} is missing; it must stay "
                                "in place until the session that staged it has published it.")
        base = self._prepare()
        reap_staging(base)
        from concurrent.futures import ThreadPoolExecutor

        try:
            with _StagingArea(base) as work, ThreadPoolExecutor(max_workers=8) as io:
                model_path = work / staged.model_file
                # Flush the model's pages in the background (the disk works while the CPU
                # builds and checks the artefact). Every file is fsynced, the small ones
                # together so the filesystem batches them, before the rename: the commit point.
                syncs = ([io.submit(_fsync_file, model_path)]
                         if _place(staged.model_path, model_path) else [])
                _step("model")
                manifest, written = self._build(work, staged, run)
                _step("built")
                self._self_check(work, manifest, staged)
                _step("checked")
                syncs += [io.submit(_fsync_file, p) for p in written]
                for done in syncs:
                    done.result()
                fsync_dir(work)
                _step("synced")
                version = self._commit(work, name, manifest, extra)
        except OSError as exc:
            raise RegistryError(f"publishing {name!r} to {self.root} failed: {exc}. Check the "
                                "disk has space and the registry directory is writable; nothing "
                                "was published.") from exc
        final = self.root / name / str(version)
        # The bytes were verified and loaded just before the rename, which moves the same files;
        # re-read the manifest and sizes at the final path rather than hashing everything again.
        _check_in_place(final, manifest)
        return PublishedArtifact(name=name, version=version, path=final,
                                 artifact_id=str(manifest["artifact_id"]), manifest=manifest)

    def promote(self, name: str, version: int, alias: str) -> None:
        """Point ``alias`` of ``name`` at ``version`` (atomically) and log the move."""
        validate_name(name)
        validate_alias(alias)
        self._prepare()
        with self._lock():
            if int(version) not in self.versions(name):
                raise RegistryError(f"{name!r} has no version {version} in {self.root}; versions: "
                                    f"{', '.join(map(str, self.versions(name))) or 'none'}.")
            self._move_alias(name, alias, int(version))

    # -- internals -----------------------------------------------------------------------------
    def _prepare(self) -> Path:
        base = self.root / STAGING
        try:
            base.mkdir(parents=True, exist_ok=True)
            # An unnamed file where the system has them (O_TMPFILE): a publisher killed here
            # leaves nothing behind.
            tempfile.TemporaryFile(dir=base).close()
        except OSError as exc:
            raise RegistryError(
                f"cannot write to the registry {self.root}: {exc.strerror or exc}. Point "
                "--mlgate-registry (ini mlgate_registry) at a writable directory.") from exc
        return base

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(self.root / LOCK), timeout=LOCK_TIMEOUT_S):
                yield
        except Timeout as exc:
            raise RegistryError(f"registry {self.root} stayed locked for {LOCK_TIMEOUT_S:.0f} s; "
                                f"is another publisher stuck? Remove {self.root / LOCK} only if "
                                "no publisher is running.") from exc

    def _build(self, work: Path, staged: StagedCandidate,
               run: Mapping[str, Any]) -> tuple[dict[str, Any], list[Path]]:
        """Write every file but the model, manifest last; returns it and the files to fsync."""
        from pytest_mlgate import __version__
        from pytest_mlgate.delivery.card import render_card
        from pytest_mlgate.provenance import git_info

        src = Path(staged.directory)
        written: list[Path] = []
        if staged.example_file:
            example = (src / staged.example_file).read_bytes()
            _write_new(work / staged.example_file, example, written)
        if staged.has_profile:
            _write_new(work / PROFILE_FILE, (src / PROFILE_FILE).read_bytes(), written)
        run_info: Mapping[str, Any] = run["run"] if isinstance(run.get("run"), Mapping) else {}
        run_git = run_info.get("git")
        git: dict[str, Any] = dict(run_git) if isinstance(run_git, Mapping) else git_info()
        created = _now()
        meta: dict[str, Any] = {
            "name": staged.name,
            "created": created,
            "mlgate_version": __version__,
            "format": staged.format,
            "model": {"file": staged.model_file, "format": staged.format,
                      "sha256": staged.content_hash,
                      # What loading asks the consumer to trust; `load` never reads it.
                      "untrusted_types": list(staged.untrusted_types)},
            "example_file": staged.example_file,
            "profile_file": PROFILE_FILE if staged.has_profile else None,
            "git": {"commit": git.get("commit"), "dirty": git.get("dirty"),
                    "branch": git.get("branch")},
            "card": staged.card,
            "data": staged.data,
        }
        _write_new(work / "signature.json", _json_bytes(staged.signature or {}), written)
        _write_new(work / "data.json", _json_bytes(staged.data), written)
        _write_new(work / "environment.json", _json_bytes(_environment()), written)
        _write_new(work / "provenance.json", _json_bytes({
            "git": git, "created": created, "mlgate_version": __version__,
            "run": {k: v for k, v in run_info.items() if k != "git"},
            "notes": list(staged.notes)}), written)
        _write_new(work / "run.json", _json_bytes(run), written)
        _write_new(work / "README.md", render_card(
            name=staged.name, manifest_meta=meta, run=run, card=staged.card, data=staged.data,
            signature=staged.signature).encode("utf-8"), written)
        _step("files")
        size = staged.model_path.stat().st_size
        known = {staged.model_file: {"sha256": staged.content_hash, "size": size}}
        manifest = build_manifest(work, _jsonable(meta), known=known)
        # The manifest goes last: an artefact without one is never trusted. The directory is
        # fsynced once every file is, before the rename: doing it here would wait for the
        # model's pages to reach the disk before the checks could start.
        _write_new(work / MANIFEST, _json_bytes(manifest), written)
        return manifest, written

    def _self_check(self, work: Path, manifest: Mapping[str, Any], staged: StagedCandidate) -> None:
        """Verify every hash, load the model and predict on the stored example: what `load` does
        later, so an artefact that fails it is never published. The skops types trusted here
        are the ones this run's own model consists of; `load` never trusts them by itself."""
        from concurrent.futures import ThreadPoolExecutor

        from pytest_mlgate.delivery.artifact import hash_file
        from pytest_mlgate.delivery.serialize import decode_example, deserialize_model, same_outputs
        from pytest_mlgate.delivery.verify import verify_and_read

        model_path = work / staged.model_file
        error: Exception | None = None
        model: Any = None
        # Hash (hashlib releases the GIL) while skops loads: two cores, one pass each. The file
        # is in this publisher's own staging directory, so loading it from disk is safe here.
        with ThreadPoolExecutor(max_workers=1) as pool:
            digest = pool.submit(hash_file, model_path)
            try:
                # Staging recorded the types the model holds: one load, trusting those.
                model = deserialize_model(model_path, staged.format,
                                          list(staged.untrusted_types) or None)
            except Exception as exc:
                error = exc
            hashed = {staged.model_file: digest.result()[0]}
        try:
            verify_and_read(work, hashed=hashed)
        except VerificationError as exc:
            raise VerificationError(f"the staged model of {staged.name!r} changed after staging "
                                    f"or was written incompletely: {exc}") from exc
        if error is not None:
            raise ArtifactError(f"the packaged model of {staged.name!r} does not load back: "
                                f"{error}") from error
        outputs = (staged.signature or {}).get("outputs")
        if staged.example_file and outputs is not None:
            example = decode_example(staged.example_file, (work / staged.example_file).read_bytes())
            if not same_outputs(outputs, model.predict(example)):
                raise ArtifactError(f"the packaged model of {staged.name!r} predicts differently "
                                    "on the stored example than the model given to candidate(); "
                                    "it does not survive serialization, nothing was published.")

    def _commit(self, work: Path, name: str, manifest: Mapping[str, Any],
                aliases: Sequence[str]) -> int:
        """Under the registry lock: take the next version number, rename, log, move aliases."""
        with self._lock():
            name_dir = self.root / name
            if not name_dir.is_dir():  # a first publish: the new name must survive a crash too
                name_dir.mkdir()
                fsync_dir(self.root)
            self._reconcile(name)
            version = max(self.versions(name), default=0) + 1
            final = name_dir / str(version)
            os.rename(work, final)
            fsync_dir(name_dir)
            fsync_dir(work.parent)
            _step("renamed")
            self._log(name, {"event": "publish", "version": version,
                             "artifact_id": manifest["artifact_id"],
                             "content_hash": manifest["model"]["sha256"]})
            _step("logged")
            for alias in (LATEST, *aliases):
                self._move_alias(name, alias, version)
                _step("alias")
        return version

    def _move_alias(self, name: str, alias: str, version: int) -> None:
        d = self.root / name / ALIASES
        previous = self.aliases(name).get(alias)
        write_json(d / f"{alias}.json", {"alias": alias, "version": version, "moved": _now()})
        self._log(name, {"event": "alias", "alias": alias, "version": version,
                         "previous": previous})

    def _log(self, name: str, event: dict[str, Any]) -> None:
        """Append one line with a single write on an O_APPEND descriptor, then fsync."""
        line = (json.dumps({"time": _now(), **event}, sort_keys=True) + "\n").encode()
        path = self.root / name / HISTORY
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _reconcile(self, name: str) -> None:
        """Repair what a publisher killed between its rename and its log line left behind:
        log versions the history lacks, drop torn alias temp files. Runs under the lock."""
        path = self.root / name / HISTORY
        if path.is_file():
            raw = path.read_bytes()
            if raw and not raw.endswith(b"\n"):
                # Terminate a torn last line so the next event starts on its own line.
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, b"\n")
                    os.fsync(fd)
                finally:
                    os.close(fd)
        logged = {e.get("version") for e in self.history(name) if e.get("event") == "publish"}
        for v in self.versions(name):
            if v not in logged:
                with contextlib.suppress(MlgateError, OSError):
                    m = json.loads((self.root / name / str(v) / MANIFEST).read_text("utf-8"))
                    self._log(name, {"event": "publish", "version": v,
                                     "artifact_id": m.get("artifact_id"),
                                     "content_hash": (m.get("model") or {}).get("sha256"),
                                     "recovered": True})
        adir = self.root / name / ALIASES
        if adir.is_dir():
            for p in adir.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()
