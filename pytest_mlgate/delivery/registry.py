"""The local registry: numbered, immutable artefact versions in a directory tree.

::

    <root>/.lock                        held while a version number is taken or an alias moves
    <root>/.staging/<token>/            an artefact being built
    <root>/.staging/<token>.lock        held (flock) by the operation that owns <token> while it
                                        lives; holds the operation's journal while it commits
    <root>/<name>/<version>/            a published artefact (renamed in whole, never edited)
    <root>/<name>/aliases/<alias>.json  {"alias", "version", "artifact_id", "moved"}
    <root>/<name>/history.jsonl         append-only log: publishes, alias moves, deploys

Every change is one operation under the registry lock: it writes its journal (what it will
append to the history and which alias files it will write), makes its changes, and commits by
appending its first history line. The history pins each version's artefact id; alias records
pin it too, and every consumer compares the artefact against the pin. An operation whose
process dies is finished (committed) or undone (not committed) by the next operation, so a
publish or promote happens completely or not at all.

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
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate import atomic
from pytest_mlgate.defaults import DEFAULT_REGISTRY
from pytest_mlgate.delivery.artifact import (
    MANIFEST,
    NAME_RULE,
    PROFILE_FILE,
    build_manifest,
    validate_alias,
    validate_name,
)
from pytest_mlgate.delivery.operation import (
    MAX_JOURNAL_BYTES,
    Operation,
    claim_dead,
    read_journal,
    reap_staging,
)
from pytest_mlgate.delivery.signing import SIGNATURE_FILE, sign_manifest
from pytest_mlgate.delivery.staging import StagedCandidate
from pytest_mlgate.delivery.verify import ID_PATTERN, Pin, VerifiedArtifact, open_artifact
from pytest_mlgate.errors import ArtifactError, RegistryError, VerificationError
from pytest_mlgate.strict_json import loads as loads_strict

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no owner locks, so staging is never reaped
    fcntl = None  # type: ignore[assignment]

STAGING = ".staging"
LOCK = ".lock"
ALIASES = "aliases"
HISTORY = "history.jsonl"
LATEST = "latest"
LOCK_TIMEOUT_S = 600.0
VERSION = re.compile(r"[1-9][0-9]{0,17}\Z")  # ASCII digits, no leading zero, fits in 63 bits
_MAX_ALIAS_BYTES = 1 << 16


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


@dataclass(frozen=True)
class Located:
    """Where a reference points, and the artefact id it must have (None: a path outside any
    registry, which only an ``expect_id`` can pin)."""

    path: Path
    label: str
    pin: Pin | None
    name: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class AliasRecord:
    alias: str
    version: int
    artifact_id: str | None  # None in alias files written before ids were pinned


@dataclass
class NameState:
    """What the registry holds for one model name, read without the lock. ``problems`` are
    damaged state files, each a message naming the file and the fix."""

    name: str
    dir: Path
    versions: list[int]
    pins: dict[int, str]
    conflicts: dict[int, str]
    aliases: dict[str, AliasRecord]
    bad_aliases: dict[str, str]
    events: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)

    @property
    def published(self) -> list[int]:
        """Versions with a publish record (newest last): what ``latest`` chooses from."""
        return [v for v in self.versions if v in self.pins]

    def pin(self, version: int) -> Pin:
        """The id the history pins for ``version``; RegistryError when there is none."""
        history = self.dir / HISTORY
        if version in self.conflicts:
            raise RegistryError(f"{history} records two different artefact ids for {self.name} "
                                f"version {version} ({self.conflicts[version]}): the history was "
                                "edited. Restore it from a backup; until then the version is not "
                                "loaded.")
        if version not in self.pins:
            damage = f" ({'; '.join(self.problems)})" if self.problems else ""
            raise RegistryError(
                f"{self.name} version {version} has no publish record in {history}, so the "
                f"registry pins no artefact id for it{damage}: its publish did not complete, or "
                "the history was damaged. Restore history.jsonl from a backup, or load the "
                "directory by path with expect_id='sha256:...' if you know its id.")
        return Pin(self.pins[version], f"the registry pinned for {self.name}@{version} "
                                       f"(in {history})")


def parse_ref(ref: str) -> tuple[str, str]:
    """``"name"`` -> ``(name, "latest")``; ``"name@x"`` -> ``(name, x)``; RegistryError when
    the name, version or alias is malformed."""
    if not isinstance(ref, str):
        raise RegistryError(f"a reference must be a string such as 'churn@production', got "
                            f"{type(ref).__name__}.")
    name, _, which = ref.partition("@")
    try:
        validate_name(name)
        if which and not VERSION.match(which) and which != LATEST:
            validate_alias(which)
    except ArtifactError as exc:
        raise RegistryError(f"bad reference {ref!r}: {exc}") from None
    return name, which or LATEST


def looks_like_path(ref: str | os.PathLike[str]) -> bool:
    """Whether ``ref`` names a directory rather than a registry entry: a Path, or text with a
    path separator, ``.``/``..``, or ``~``. A bare name always means the registry."""
    if isinstance(ref, os.PathLike):
        return True
    text = str(ref)
    seps = [s for s in ("/", os.sep, os.altsep) if s]
    return any(s in text for s in seps) or text in (".", "..") or text.startswith("~")


def locate_ref(ref: str | os.PathLike[str], registry: str | os.PathLike[str] | None = None) -> Located:
    """Where ``ref`` points and the artefact id it must have. A path (see ``looks_like_path``)
    is that directory; when it is a version inside a registry, that registry's pin applies. A
    bare ``name``, ``name@alias`` or ``name@<version>`` is looked up in ``registry`` (default
    ``.mlgate/registry``), never in the working directory."""
    if looks_like_path(ref):
        text = os.fspath(ref)
        path = Path(text).expanduser()
        if not path.is_dir():
            raise RegistryError(f"artefact path {text!r} does not exist or is not a directory.")
        return Located(path=path, label=text, pin=_pin_for_path(path))
    text = str(ref)
    try:
        return LocalRegistry(registry if registry is not None else DEFAULT_REGISTRY).locate(text)
    except RegistryError as exc:
        name = text.partition("@")[0]
        if name and Path(name).exists():
            raise RegistryError(f"{exc} (A bare name always means the registry; to use the "
                                f"directory {name!r} here, write ./{name}.)") from None
        raise


def resolve_ref(ref: str | os.PathLike[str], registry: str | os.PathLike[str] | None = None) -> Path:
    """The artefact directory ``ref`` names (see ``locate_ref``)."""
    return locate_ref(ref, registry).path


def _pin_for_path(path: Path) -> Pin | None:
    """The registry's pin when ``path`` is ``<registry>/<name>/<version>`` with a history."""
    real = path.resolve()
    if not VERSION.match(real.name) or not (real.parent / HISTORY).is_file():
        return None
    try:
        validate_name(real.parent.name)
    except ArtifactError:
        return None  # not a model directory of a registry
    state = LocalRegistry(real.parent.parent).state(real.parent.name)
    return state.pin(int(real.name))


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


