"""Findings of an attacker probe of the registry: links planted in it, a planted journal, alias
files edited to point elsewhere, path references past the pin, a history that lost its last
newline, absurd version numbers, and the API's loose arguments. Each test is one finding."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from pytest_mlgate import atomic
from pytest_mlgate.cli import main
from pytest_mlgate.delivery import LocalRegistry, generate_key_pair, load, stage_candidate
from pytest_mlgate.delivery.staging import StagedCandidate
from pytest_mlgate.errors import ConfigError, RegistryError

X, Y = load_iris(return_X_y=True, as_frame=True)
TREE = ["sklearn.tree._tree.Tree"]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> StagedCandidate:
    model = LogisticRegression(max_iter=300).fit(X, Y)
    return stage_candidate(model, name="iris", example=X.head(2),
                           staging_dir=tmp_path_factory.mktemp("staged"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, staged: StagedCandidate) -> Path:
    """iris v1 (logistic regression, `production`) and v2 (a tree, `latest`)."""
    root = tmp_path_factory.mktemp("template") / "reg"
    reg = LocalRegistry(root)
    reg.publish(staged, {}, aliases=["production"])
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, Y)
    reg.publish(stage_candidate(tree, name="iris", example=X.head(2),
                                staging_dir=tmp_path_factory.mktemp("staged-tree")), {})
    return root


@pytest.fixture
def reg(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "reg"
    shutil.copytree(template, root, symlinks=True)
    return root


def _id(root: Path, version: int) -> str:
    return str(json.loads((root / "iris" / str(version) / "manifest.json").read_text())
               ["artifact_id"])


def _victim(tmp_path: Path) -> Path:
    """A directory outside the registry, such as the CI user's home."""
    victim = tmp_path / "victim"
    for d in ("projects/src", ".ssh", "data"):
        (victim / d).mkdir(parents=True)
        (victim / d / "file.txt").write_text("precious\n")
    (victim / "notes.txt").write_text("line1\nno newline at end")
    return victim


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() if p.is_file() else b""
            for p in sorted(path.rglob("*"))}


# -- 1: links inside the registry are never followed -------------------------------------------
@pytest.mark.parametrize("planted", [".staging", "iris/history.jsonl", "iris/aliases", "iris"])
def test_a_link_in_the_registry_is_refused_and_nothing_outside_is_touched(
        reg: Path, staged: StagedCandidate, tmp_path: Path, planted: str) -> None:
    victim = _victim(tmp_path)
    target = victim / "notes.txt" if planted.endswith(".jsonl") else victim
    if planted == "iris":  # the whole model folder moved out and linked back
        shutil.move(str(reg / "iris"), str(victim / "iris"))
        target = victim / "iris"
    else:
        shutil.rmtree(reg / planted, ignore_errors=True)
        (reg / planted).unlink(missing_ok=True)
    (reg / planted).symlink_to(target)
    before = _tree(victim)
    with pytest.raises(RegistryError, match=rf"registry path .*{planted}\S* is a symbolic link"):
        LocalRegistry(reg).publish(staged, {})
    with pytest.raises(RegistryError, match="symbolic link"):
        LocalRegistry(reg).promote("iris", 1, "staging")
    assert _tree(victim) == before, "the registry wrote or deleted outside itself"


