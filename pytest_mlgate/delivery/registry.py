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

Nothing under the root is trusted: no path inside it is used through a symbolic link
(``checked_path``), and a journal is validated before it is replayed (``_journal_problem``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate import atomic, strict_json
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
_MAX_HISTORY_BYTES = 1 << 30
_TOKEN = re.compile(r"[0-9a-f]{32}\Z")  # an operation token: uuid4().hex
_DEPLOY_STATUSES = ("ok", "failed", "timed out")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def checked_path(root: Path, *parts: str) -> Path:
    """``root/parts...``, refused (RegistryError naming it) when it, or a folder between
    ``root`` and it, is a symbolic link, or when a part would leave ``root``. Every path the
    registry writes, deletes or reads inside itself goes through here: a link planted in the
    registry could otherwise make the publisher write or delete outside it, or a consumer read
    an artefact the registry never pinned. ``root`` itself may be a link (a registry moved to
    a shared disk)."""
    path = root
    for part in parts:
        if part in ("", ".", "..") or "/" in part or (os.sep in part) or "\0" in part:
            raise RegistryError(f"{part!r} is not a registry entry name (under {root}); the "
                                "registry writes only inside itself.")
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue  # a later part can only be made by the registry, through a checked path
        except OSError:
            continue  # unreadable: the operation that uses it says so
        if stat.S_ISLNK(mode):
            raise RegistryError(
                f"registry path {path} is a symbolic link; the registry never follows links "
                f"inside itself (one could make it write, delete or load outside {root}). "
                "Replace the link with the real file or directory, or, for a registry moved "
                "elsewhere, point --mlgate-registry (ini mlgate_registry) at the real "
                "directory.")
    return path


def _read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``, opened without following a
    link and without blocking on a FIFO; OSError (ELOOP for a link) otherwise."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        chunks = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


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
    moves: dict[str, dict[str, Any]] = field(default_factory=dict)  # alias -> its last move
    pending: dict[str, str] = field(default_factory=dict)  # op token -> its journal (lock file)
    torn: str | None = None  # the history's last line was torn by a killed writer (a message)

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

    def alias_target(self, alias: str) -> tuple[int, Pin]:
        """The version ``alias`` points at and its pin. The history is the authority: the alias
        file must agree with the last move of ``alias`` the history records (version and id),
        and the id is the one the history pins for that version. While the operation that made
        that move is being finished (its journal is still in ``.staging``), the history's move
        is followed. RegistryError naming the file and the fix otherwise."""
        history = self.dir / HISTORY
        where = self.dir / ALIASES / f"{alias}.json"
        move = self.moves.get(alias)
        damage = f" ({'; '.join(self.problems)})" if self.problems else ""
        if move is not None and move.get("op") in self.pending:
            version = int(move["version"])
            label = (f"the registry pinned for {self.name}@{alias} (in {history}; the operation "
                     "that moved it is not finished yet)")
        else:
            if alias in self.bad_aliases:
                raise RegistryError(self.bad_aliases[alias])
            record = self.aliases.get(alias)
            if record is None:
                raise RegistryError(f"{self.name!r} has no alias {alias!r} in {self.dir.parent}; "
                                    f"aliases: {', '.join(sorted(self.aliases)) or 'none'}.")
            fix = (f"`mlgate promote {self.name} VERSION --alias {alias}` points it at a "
                   "published version and records the move.")
            if move is None:
                raise RegistryError(f"alias file {where} points at version {record.version}, but "
                                    f"{history} records no move of {alias!r}{damage}: the file was "
                                    f"written by hand or the history lost the move. {fix}")
            if record.version != move["version"]:
                raise RegistryError(f"alias file {where} points at version {record.version}, but "
                                    f"the last move of {alias!r} in {history} is to version "
                                    f"{move['version']}: one of them was edited. Do not use the "
                                    f"alias until you know which is right; {fix}")
            if record.artifact_id is not None and record.artifact_id != move["artifact_id"]:
                raise RegistryError(f"alias file {where} pins {record.artifact_id} for version "
                                    f"{record.version}, but {history} pins {move['artifact_id']}: "
                                    "one of them was edited. Do not use the version until you "
                                    f"know which is right; {fix}")
            version = record.version
            label = f"the registry pinned for {self.name}@{alias} (in {where} and {history})"
        pin = self.pin(version)  # only a version the history pins: never the alias's own id
        if pin.artifact_id != move["artifact_id"]:
            raise RegistryError(f"{history} moved {alias!r} to version {version} with id "
                                f"{move['artifact_id']}, but pins {pin.artifact_id} for that "
                                "version: the history was edited. Restore it from a backup.")
        return version, Pin(pin.artifact_id, label)

    def resolved_aliases(self) -> tuple[dict[str, int], dict[str, str]]:
        """Alias -> version for every alias that resolves, and alias -> why for those refused."""
        good: dict[str, int] = {}
        refused: dict[str, str] = {}
        names = {*self.aliases, *self.bad_aliases,
                 *(a for a, m in self.moves.items() if m.get("op") in self.pending)}
        for alias in sorted(names - {LATEST}):
            try:
                good[alias] = self.alias_target(alias)[0]
            except RegistryError as exc:
                refused[alias] = str(exc)
        if self.published:  # latest means the newest published version, as loading has it
            good[LATEST] = self.published[-1]
        return good, refused


def parse_ref(ref: str) -> tuple[str, str]:
    """``"name"`` -> ``(name, "latest")``; ``"name@x"`` -> ``(name, x)``; RegistryError when
    the name, version or alias is malformed."""
    if not isinstance(ref, str):
        raise RegistryError(f"a reference must be a string such as 'churn@production', got "
                            f"{type(ref).__name__}.")
    name, at, which = ref.partition("@")
    if at and not which:
        raise RegistryError(f"bad reference {ref!r}: nothing follows '@'; write {name!r} or "
                            f"'{name}@latest' for the newest version, or '{name}@ALIAS' / "
                            f"'{name}@VERSION'.")
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


def locate_ref(ref: str | os.PathLike[str], registry: str | os.PathLike[str] | None = None, *,
               registry_option: str = "--registry PATH") -> Located:
    """Where ``ref`` points and the artefact id it must have. A path (see ``looks_like_path``)
    is that directory; when it is a version inside a registry, that registry's pin applies. A
    bare ``name``, ``name@alias`` or ``name@<version>`` is looked up in ``registry`` (default
    ``.mlgate/registry``), never in the working directory. ``registry_option`` is how the
    caller's user names another registry, for the error messages."""
    if looks_like_path(ref):
        text = os.fspath(ref)
        path = Path(text).expanduser()
        if not path.is_dir():
            raise RegistryError(f"artefact path {text!r} does not exist or is not a directory.")
        checked, pin = _pin_for_path(path)
        return Located(path=checked, label=text, pin=pin)
    text = str(ref)
    try:
        return LocalRegistry(registry if registry is not None else DEFAULT_REGISTRY).locate(
            text, registry_option=registry_option)
    except RegistryError as exc:
        name = text.partition("@")[0]
        if name and Path(name).exists():
            kind = "directory" if Path(name).is_dir() else "file"
            raise RegistryError(f"{exc} (A bare name always means the registry; to use the "
                                f"{kind} {name!r} here, write ./{name}.)") from None
        raise


def resolve_ref(ref: str | os.PathLike[str], registry: str | os.PathLike[str] | None = None) -> Path:
    """The artefact directory ``ref`` names (see ``locate_ref``)."""
    return locate_ref(ref, registry).path


def _pin_for_path(path: Path) -> tuple[Path, Pin | None]:
    """The path to verify and the registry's pin when ``path`` is ``<registry>/<name>/<version>``.
    The path is taken as written (made absolute, ``..`` folded), never through a link: a
    version folder that is a link, or a version of a registry that has no publish record for
    it (a deleted history), is refused as loading it by name is."""
    lexical = Path(os.path.abspath(path))
    name_dir = lexical.parent
    root = name_dir.parent
    if not VERSION.match(lexical.name):
        return path, None
    try:
        validate_name(name_dir.name)
    except ArtifactError:
        return path, None  # not a model directory of a registry
    markers = (name_dir / HISTORY, name_dir / ALIASES, root / STAGING, root / LOCK)
    if not any(os.path.lexists(m) for m in markers):
        return path, None  # a numbered folder that is not in a registry
    located = LocalRegistry(root).locate(f"{name_dir.name}@{lexical.name}")
    # Without "..", the path as written is that very place (and reads better in messages).
    return (path if ".." not in path.parts else lexical), located.pin


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _json_bytes(obj: Any) -> bytes:
    """An artefact file: opaque run data, made JSON by the plugin's one NaN policy."""
    return strict_json.file_bytes(strict_json.jsonable(obj))


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
    raw = _read_regular(path, _MAX_ALIAS_BYTES)
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


def _parse_event(line: bytes) -> dict[str, Any] | None:
    try:
        event = loads_strict(line)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return event if _event_ok(event) else None


def is_complete_record(tail: bytes) -> bool:
    """Whether a last history line without its newline is a whole, valid record (an editor or
    a restore dropped the newline) rather than one torn by a writer killed mid-append."""
    return _parse_event(tail) is not None


def read_history(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The events of a history file and, as messages, the lines that are damaged (a torn last
    line is not damage: see ``read_history_tail``)."""
    events, problems, _ = read_history_tail(path)
    return events, problems


def read_history_tail(path: Path) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """The events of a history file, the damaged lines as messages, and a message when the
    last line is torn. A last line without its newline is a record when it is one whole, valid
    record; otherwise it is torn (a writer killed mid-append): skipped, said, and cut off by the
    next append. A history that is a link or not a regular file is an error (RegistryError),
    never read through."""
    try:
        raw = _read_regular(path, _MAX_HISTORY_BYTES)
    except FileNotFoundError:
        return [], [], None
    except OSError as exc:
        if os.path.islink(path) or (path.exists() and not path.is_file()):
            raise RegistryError(
                f"{path} is a symbolic link or not a regular file; the registry reads and "
                "appends its history only in place, never through a link. Replace it with the "
                "real history file (restore it from a backup).") from None
        return [], [f"{path} cannot be read ({getattr(exc, 'strerror', None) or exc})"], None
    lines = raw.split(b"\n")
    events: list[dict[str, Any]] = []
    bad: list[int] = []
    for number, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        event = _parse_event(line)
        if event is not None:
            events.append(event)
        else:
            bad.append(number)
    problems = []
    torn = None
    tail = lines[-1]
    if tail.strip():
        event = _parse_event(tail)
        if event is not None:
            events.append(event)  # a whole record that lost its newline: the next append adds it
        else:
            torn = (f"{path}: the last line ({len(tail)} bytes) is incomplete, as a writer "
                    "killed mid-append leaves it, and was skipped; the next publish or promote "
                    "cuts it off")
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        problems.append(f"{path}: line(s) {shown} are not history records and were skipped; "
                        "restore the file from a backup to pin the versions they described")
    return events, problems, torn


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
        a version that is not one (a lookalike digit, a leading zero) or that is a link: it
        must be removed."""
        d = checked_path(self.root, validate_name(name))
        versions: list[int] = []
        try:
            entries = list(d.iterdir()) if d.is_dir() else []
        except OSError as exc:
            raise RegistryError(f"cannot list {d}: {exc.strerror or exc}; check the registry "
                                "is readable.") from None
        for p in entries:
            if VERSION.match(p.name):
                checked_path(d, p.name)  # a version folder that is a link is refused
                if p.is_dir():
                    versions.append(int(p.name))
            elif p.name[:1].isdigit() or p.name[:1] == "0":
                raise RegistryError(
                    f"registry folder {p} is named like a version but is not one (versions "
                    "are ASCII digits without a leading zero, made only by publish). Remove "
                    "or rename it.")
        events, problems, torn = read_history_tail(checked_path(d, HISTORY))
        pins: dict[int, str] = {}
        conflicts: dict[int, str] = {}
        moves: dict[str, dict[str, Any]] = {}
        for e in events:
            if e["event"] == "publish":
                v, aid = e["version"], e["artifact_id"]
                if pins.setdefault(v, aid) != aid:
                    conflicts[v] = f"{pins[v]} and {aid}"
            elif e["event"] == "alias":
                moves[e["alias"]] = e
        aliases: dict[str, AliasRecord] = {}
        bad_aliases: dict[str, str] = {}
        adir = checked_path(d, ALIASES)
        if adir.is_dir():
            for p in sorted(adir.iterdir()):
                if p.name.startswith(".") or p.suffix != ".json":
                    continue
                try:
                    aliases[p.stem] = _parse_alias_file(p)
                except (OSError, UnicodeDecodeError, ValueError) as exc:
                    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    if os.path.islink(p):
                        why = "it is a symbolic link, which the registry never follows"
                    bad_aliases[p.stem] = (
                        f"alias file {p} is damaged ({why[:200]}); rewrite it with `mlgate "
                        f"promote {name} VERSION --alias {p.stem}`, or delete it")
        problems += list(bad_aliases.values())
        pending = {}
        recent = [*events[-64:], *moves.values()]
        for token in {str(e.get("op")) for e in recent if isinstance(e.get("op"), str)}:
            lock = self.root / STAGING / f"{token}.lock"
            if _TOKEN.match(token) and os.path.lexists(lock):
                pending[token] = str(lock)
        return NameState(name=name, dir=d, versions=sorted(versions), pins=pins,
                         conflicts=conflicts, aliases=aliases, bad_aliases=bad_aliases,
                         events=events, problems=problems, moves=moves, pending=pending,
                         torn=torn)

    def versions(self, name: str) -> list[int]:
        """Version numbers of ``name`` with a directory, ascending."""
        return self.state(name).versions

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version for ``name``, as loading resolves them (refused aliases left out;
        see ``state``)."""
        return self.state(name).resolved_aliases()[0]

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every publish, alias move and deploy of ``name``, oldest first."""
        return self.state(name).events

    def locate(self, ref: str, *, registry_option: str = "--registry PATH") -> Located:
        """Where ``name``, ``name@latest``, ``name@<alias>`` or ``name@<version>`` points, with
        the artefact id the registry pinned for it. ``registry_option``: see ``locate_ref``."""
        name, which = parse_ref(ref)
        state = self.state(name)
        versions = state.versions
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"no published versions of {name!r} in registry {self.root} "
                                f"(names there: {known}). Publish with `pytest --mlgate "
                                f"--mlgate-deliver`, or pass {registry_option}.")
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
            version, pin = state.alias_target(which)
            if version not in versions:
                where = state.dir / ALIASES / f"{which}.json"
                raise RegistryError(f"alias file {where} points at version {version}, which is not "
                                    f"in the registry; point it at a published version with "
                                    f"`mlgate promote {name} VERSION --alias {which}`.")
        return Located(path=state.dir / str(version), label=label, pin=pin, name=name,
                       version=version)

    def resolve(self, ref: str) -> Path:
        """The directory of ``name``, ``name@latest``, ``name@<alias>`` or ``name@<version>``."""
        return self.locate(ref).path

    def open(self, ref: str, *, read: Sequence[str] = (), expect_id: str | None = None,
             public_key: str | os.PathLike[str] | bytes | Ed25519PublicKey | None = None,
             ) -> VerifiedArtifact:
        """``ref`` verified against its manifest, its pinned id (and ``expect_id``, and the
        signature when ``public_key``, a key or a PEM path or bytes as for ``load``, is given),
        with the bytes of the files in ``read``."""
        from pytest_mlgate.delivery.signing import load_public_key

        key = None if public_key is None else load_public_key(public_key)
        located = self.locate(ref)
        return open_verified(located, read=read, expect_id=expect_id, public_key=key)

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
        wanted = alias_request(name, version, aliases)
        if not wanted:
            return
        base = self._prepare()
        with self._lock(), Operation(base, make_dir=False) as op:
            self._recover(base)
            state = self.state(name)
            if not state.versions:
                raise RegistryError(f"no model named {name!r} in {self.root} (models: "
                                    f"{', '.join(self.names()) or 'none'}).")
            if version not in state.versions:
                raise RegistryError(f"{name!r} has no version {version} in {self.root}; versions: "
                                    f"{', '.join(map(str, state.versions)) or 'none'}.")
            pin = state.pin(version)
            events = [self._alias_event(state, alias, version, pin.artifact_id)
                      for alias in wanted]
            self._apply(op, name, "alias", version, pin.artifact_id, events,
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
        base = checked_path(self.root, STAGING)
        checked_path(self.root, LOCK)
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
            with FileLock(str(checked_path(self.root, LOCK)), timeout=LOCK_TIMEOUT_S):
                yield
        except Timeout as exc:
            raise RegistryError(f"registry {self.root} stayed locked for {LOCK_TIMEOUT_S:.0f} s; "
                                f"is another publisher stuck? Remove {self.root / LOCK} only if "
                                "no publisher is running.") from exc

    def _as_named_from(self, rootdir: Any) -> str | None:
        """This registry as a consumer at the project root names it for ``load``: None for
        the default, else relative to the rootdir when inside it, else absolute."""
        root = self.root.resolve()
        base = Path(rootdir).resolve() if isinstance(rootdir, str) and rootdir else Path.cwd().resolve()
        try:
            rel = root.relative_to(base).as_posix()
        except ValueError:
            return str(root)
        return None if rel == DEFAULT_REGISTRY else rel

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
            signature=staged.signature, registry=self._as_named_from(run_info.get("rootdir")),
        ).encode("utf-8"), written)
        size = staged.model_path.stat().st_size
        known = {staged.model_file: {"sha256": staged.content_hash, "size": size}}
        manifest = build_manifest(work, strict_json.jsonable(meta), known=known)
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
            name_dir = checked_path(self.root, name)
            if not name_dir.is_dir():  # a first publish: the new name must survive a crash too
                name_dir.mkdir()
                atomic.fsync_dir(self.root)
            self._recover(op.base)
            state = self.state(name)
            version = _next_version(state)
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
        history = checked_path(self.root, name, HISTORY)
        final = checked_path(self.root, name, str(version))
        checked_path(self.root, name, ALIASES)  # refused before the commit point, not after
        renamed = False
        try:
            op.journal(journal)
            if kind == "publish":
                atomic.rename(op.dir, final)
                renamed = True
                atomic.fsync_dir(final.parent)
                atomic.fsync_dir(op.base)
            _append(history, events[0])
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
                _append(history, event)
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
        d = checked_path(self.root, name, ALIASES)
        for e in events:
            if e.get("event") == "alias":
                alias = e["alias"] if e["alias"] == LATEST else validate_alias(e["alias"])
                # A rename replaces a link at the alias file's name, never writes through it.
                atomic.write_json(d / f"{alias}.json", {
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
                    why = _journal_problem(journal, token)
                    if why is not None:
                        raise RegistryError(
                            f"{entry.path} holds a journal that this tool did not write ({why}); "
                            "it was not replayed, and nothing was published or moved. Someone "
                            "edited the registry: look at the file, and remove it once no "
                            "publisher is running.")
                    self._replay(base, token, journal)
                shutil.rmtree(base / token, ignore_errors=True)
                os.unlink(entry.path)
            finally:
                os.close(fd)
        for name_dir in self.root.iterdir():  # alias temp files of killed writers (under the lock)
            if name_dir.is_symlink() or not (name_dir / ALIASES).is_dir():
                continue
            adir = name_dir / ALIASES
            if adir.is_symlink():
                continue
            for p in adir.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()

    def _replay(self, base: Path, token: str, journal: Mapping[str, Any]) -> None:
        name = str(journal["name"])
        events = list(journal["events"])
        history = checked_path(self.root, name, HISTORY)
        logged, _ = read_history(history)
        done = sum(1 for e in logged if e.get("op") == token)
        if done == 0:
            # Not committed: nothing refers to the version; take it out if it was renamed in.
            version = journal["version"]
            final = checked_path(self.root, name, str(version))
            if journal["kind"] == "publish" and final.is_dir():
                with contextlib.suppress(VerificationError):
                    from pytest_mlgate.delivery.verify import read_manifest

                    if read_manifest(final)["artifact_id"] == journal.get("artifact_id"):
                        atomic.rename(final, base / token)
            return
        for event in events[done:]:
            _append(history, event)
        self._write_aliases(name, events)


def alias_request(name: str, version: Any, aliases: Sequence[str]) -> list[str]:
    """The aliases to move (validated, each once) for moving ``aliases`` of ``name`` to
    ``version``; RegistryError for a version that is not an int version number or for
    ``latest``, which always follows the newest published version."""
    validate_name(name)
    if not isinstance(version, int) or isinstance(version, bool) or not VERSION.match(
            str(version)):
        raise RegistryError(f"version must be a version number (an int such as 3), got "
                            f"{version!r:.60} ({type(version).__name__}).")
    wanted = list(dict.fromkeys(validate_alias(a) for a in aliases))
    if LATEST in wanted:
        raise RegistryError(f"alias {LATEST!r} always follows the newest published version of "
                            f"{name!r} and cannot be moved by hand; promote another alias "
                            "(such as production) instead.")
    return wanted


def _append(history: Path, event: Mapping[str, Any]) -> None:
    atomic.append_line(history, _line(event), keep_tail=is_complete_record)


def _next_version(state: NameState) -> int:
    """The next number above every version and every number the history mentions; when that
    would leave the allowed range (a hand-added record of an absurd version), the lowest number
    above every version folder that the history never mentions, so a damaged history never
    blocks publishing and never makes a version that cannot be read."""
    mentioned = {*state.versions, *state.pins, *state.conflicts,
                 *(e["version"] for e in state.events if "version" in e)}
    version = max(mentioned, default=0) + 1
    if not VERSION.match(str(version)):
        version = max(state.versions, default=0) + 1
        while version in mentioned:
            version += 1
    if not VERSION.match(str(version)):
        raise RegistryError(f"{state.dir} has no version number left below 10**18; nothing was "
                            "published.")
    return version


def _is_version(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and bool(VERSION.match(str(v)))


def _journal_problem(journal: Mapping[str, Any], token: str) -> str | None:
    """Why ``journal`` is not one an operation of this tool writes (None: it is). A journal
    lies in the registry, so it is checked with the rules the live commands apply before a
    single event is replayed."""
    if journal.get("op") != token or not _TOKEN.match(token):
        return "its op is not the token its file is named after"
    kind = journal.get("kind")
    if kind not in ("publish", "alias", "deploy"):
        return f"kind {str(kind)[:40]!r} is not publish, alias or deploy"
    name = journal.get("name")
    try:
        validate_name(name)
    except ArtifactError as exc:
        return str(exc)
    version, aid = journal.get("version"), journal.get("artifact_id")
    if not _is_version(version):
        return f"version {str(version)[:40]!r} is not a version number"
    if not isinstance(aid, str) or not ID_PATTERN.match(aid):
        return f"artifact_id {str(aid)[:80]!r} is not a sha256 id"
    events = journal.get("events")
    if not isinstance(events, list) or not 0 < len(events) <= 1000:
        return "its events are not a list of history records"
    want = {"publish": "publish", "alias": "alias", "deploy": "deploy"}[kind]
    for i, e in enumerate(events):
        if not _event_ok(e) or e.get("op") != token or not isinstance(e.get("time"), str):
            return f"event {i} is not a history record of this operation"
        if e.get("version") != version or e.get("artifact_id") != aid:
            return f"event {i} is about another version or id than the journal"
        first = kind == "publish" and i == 0
        if e["event"] != (want if first or kind != "publish" else "alias"):
            return f"event {i} is a {str(e['event'])[:20]!r} event in a {kind} operation"
        if e["event"] == "alias":
            try:
                if e["alias"] != LATEST:
                    validate_alias(e["alias"])
            except ArtifactError as exc:
                return f"event {i}: {exc}"
            if e.get("previous") is not None and not _is_version(e.get("previous")):
                return f"event {i}: previous {str(e.get('previous'))[:40]!r} is not a version"
        if e["event"] == "deploy" and (e.get("status") not in _DEPLOY_STATUSES
                                       or not isinstance(e.get("target"), str)):
            return f"event {i} is not a deploy result"
    return None


def _line(event: Mapping[str, Any]) -> bytes:
    return strict_json.file_bytes(event, indent=None)


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