def _write_new(path: Path, data: bytes, written: list[Path]) -> None:
    """Create ``path`` (it must not exist) holding ``data``; the caller fsyncs ``written``."""
    atomic.create(path, data, sync=False)
    written.append(path)


@functools.cache
def _environment() -> dict[str, Any]:
    """Installed distributions (about 0.3 s to list); they do not change during one process."""
    from pytest_mlgate.provenance import environment_info

    return environment_info(all_distributions=True)


def _check_in_place(path: Path, manifest: Mapping[str, Any]) -> None:
    from pytest_mlgate.delivery.verify import read_manifest

    on_disk = read_manifest(path)
    if on_disk["artifact_id"] != manifest["artifact_id"]:
        raise VerificationError(f"{path}: the published manifest is not the one just written.")
    for rel, entry in on_disk["files"].items():
        if (path / rel).stat().st_size != int(entry["size"]):
            raise VerificationError(f"{path}: file {rel!r} changed size after publishing.")


def _parse_alias_file(path: Path) -> AliasRecord:
    """One alias record; ValueError saying what is wrong."""
    with open(path, "rb") as fh:
        raw = fh.read(_MAX_ALIAS_BYTES + 1)
    if len(raw) > _MAX_ALIAS_BYTES:
        raise ValueError("it is far larger than an alias record")
    try:
        record = loads_strict(raw)
    except RecursionError:
        raise ValueError("it is nested too deeply to be an alias record") from None
    if not isinstance(record, dict):
        raise ValueError("it is not a JSON object")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not VERSION.match(str(version)):
        raise ValueError(f"its version {str(version)[:40]!r} is not a version number")
    aid = record.get("artifact_id")
    if aid is not None and not (isinstance(aid, str) and ID_PATTERN.match(aid)):
        raise ValueError(f"its artifact_id {str(aid)[:80]!r} is not a sha256 id")
    return AliasRecord(alias=path.stem, version=version, artifact_id=aid)