def test_an_alias_file_that_is_a_link_is_refused_and_promote_replaces_the_link(
        reg: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text('{"alias": "production", "version": 1}')
    alias = reg / "iris" / "aliases" / "production.json"
    alias.unlink()
    alias.symlink_to(outside)
    with pytest.raises(RegistryError, match=r"production\.json is damaged .*symbolic link"):
        load("iris@production", registry=reg)
    LocalRegistry(reg).promote("iris", 1, "production")
    assert not alias.is_symlink() and load("iris@production", registry=reg) is not None
    assert outside.read_text() == '{"alias": "production", "version": 1}'


# -- 2: a planted journal is validated before anything is replayed -----------------------------
@pytest.mark.parametrize("how", ["relative", "absolute", "bad-version"])
def test_a_planted_journal_is_refused_naming_it_and_writes_nothing(
        reg: Path, tmp_path: Path, how: str) -> None:
    victim = tmp_path / "victim2" / "config.json"
    victim.parent.mkdir()
    victim.write_text('{"important": true}\n')
    token = "deadbeef" * 4
    aid = _id(reg, 1)
    with open(reg / "iris" / "history.jsonl", "a") as fh:  # make it look committed
        fh.write(json.dumps({"event": "deploy", "op": token, "version": 1, "artifact_id": aid,
                             "target": "x", "status": "ok", "time": "t"}) + "\n")
    alias = {"relative": os.path.relpath(victim.with_suffix(""), reg / "iris" / "aliases"),
             "absolute": str(victim.with_suffix("")), "bad-version": "qa"}[how]
    version: Any = {"any": "json"} if how != "bad-version" else 10**30
    journal = {"op": token, "kind": "alias", "name": "iris", "version": 1, "artifact_id": aid,
               "events": [{"event": "deploy", "op": token, "version": 1, "artifact_id": aid,
                           "target": "x", "status": "ok", "time": "t"},
                          {"event": "alias", "alias": alias, "version": version,
                           "artifact_id": aid, "time": "t", "op": token}]}
    lock = reg / ".staging" / f"{token}.lock"
    lock.write_text(json.dumps(journal))
    with pytest.raises(RegistryError, match=rf"{token}\.lock holds a journal that this tool did "
                       "not write .*not replayed"):
        LocalRegistry(reg).promote("iris", 2, "staging")
    assert victim.read_text() == '{"important": true}\n'
    assert not (reg / "iris" / "aliases" / "qa.json").exists()
    assert "staging" not in LocalRegistry(reg).aliases("iris")


# -- 3 and 5: an alias must agree with the history, and never brings its own pin ---------------
@pytest.mark.parametrize("record", ["with-id", "no-id", "other-id"])
def test_an_alias_file_edited_to_point_at_another_version_is_refused(
        reg: Path, capsys: pytest.CaptureFixture[str], record: str) -> None:
    doc: dict[str, Any] = {"alias": "production", "version": 2}
    if record != "no-id":
        doc["artifact_id"] = _id(reg, 2 if record == "with-id" else 1)
    (reg / "iris" / "aliases" / "production.json").write_text(json.dumps(doc))
    with pytest.raises(RegistryError, match=r"production\.json points at version 2, but the last "
                       r"move of 'production' in .*history\.jsonl is to version 1"):
        load("iris@production", registry=reg, trusted=TREE)
    assert main(["verify", "iris@production", "--registry", str(reg)]) != 0
    assert main(["list", "--registry", str(reg)]) == 0
    out, err = capsys.readouterr()
    assert "production->refused" in out and "production->2" not in out
    assert "last move of 'production'" in err
    LocalRegistry(reg).promote("iris", 2, "production")  # the fix the message names
    assert LocalRegistry(reg).locate("iris@production").version == 2


def test_an_alias_cannot_pin_a_version_the_history_does_not(
        reg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = reg / "iris" / "history.jsonl"
    lines = history.read_text().splitlines()
    assert '"publish"' in lines[0] and '"version": 1' in lines[0]
    history.write_text("\n".join(["junk", *lines[1:]]) + "\n")
    with pytest.raises(RegistryError, match="version 1 has no publish record"):
        load("iris@production", registry=reg)
    assert main(["list", "--registry", str(reg)]) == 0
    out, err = capsys.readouterr()
    assert "production->refused" in out
    assert "version(s) 1 have no publish record" in err


def test_a_planted_version_with_an_alias_of_its_own_is_refused(reg: Path) -> None:
    shutil.copytree(reg / "iris" / "1", reg / "iris" / "3")
    (reg / "iris" / "aliases" / "production.json").write_text(json.dumps(
        {"alias": "production", "version": 3, "artifact_id": _id(reg, 1)}))
    with pytest.raises(RegistryError, match="production"):
        load("iris@production", registry=reg)
    # Even with a matching move appended, the history pins no id for version 3.
    with open(reg / "iris" / "history.jsonl", "a") as fh:
        fh.write(json.dumps({"event": "alias", "alias": "production", "version": 3,
                             "artifact_id": _id(reg, 1), "previous": 1}) + "\n")
    with pytest.raises(RegistryError, match="version 3 has no publish record"):
        load("iris@production", registry=reg)


# -- 4: a path inside a registry is held to the pin, never through a link ----------------------
def test_a_version_folder_that_is_a_link_is_refused_by_name_and_by_path(
        reg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = tmp_path / "evil"
    shutil.copytree(reg / "iris" / "2", evil)  # a consistent artefact, another id
    shutil.rmtree(reg / "iris" / "1")
    (reg / "iris" / "1").symlink_to(evil)
    for ref in ("iris@1", str(reg / "iris" / "1")):
        with pytest.raises(RegistryError, match=r"iris/1 is a symbolic link"):
            load(ref, registry=reg, trusted=TREE)
    assert main(["verify", str(reg / "iris" / "1")]) != 0
    assert "symbolic link" in capsys.readouterr().err


def test_a_path_in_a_registry_without_its_history_is_refused(reg: Path) -> None:
    (reg / "iris" / "history.jsonl").unlink()
    with pytest.raises(RegistryError, match="version 1 has no publish record"):
        load(reg / "iris" / "1")
    with pytest.raises(RegistryError, match="version 1 has no publish record"):
        load(f"{reg}/iris/../iris/1")
    # A copy outside any registry is pinned only by the caller's expect_id.
    copy = reg.parent / "elsewhere" / "1"
    shutil.copytree(reg / "iris" / "1", copy)
    assert load(copy, expect_id=_id(reg, 1)) is not None


# -- 6: a whole last record without its newline is a record ------------------------------------
def test_a_last_history_record_without_its_newline_is_kept(
        reg: Path, staged: StagedCandidate) -> None:
    history = reg / "iris" / "history.jsonl"
    lines = [ln for ln in history.read_text().splitlines() if '"publish"' in ln]
    history.write_text("\n".join(lines))  # an editor or a restore dropped the final newline
    state = LocalRegistry(reg).state("iris")
    assert state.published == [1, 2] and state.problems == []
    assert type(load("iris", registry=reg, trusted=TREE)).__name__ == "DecisionTreeClassifier"
    LocalRegistry(reg).publish(staged, {})
    assert history.read_text().splitlines()[:2] == lines, "a valid record was cut off"
    assert LocalRegistry(reg).state("iris").published == [1, 2, 3]


def test_a_torn_last_line_is_reported_and_cut_off_by_the_next_publish(
        reg: Path, staged: StagedCandidate, capsys: pytest.CaptureFixture[str]) -> None:
    history = reg / "iris" / "history.jsonl"
    with open(history, "a") as fh:
        fh.write('{"event": "publish", "version": 3, "artifact_id": "sha2')
    assert main(["list", "--registry", str(reg)]) == 0
    assert "the last line (" in capsys.readouterr().err
    LocalRegistry(reg).publish(staged, {})
    assert "sha2\n" not in history.read_text() and LocalRegistry(reg).state("iris").problems == []


# -- 8: list agrees with load while a committed operation is unfinished ------------------------
class _FailSecondHistoryWrite(atomic.FileOps):
    def __init__(self) -> None:
        self.writes = 0

    def write(self, fd: int, data: memoryview, path: str) -> int:
        if path.endswith("history.jsonl"):
            self.writes += 1
            if self.writes == 2:
                raise OSError(errno.EIO, "injected I/O error", path)
        return super().write(fd, data, path)


def test_list_agrees_with_load_after_a_publish_failed_past_its_commit_point(
        reg: Path, staged: StagedCandidate, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(atomic, "OPS", _FailSecondHistoryWrite())
    with pytest.raises(RegistryError, match="happened and is recorded"):
        LocalRegistry(reg).publish(staged, {}, aliases=["staging"])
    monkeypatch.undo()
    registry = LocalRegistry(reg)
    assert registry.locate("iris").version == 3
    assert registry.locate("iris@latest").version == 3
    assert registry.aliases("iris")["latest"] == 3
    assert main(["list", "--registry", str(reg)]) == 0
    out, err = capsys.readouterr()
    assert "latest->3" in out, out
    assert "recorded in the history but not finished" in err
    registry.promote("iris", 1, "qa")  # the next operation finishes it
    assert registry.aliases("iris") == {"latest": 3, "production": 1, "staging": 3, "qa": 1}
    assert registry.state("iris").pending == {}


# -- 9: an absurd version number in the history -------------------------------------------------
def test_an_absurd_version_in_the_history_never_blocks_publishing(
        reg: Path, staged: StagedCandidate) -> None:
    with open(reg / "iris" / "history.jsonl", "a") as fh:
        fh.write(json.dumps({"event": "publish", "version": 999999999999999999,
                             "artifact_id": "sha256:" + "0" * 64}) + "\n")
    published = LocalRegistry(reg).publish(staged, {})
    assert published.version == 3
    assert load("iris", registry=reg) is not None and load("iris@production", registry=reg)
    assert LocalRegistry(reg).state("iris").versions == [1, 2, 3]


# -- 10: loose API arguments --------------------------------------------------------------------
def test_open_takes_a_public_key_path_as_load_does(reg: Path, staged: StagedCandidate,
                                                   tmp_path: Path) -> None:
    from pytest_mlgate.delivery.signing import load_signing_key

    private, public = generate_key_pair(tmp_path / "keys" / "ci")
    LocalRegistry(reg).publish(staged, {}, signing_key=load_signing_key(str(private)))
    assert LocalRegistry(reg).open("iris@3", public_key=str(public)).artifact_id == _id(reg, 3)
    assert LocalRegistry(reg).open("iris@3", public_key=public.read_bytes()) is not None
    with pytest.raises(ConfigError, match="cannot read the public key"):
        LocalRegistry(reg).open("iris@3", public_key=str(tmp_path / "missing.pub"))


@pytest.mark.parametrize("version", [1.9, True, "1/../2", "1", None])
def test_promote_refuses_a_version_that_is_not_an_int(reg: Path, version: Any) -> None:
    with pytest.raises(RegistryError, match="version must be a version number"):
        LocalRegistry(reg).promote("iris", version, "qa")
    assert "qa" not in LocalRegistry(reg).aliases("iris")