def _event_ok(event: Any) -> bool:
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return False
    version = event.get("version")
    if "version" in event and (not isinstance(version, int) or isinstance(version, bool)
                               or not VERSION.match(str(version))):
        return False
    aid = event.get("artifact_id")
    if event["event"] == "publish":
        return "version" in event and isinstance(aid, str) and bool(ID_PATTERN.match(aid))
    if event["event"] == "alias":
        return "version" in event and isinstance(event.get("alias"), str)
    return True


def read_history(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The events of a history file and, as messages, the lines that are damaged. A torn last
    line (a writer killed mid-append) is skipped silently; it never blocks anything."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path} cannot be read ({exc.strerror or exc})"]
    lines = raw.split(b"\n")
    events: list[dict[str, Any]] = []
    bad: list[int] = []
    for number, line in enumerate(lines[:-1], 1):  # lines[-1] is "" or a torn line
        if not line.strip():
            continue
        try:
            event = loads_strict(line)
        except (UnicodeDecodeError, ValueError, RecursionError):
            event = None
        if _event_ok(event):
            events.append(event)
        else:
            bad.append(number)
    problems = []
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        problems.append(f"{path}: line(s) {shown} are not history records and were skipped; "
                        "restore the file from a backup to pin the versions they described")
    return events, problems


class LocalRegistry:
    """A registry in a local (or network) directory; see the module docstring for the layout."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Model names with at least one version directory."""
        if not self.root.is_dir():
            return []
        out = []
        for p in self.root.iterdir():
            if p.name.startswith(".") or not p.is_dir():
                continue
            with contextlib.suppress(OSError):
                if any(VERSION.match(c.name) and c.is_dir() for c in p.iterdir()):
                    out.append(p.name)
        return sorted(out)

    def state(self, name: str) -> NameState:
        """Versions, pins, aliases and damage of ``name``. RegistryError for a folder named like
        a version that is not one (a lookalike digit, a leading zero): it must be removed."""
        d = self.root / validate_name(name)
        versions: list[int] = []
        try:
            entries = list(d.iterdir()) if d.is_dir() else []
        except OSError as exc:
            raise RegistryError(f"cannot list {d}: {exc.strerror or exc}; check the registry "
                                "is readable.") from None
        if entries:
            for p in entries:
                if VERSION.match(p.name):
                    if p.is_dir():
                        versions.append(int(p.name))
                elif p.name[:1].isdigit() or p.name[:1] == "0":
                    raise RegistryError(
                        f"registry folder {p} is named like a version but is not one (versions "
                        "are ASCII digits without a leading zero, made only by publish). Remove "
                        "or rename it.")
        events, problems = read_history(d / HISTORY)
        pins: dict[int, str] = {}
        conflicts: dict[int, str] = {}
        for e in events:
            if e["event"] == "publish":
                v, aid = e["version"], e["artifact_id"]
                if pins.setdefault(v, aid) != aid:
                    conflicts[v] = f"{pins[v]} and {aid}"
        aliases: dict[str, AliasRecord] = {}
        bad_aliases: dict[str, str] = {}
        adir = d / ALIASES
        if adir.is_dir():
            for p in sorted(adir.iterdir()):
                if p.name.startswith(".") or p.suffix != ".json":
                    continue
                try:
                    aliases[p.stem] = _parse_alias_file(p)
                except (OSError, UnicodeDecodeError, ValueError) as exc:
                    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    bad_aliases[p.stem] = (
                        f"alias file {p} is damaged ({why[:200]}); rewrite it with `mlgate "
                        f"promote {name} VERSION --alias {p.stem}`, or delete it")
        problems += list(bad_aliases.values())
        return NameState(name=name, dir=d, versions=sorted(versions), pins=pins,
                         conflicts=conflicts, aliases=aliases, bad_aliases=bad_aliases,
                         events=events, problems=problems)

    def versions(self, name: str) -> list[int]:
        """Version numbers of ``name`` with a directory, ascending."""
        return self.state(name).versions

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version for ``name`` (damaged alias files left out; see ``state``)."""
        return {a: r.version for a, r in self.state(name).aliases.items()}

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every publish, alias move and deploy of ``name``, oldest first."""
        return self.state(name).events

    def locate(self, ref: str) -> Located:
        """Where ``name``, ``name@latest``, ``name@<alias>`` or ``name@<version>`` points, with
        the artefact id the registry pinned for it."""
        name, which = parse_ref(ref)
        state = self.state(name)
        versions = state.versions
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"no published versions of {name!r} in registry {self.root} "
                                f"(names there: {known}). Publish with `pytest --mlgate "
                                "--mlgate-deliver`, or pass --registry PATH.")
        label = f"{name}@{which}"
        if VERSION.match(which):
            version = int(which)
            if version not in versions:
                raise RegistryError(f"{name!r} has no version {which} in {self.root}; versions: "
                                    f"{', '.join(map(str, versions))}.")
            pin = state.pin(version)
        elif which == LATEST:
            published = state.published
            version = published[-1] if published else versions[-1]
            pin = state.pin(version)  # with nothing published: raises, saying why
        else:
            if which in state.bad_aliases:
                raise RegistryError(state.bad_aliases[which])
            if which not in state.aliases:
                raise RegistryError(f"{name!r} has no alias {which!r} in {self.root}; aliases: "
                                    f"{', '.join(sorted(state.aliases)) or 'none'}.")
            record = state.aliases[which]
            version = record.version
            where = state.dir / ALIASES / f"{which}.json"
            if version not in versions:
                raise RegistryError(f"alias file {where} points at version {version}, which is not "
                                    f"in the registry; point it at a published version with "
                                    f"`mlgate promote {name} VERSION --alias {which}`.")
            pin = _alias_pin(state, record, where)
        return Located(path=state.dir / str(version), label=label, pin=pin, name=name,
                       version=version)

    def resolve(self, ref: str) -> Path:
        """The directory of ``name``, ``name@latest``, ``name@<alias>`` or ``name@<version>``."""
        return self.locate(ref).path

    def open(self, ref: str, *, read: Sequence[str] = (), expect_id: str | None = None,
             public_key: Ed25519PublicKey | None = None) -> VerifiedArtifact:
        """``ref`` verified against its manifest, its pinned id (and ``expect_id``, and the
        signature when ``public_key`` is given), with the bytes of the files in ``read``."""
        located = self.locate(ref)
        return open_verified(located, read=read, expect_id=expect_id, public_key=public_key)

    def artifact(self, ref: str) -> PublishedArtifact:
        """The published artefact ``ref`` names, verified against its pinned id."""
        located = self.locate(ref)
        verified = open_verified(located)
        assert located.name is not None and located.version is not None
        return PublishedArtifact(name=located.name, version=located.version, path=located.path,
                                 artifact_id=verified.artifact_id, manifest=verified.manifest)

    # -- writing -------------------------------------------------------------------------------
    def publish(self, staged: StagedCandidate, run: Mapping[str, Any], *,
                aliases: Sequence[str] = (),
                signing_key: Ed25519PrivateKey | None = None) -> PublishedArtifact:
        """Build, verify and load the artefact in staging, then, as one operation, rename it in
        as the next version, record it (pinning its id) and move ``latest`` and ``aliases`` to
        it. With ``signing_key``, ``manifest.sig`` signs the manifest. RegistryError,
        ArtifactError or VerificationError otherwise; the message says whether anything was
        published."""
        name = validate_name(staged.name)
        extra = list(dict.fromkeys(validate_alias(a) for a in aliases if a != LATEST))
        if not staged.model_path.is_file():
            raise ArtifactError(f"the staged model {staged.model_path} is missing; it must stay "
                                "in place until the session that staged it has published it.")
        base = self._prepare()
        reap_staging(base)
        from concurrent.futures import ThreadPoolExecutor

        nothing = ("Check the disk has space and the registry directory is writable; nothing "
                   "was published.")
        try:
            with Operation(base) as op, ThreadPoolExecutor(max_workers=8) as io:
                work = op.dir
                model_path = work / staged.model_file
                # Flush the model's pages in the background (the disk works while the CPU
                # builds and checks the artefact). Every file is fsynced, the small ones
                # together so the filesystem batches them, before the rename.
                syncs = ([io.submit(atomic.fsync_file, model_path)]
                         if atomic.link_or_copy(staged.model_path, model_path) else [])
                manifest, written = self._build(work, staged, run, signing_key)
                self._self_check(work, manifest, staged, signing_key)
                syncs += [io.submit(atomic.fsync_file, p) for p in written]
                for done in syncs:
                    done.result()
                atomic.fsync_dir(work)
                version = self._commit(op, name, manifest, extra)
        except OSError as exc:
            raise RegistryError(f"publishing {name!r} to {self.root} failed: {exc}. "
                                f"{nothing}") from exc
        final = self.root / name / str(version)
        # The bytes were verified and loaded just before the rename, which moves the same files;
        # re-read the manifest and sizes at the final path rather than hashing everything again.
        try:
            _check_in_place(final, manifest)
        except (OSError, VerificationError) as exc:
            raise VerificationError(f"{name!r} version {version} was published, but re-reading "
                                    f"it at {final} failed: {exc}. Check it with `mlgate verify "
                                    f"{name}@{version}` before using it.") from exc
        return PublishedArtifact(name=name, version=version, path=final,
                                 artifact_id=str(manifest["artifact_id"]), manifest=manifest)

    def promote(self, name: str, version: int, alias: str) -> None:
        """Point ``alias`` of ``name`` at ``version`` and log the move, as one operation."""
        self.move_aliases(name, version, [alias])

    def move_aliases(self, name: str, version: int, aliases: Sequence[str]) -> None:
        """Point every alias in ``aliases`` at ``version`` as one operation: all move and are
        logged, or none does (RegistryError saying which)."""
        validate_name(name)
        wanted = list(dict.fromkeys(validate_alias(a) for a in aliases))
        if LATEST in wanted:
            raise RegistryError(f"alias {LATEST!r} always follows the newest published version of "
                                f"{name!r} and cannot be moved by hand; promote another alias "
                                "(such as production) instead.")
        if not wanted:
            return
        base = self._prepare()
        with self._lock(), Operation(base, make_dir=False) as op:
            self._recover(base)
            state = self.state(name)
            if int(version) not in state.versions:
                raise RegistryError(f"{name!r} has no version {version} in {self.root}; versions: "
                                    f"{', '.join(map(str, state.versions)) or 'none'}.")
            pin = state.pin(int(version))
            events = [self._alias_event(state, alias, int(version), pin.artifact_id)
                      for alias in wanted]
            self._apply(op, name, "alias", int(version), pin.artifact_id, events,
                        what=f"moving {', '.join(wanted)} of {name!r} to version {version}")

    def record_deploy(self, published: PublishedArtifact, target: str, status: str,
                      message: str = "") -> None:
        """Append a deploy result (``ok``, ``failed``, ``timed out``) of ``published`` to the
        history; RegistryError when it cannot be written."""
        base = self._prepare()
        event = {"event": "deploy", "version": published.version,
                 "artifact_id": published.artifact_id, "target": target, "status": status,
                 "message": message[-500:]}
        with self._lock(), Operation(base, make_dir=False) as op:
            self._recover(base)
            self._apply(op, published.name, "deploy", published.version, published.artifact_id,
                        [event], what=f"recording the deploy of {published.ref}")

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

    def _build(self, work: Path, staged: StagedCandidate, run: Mapping[str, Any],
               signing_key: Ed25519PrivateKey | None) -> tuple[dict[str, Any], list[Path]]:
        """Write every file but the model, manifest last (and its signature); returns the
        manifest and the files to fsync."""
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
        size = staged.model_path.stat().st_size
        known = {staged.model_file: {"sha256": staged.content_hash, "size": size}}
        manifest = build_manifest(work, _jsonable(meta), known=known)
        # The manifest goes last: an artefact without one is never trusted. The directory is
        # fsynced once every file is, before the rename: doing it here would wait for the
        # model's pages to reach the disk before the checks could start.
        manifest_bytes = _json_bytes(manifest)
        _write_new(work / MANIFEST, manifest_bytes, written)
        if signing_key is not None:
            _write_new(work / SIGNATURE_FILE, sign_manifest(signing_key, manifest_bytes), written)
        return manifest, written

    def _self_check(self, work: Path, manifest: Mapping[str, Any], staged: StagedCandidate,
                    signing_key: Ed25519PrivateKey | None) -> None:
        """Verify every hash (and the signature), load the model and predict on the stored
        example: what `load` does later, so an artefact that fails it is never published. The
        skops types trusted here are the ones this run's own model consists of; `load` never
        trusts them by itself."""
        from concurrent.futures import ThreadPoolExecutor

        from pytest_mlgate.delivery.artifact import hash_file
        from pytest_mlgate.delivery.serialize import decode_example, deserialize_model, same_outputs

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
        read = (staged.example_file,) if staged.example_file else ()
        try:
            verified = open_artifact(work, read=read, hashed=hashed, pins=[
                Pin(str(manifest["artifact_id"]), "just written")],
                public_key=None if signing_key is None else signing_key.public_key())
        except VerificationError as exc:
            raise VerificationError(f"the staged model of {staged.name!r} changed after staging "
                                    f"or was written incompletely: {exc}") from exc
        if error is not None:
            raise ArtifactError(f"the packaged model of {staged.name!r} does not load back: "
                                f"{error}") from error
        outputs = (staged.signature or {}).get("outputs")
        if staged.example_file and outputs is not None:
            example = decode_example(staged.example_file, verified.files[staged.example_file])
            if not same_outputs(outputs, model.predict(example)):
                raise ArtifactError(f"the packaged model of {staged.name!r} predicts differently "
                                    "on the stored example than the model given to candidate(); "
                                    "it does not survive serialization, nothing was published.")

    def _commit(self, op: Operation, name: str, manifest: Mapping[str, Any],
                aliases: Sequence[str]) -> int:
        """Under the registry lock: take the next version number, then rename the staging
        directory in and record the publish (with latest and ``aliases``) as one operation."""
        with self._lock():
            name_dir = self.root / name
            if not name_dir.is_dir():  # a first publish: the new name must survive a crash too
                name_dir.mkdir()
                atomic.fsync_dir(self.root)
            self._recover(op.base)
            state = self.state(name)
            version = max([*state.versions, *state.pins, *state.conflicts], default=0) + 1
            aid = str(manifest["artifact_id"])
            events: list[dict[str, Any]] = [
                {"event": "publish", "version": version, "artifact_id": aid,
                 "content_hash": manifest["model"]["sha256"]}]
            events += [self._alias_event(state, a, version, aid) for a in (LATEST, *aliases)]
            self._apply(op, name, "publish", version, aid, events,
                        what=f"publishing {name!r} as version {version}")
        return version

    @staticmethod
    def _alias_event(state: NameState, alias: str, version: int, aid: str) -> dict[str, Any]:
        previous = state.aliases.get(alias)
        return {"event": "alias", "alias": alias, "version": version, "artifact_id": aid,
                "previous": None if previous is None else previous.version}

    def _apply(self, op: Operation, name: str, kind: str, version: int, aid: str,
               events: list[dict[str, Any]], what: str) -> None:
        """Run one operation under the lock: journal, (publish: rename in), append the first
        history line (the commit point), then the rest and the alias files. Undone in place
        when it fails before the commit point; finished by the next operation when it fails
        (or dies) after it. The RegistryError says which."""
        events = [{"time": _now(), "op": op.token, **e} for e in events]
        journal = {"op": op.token, "kind": kind, "name": name, "version": version,
                   "artifact_id": aid, "events": events}
        history = self.root / name / HISTORY
        final = self.root / name / str(version)
        renamed = False
        try:
            op.journal(journal)
            if kind == "publish":
                atomic.rename(op.dir, final)
                renamed = True
                atomic.fsync_dir(final.parent)
                atomic.fsync_dir(op.base)
            atomic.append_line(history, _line(events[0]))
        except OSError as exc:
            if isinstance(exc, atomic.UndoFailed):
                op.keep_journal = True
                raise RegistryError(
                    f"{what} failed while writing {history}: {exc}, and the partial record could "
                    "not be removed, so whether it happened is not known yet: the next publish "
                    "or promote on this registry completes it or undoes it (see `mlgate list`)."
                ) from exc
            undone = self._undo(op, final) if renamed else None
            if undone is not None:
                op.keep_journal = True
                raise RegistryError(
                    f"{what} failed: {exc}, and {undone}. It is not recorded in the history, so "
                    "nothing loads it; the next publish or promote on this registry removes it."
                ) from exc
            raise RegistryError(
                f"{what} failed: {exc}. Nothing changed (the history has no record of it). "
                "Check the disk has space and the registry is writable, then try again.") from exc
        try:
            for event in events[1:]:
                atomic.append_line(history, _line(event))
            self._write_aliases(name, events)
        except OSError as exc:
            op.keep_journal = True
            raise RegistryError(
                f"{what} happened and is recorded in {history}, but finishing it failed: {exc}. "
                "The next publish or promote on this registry completes it (the remaining "
                "alias files and history lines).") from exc

    def _undo(self, op: Operation, renamed: Path) -> str | None:
        """Take a not-yet-committed version back out; None when done, else why not."""
        try:
            atomic.rename(renamed, op.dir)
        except OSError as exc:
            return f"{renamed} could not be moved back ({exc})"
        return None

    def _write_aliases(self, name: str, events: Sequence[Mapping[str, Any]]) -> None:
        d = self.root / name / ALIASES
        for e in events:
            if e.get("event") == "alias":
                atomic.write_json(d / f"{e['alias']}.json", {
                    "alias": e["alias"], "version": e["version"],
                    "artifact_id": e["artifact_id"], "moved": e["time"]})

    def _recover(self, base: Path) -> None:
        """Finish the operations of dead processes that committed and undo those that did not.
        Runs under the registry lock, before any change."""
        if fcntl is None or not base.is_dir():
            return
        try:
            self._recover_all(base)
        except OSError as exc:
            raise RegistryError(f"the registry {self.root} holds an operation of a process that "
                                f"died, and finishing or undoing it failed: {exc}. Nothing else "
                                "was done (nothing was published or moved); check the disk has "
                                "space and the registry is writable, then try again.") from exc

    def _recover_all(self, base: Path) -> None:
        for entry in sorted(os.scandir(base), key=lambda e: e.name):
            if not entry.name.endswith(".lock"):
                continue
            fd = claim_dead(entry.path)
            if fd is None:
                continue
            try:
                size = os.fstat(fd).st_size
                journal = read_journal(fd) if 0 < size <= MAX_JOURNAL_BYTES else None
                token = entry.name[: -len(".lock")]
                if journal is not None:
                    self._replay(base, token, journal)
                shutil.rmtree(base / token, ignore_errors=True)
                os.unlink(entry.path)
            finally:
                os.close(fd)
        adir_glob = self.root.glob(f"*/{ALIASES}/.*.tmp")
        for p in adir_glob:  # alias temp files of killed writers (every writer holds the lock)
            with contextlib.suppress(OSError):
                p.unlink()

    def _replay(self, base: Path, token: str, journal: Mapping[str, Any]) -> None:
        name = journal.get("name")
        events = journal.get("events")
        if not isinstance(name, str) or not isinstance(events, list) or not events:
            return
        try:
            validate_name(name)
        except ArtifactError:
            return
        history = self.root / name / HISTORY
        logged, _ = read_history(history)
        done = sum(1 for e in logged if e.get("op") == token)
        if done == 0:
            # Not committed: nothing refers to the version; take it out if it was renamed in.
            version = journal.get("version")
            final = self.root / name / str(version)
            if journal.get("kind") == "publish" and isinstance(version, int) and final.is_dir():
                with contextlib.suppress(VerificationError):
                    from pytest_mlgate.delivery.verify import read_manifest

                    if read_manifest(final)["artifact_id"] == journal.get("artifact_id"):
                        atomic.rename(final, base / token)
            return
        for event in events[done:]:
            atomic.append_line(history, _line(event))
        self._write_aliases(name, [e for e in events if isinstance(e, dict)])


def _line(event: Mapping[str, Any]) -> bytes:
    return (json.dumps(event, sort_keys=True) + "\n").encode()


def _alias_pin(state: NameState, record: AliasRecord, where: Path) -> Pin:
    history_id = state.pins.get(record.version)
    if record.artifact_id is None:
        return state.pin(record.version)
    if history_id is not None and history_id != record.artifact_id:
        raise RegistryError(f"alias file {where} pins {record.artifact_id} for version "
                            f"{record.version}, but {state.dir / HISTORY} pins {history_id}: one "
                            "of them was edited. Do not use the version until you know which is "
                            "right; `mlgate promote` rewrites the alias from the history.")
    if record.version in state.conflicts:
        state.pin(record.version)  # raises
    return Pin(record.artifact_id, f"the registry pinned for {state.name}@{record.alias} "
                                   f"(in {where})")


def open_verified(located: Located, *, read: Sequence[str] = (), expect_id: str | None = None,
                  public_key: Ed25519PublicKey | None = None) -> VerifiedArtifact:
    """Verify what ``located`` points at against its pin, ``expect_id`` and ``public_key``."""
    pins = [located.pin] if located.pin is not None else []
    if expect_id is not None:
        if not isinstance(expect_id, str) or not ID_PATTERN.match(expect_id):
            raise VerificationError(f"expect_id={expect_id!r} is not an artefact id; pass the "
                                    "'sha256:<64 hex digits>' id (MLGATE_ARTIFACT_ID, or `mlgate "
                                    "show`).")
        pins.append(Pin(expect_id, "expected by the caller (expect_id)"))
    return open_artifact(located.path, read=read, pins=pins, public_key=public_key)


__all__ = ["NAME_RULE", "LocalRegistry", "Located", "PublishedArtifact", "locate_ref",
           "open_verified", "parse_ref", "resolve_ref"]
