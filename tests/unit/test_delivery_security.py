"""What verification, pinned ids and signatures protect against, probed as an attacker would:
a consistently rewritten artefact, a swapped file, a shadowing folder, a forged alias."""

from __future__ import annotations

import base64
import builtins
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.cli import main
from pytest_mlgate.delivery import LocalRegistry, load, stage_candidate, verify_artifact
from pytest_mlgate.delivery.artifact import artifact_id, hash_bytes
from pytest_mlgate.delivery.registry import PublishedArtifact
from pytest_mlgate.errors import ArtifactError, ConfigError, RegistryError, VerificationError

X, Y = load_iris(return_X_y=True, as_frame=True)


@pytest.fixture
def published(tmp_path: Path) -> PublishedArtifact:
    model = LogisticRegression(max_iter=500).fit(X, Y)
    staged = stage_candidate(model, name="iris", example=X.head(3), data={"train": X},
                             staging_dir=tmp_path / "s")
    return LocalRegistry(tmp_path / "reg").publish(staged, {"run": {"git": {}}},
                                                   aliases=["production"])


def rewrite_consistently(path: Path, replacement: dict[str, bytes]) -> str:
    """What an attacker with write access does: replace files and re-hash the manifest so it
    matches them (artifact_id included). Returns the new id."""
    mpath = path / "manifest.json"
    manifest = json.loads(mpath.read_text())
    for rel, data in replacement.items():
        (path / rel).write_bytes(data)
        manifest["files"][rel] = {"sha256": hash_bytes(data), "size": len(data)}
        if rel == manifest["model"]["file"]:
            manifest["model"]["sha256"] = hash_bytes(data)
    manifest["artifact_id"] = artifact_id(manifest)
    mpath.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return str(manifest["artifact_id"])


def _dummy_model_bytes(tmp_path: Path) -> bytes:
    other = stage_candidate(DummyClassifier(strategy="constant", constant=0).fit(X, Y),
                            name="evil", staging_dir=tmp_path / "evil")
    return other.model_path.read_bytes()


def test_a_consistently_rewritten_artefact_is_caught_by_the_pinned_id(
        published: PublishedArtifact, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    forged = rewrite_consistently(published.path, {"model.skops": _dummy_model_bytes(tmp_path)})
    assert forged != published.artifact_id
    reg = str(published.path.parent.parent)
    # The rewritten artefact is self-consistent: only the id the registry pinned catches it.
    verify_artifact(published.path)
    for ref in ("iris", "iris@1", "iris@production", "iris@latest"):
        with pytest.raises(VerificationError, match=r"not sha256:.*the id the registry pinned"):
            load(ref, registry=reg)
    with pytest.raises(VerificationError, match="pinned"):
        load(published.path)  # a path inside a registry is checked against its pin too
    assert main(["verify", "iris@production", "--registry", reg]) == 1
    assert "pinned" in capsys.readouterr().out
    assert main(["verify", str(published.path)]) == 1
    assert main(["show", "iris", "--registry", reg]) == 2
    assert "pinned" in capsys.readouterr().err
    assert main(["drift", "iris", str(tmp_path / "none.csv"), "--registry", reg]) == 2
    assert "pinned" in capsys.readouterr().err


def test_expect_id_pins_an_artefact_outside_any_registry(published: PublishedArtifact,
                                                         tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copied"
    shutil.copytree(published.path, copy)
    assert load(copy, expect_id=published.artifact_id).predict(X.head(2)).shape == (2,)
    forged = rewrite_consistently(copy, {"model.skops": _dummy_model_bytes(tmp_path)})
    load(copy)  # without a pin a consistent rewrite cannot be told from the original
    with pytest.raises(VerificationError, match=r"expected by the caller"):
        load(copy, expect_id=published.artifact_id)
    assert load(copy, expect_id=forged).predict(X.head(1)).tolist() == [0]
    with pytest.raises(VerificationError, match="is not an artefact id"):
        load(copy, expect_id="abc")


def test_alias_records_pin_the_id_and_must_agree_with_the_history(
        published: PublishedArtifact) -> None:
    reg = published.path.parent.parent
    record = json.loads((reg / "iris" / "aliases" / "production.json").read_text())
    assert record["artifact_id"] == published.artifact_id
    events = [e for e in LocalRegistry(reg).history("iris") if e["event"] == "publish"]
    assert events[0]["artifact_id"] == published.artifact_id
    record["artifact_id"] = "sha256:" + "0" * 64
    (reg / "iris" / "aliases" / "production.json").write_text(json.dumps(record))
    with pytest.raises(RegistryError, match=r"production\.json pins sha256:0+ .*history\.jsonl pins"):
        load("iris@production", registry=reg)
    assert load("iris@1", registry=reg) is not None


def _opened_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened from now on (builtins.open, io.open and os.open)."""
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)):
            opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(os.fspath(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    return opened


@pytest.mark.parametrize("consumer", ["load", "drift", "show"])
def test_every_consumer_reads_the_file_it_uses_once(published: PublishedArtifact, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    consumer: str) -> None:
    """The bytes a consumer uses are the ones it hashed: the file is opened once, so a file
    swapped after verification is never used."""
    reg = str(published.path.parent.parent)
    X.to_csv(tmp_path / "now.csv", index=False)
    used = {"load": "model.skops", "drift": "profile.json", "show": "run.json"}[consumer]
    opened = _opened_paths(monkeypatch)
    if consumer == "load":
        load("iris", registry=reg)
    elif consumer == "drift":
        assert main(["drift", "iris", str(tmp_path / "now.csv"), "--registry", reg]) == 0
    else:
        assert main(["show", "iris", "--registry", reg]) == 0
    monkeypatch.undo()
    assert [p for p in opened if Path(p).name == used] == [str(published.path / used)]


def test_a_bare_name_means_the_registry_never_a_folder_here(
        published: PublishedArtifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    reg = published.path.parent.parent
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    # A folder named like the model, holding a self-consistent artefact of another model.
    shutil.copytree(published.path, here / "iris")
    rewrite_consistently(here / "iris", {"model.skops": _dummy_model_bytes(tmp_path)})
    model = load("iris", registry=reg)
    assert type(model).__name__ == "LogisticRegression"
    assert type(load("./iris")).__name__ == "DummyClassifier"  # a path must look like one
    with pytest.raises(RegistryError, match=r"no published versions of 'iris'.*write \./iris"):
        load("iris", registry=tmp_path / "empty-registry")


def test_show_and_diff_refuse_a_tampered_run_report(published: PublishedArtifact,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    reg = str(published.path.parent.parent)
    run_path = published.path / "run.json"
    run = json.loads(run_path.read_text())
    run["tests"] = [{"nodeid": "t.py::t", "metrics": [{"name": "accuracy", "value": 0.999}]}]
    run_path.write_text(json.dumps(run))
    assert main(["show", "iris", "--registry", reg]) == 2
    captured = capsys.readouterr()
    assert "run.json" in captured.err and "0.999" not in captured.out
    assert main(["diff", "iris@1", "iris@production", "--registry", reg]) == 2
    captured = capsys.readouterr()
    assert "run.json" in captured.err and "0.999" not in captured.out


def test_latest_cannot_be_promoted_by_hand(published: PublishedArtifact,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    reg = published.path.parent.parent
    LocalRegistry(reg).publish(stage_candidate(DummyClassifier().fit(X, Y), name="iris",
                                               staging_dir=reg.parent / "s2"), {})
    assert main(["promote", "iris", "1", "--alias", "latest", "--registry", str(reg)]) == 2
    assert "always follows the newest published version" in capsys.readouterr().err
    assert LocalRegistry(reg).aliases("iris")["latest"] == 2
    assert LocalRegistry(reg).locate("iris").version == 2


# -- signing ------------------------------------------------------------------------------------
@pytest.fixture
def keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    assert main(["keygen", str(tmp_path / "keys" / "mlgate")]) == 0
    assert "key id sha256:" in capsys.readouterr().out
    return tmp_path / "keys" / "mlgate", tmp_path / "keys" / "mlgate.pub"


def test_keygen_writes_a_pem_pair_and_never_overwrites(keys: tuple[Path, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    private, public = keys
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    assert main(["keygen", str(private)]) == 2
    assert "already exists" in capsys.readouterr().err and private.read_bytes() == before


def _publish_signed(tmp_path: Path, key_path: Path) -> PublishedArtifact:
    from pytest_mlgate.delivery.signing import load_signing_key

    model = LogisticRegression(max_iter=500).fit(X, Y)
    staged = stage_candidate(model, name="iris", example=X.head(3), staging_dir=tmp_path / "ss")
    return LocalRegistry(tmp_path / "signed").publish(
        staged, {}, signing_key=load_signing_key(str(key_path)))


def test_signed_artefact_verifies_only_with_its_public_key(
        tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    private, public = keys
    pub = _publish_signed(tmp_path, private)
    reg = str(pub.path.parent.parent)
    assert (pub.path / "manifest.sig").is_file()
    assert main(["verify", "iris", "--registry", reg, "--public-key", str(public)]) == 0
    assert "signature valid" in capsys.readouterr().out
    assert load("iris", registry=reg, public_key=public).predict(X.head(1)).shape == (1,)
    assert load("iris", registry=reg, public_key=public.read_bytes()) is not None
    # Another key pair: refused, naming both keys.
    assert main(["keygen", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    assert main(["verify", "iris", "--registry", reg, "--public-key",
                 str(tmp_path / "other.pub")]) == 1
    assert "made with another key" in capsys.readouterr().out
    # Without --public-key the signature is reported, not trusted.
    assert main(["verify", "iris", "--registry", reg]) == 0
    assert "signature not checked" in capsys.readouterr().out


def test_unsigned_or_wrongly_signed_artefacts_are_refused_with_a_public_key(
        published: PublishedArtifact, tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    with pytest.raises(VerificationError, match="not signed"):
        load(published.path, public_key=public)
    pub = _publish_signed(tmp_path, private)
    sig_path = pub.path / "manifest.sig"
    record = json.loads(sig_path.read_text())
    raw = bytearray(base64.b64decode(record["signature"]))
    raw[0] ^= 1
    record["signature"] = base64.b64encode(bytes(raw)).decode()
    sig_path.write_text(json.dumps(record))
    with pytest.raises(VerificationError, match=r"does not match manifest\.json"):
        load(pub.path, public_key=public)
    # A re-signed manifest needs the private key: a forged manifest with the old signature fails.
    sig_path.unlink()
    good = _publish_signed(tmp_path / "again", private)
    rewrite_consistently(good.path, {"model.skops": _dummy_model_bytes(tmp_path)})
    import shutil

    shutil.copytree(good.path, tmp_path / "outside")
    with pytest.raises(VerificationError, match=r"does not match manifest\.json"):
        load(tmp_path / "outside", public_key=public)


def test_signing_key_comes_from_a_file_or_an_environment_variable(
        tmp_path: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mlgate.delivery.signing import key_id, load_public_key, load_signing_key

    private, public = keys
    want = key_id(load_public_key(public))
    assert key_id(load_signing_key(str(private)).public_key()) == want
    monkeypatch.setenv("MLGATE_KEY", private.read_text())
    assert key_id(load_signing_key("env:MLGATE_KEY").public_key()) == want
    monkeypatch.setenv("MLGATE_KEY", base64.b64encode(private.read_bytes()).decode())
    assert key_id(load_signing_key("env:MLGATE_KEY").public_key()) == want
    monkeypatch.delenv("MLGATE_KEY")
    with pytest.raises(ConfigError, match="MLGATE_KEY is not set"):
        load_signing_key("env:MLGATE_KEY")
    with pytest.raises(ConfigError, match="cannot read"):
        load_signing_key(str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="not hold an unencrypted PEM private key"):
        load_signing_key(str(public))


# -- corrupt registry state ---------------------------------------------------------------------
def test_corrupt_history_never_blocks_publishing(published: PublishedArtifact, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    reg_dir = published.path.parent.parent
    history = reg_dir / "iris" / "history.jsonl"
    lines = history.read_bytes().splitlines(keepends=True)
    history.write_bytes(b"\x00\xff junk\n" + b"[1, 2]\n" + b"".join(lines[1:]))
    reg = LocalRegistry(reg_dir)
    staged = stage_candidate(DummyClassifier().fit(X, Y), name="iris", staging_dir=tmp_path / "s2")
    assert reg.publish(staged, {}).version == 2
    assert load("iris", registry=reg_dir) is not None  # the new version is pinned
    with pytest.raises(RegistryError, match=r"version 1 has no publish record in .*history\.jsonl"):
        load("iris@1", registry=reg_dir)
    assert main(["list", "--registry", str(reg_dir)]) == 0
    err = capsys.readouterr().err
    assert "history.jsonl: line(s) 1, 2 are not history records" in err and "restore" in err


def test_a_damaged_alias_file_is_named_with_the_fix(published: PublishedArtifact) -> None:
    reg_dir = published.path.parent.parent
    (reg_dir / "iris" / "aliases" / "production.json").write_text('{"version": 1e999}')
    with pytest.raises(RegistryError, match=r"alias file .*production\.json is damaged .*mlgate "
                       r"promote iris VERSION --alias production"):
        load("iris@production", registry=reg_dir)
    assert load("iris", registry=reg_dir) is not None
    LocalRegistry(reg_dir).promote("iris", 1, "production")
    assert load("iris@production", registry=reg_dir) is not None


@pytest.mark.parametrize("folder", ["\u0663", "\u00b2", "01", "0"])
def test_a_folder_named_like_a_version_is_a_clear_error(published: PublishedArtifact,
                                                        folder: str) -> None:
    reg_dir = published.path.parent.parent
    (reg_dir / "iris" / folder).mkdir()
    with pytest.raises(RegistryError, match=r"named like a version but is not one.*Remove"):
        load("iris", registry=reg_dir)
    with pytest.raises(RegistryError, match="bad reference"):
        load(f"iris@{folder}", registry=reg_dir)


def test_a_deeply_nested_manifest_is_a_clear_error(published: PublishedArtifact) -> None:
    depth = 200_000
    (published.path / "manifest.json").write_text("[" * depth + "]" * depth)
    with pytest.raises(VerificationError, match=r"manifest\.json' is not valid JSON \(nested too "
                       "deeply"):
        verify_artifact(published.path)
    with pytest.raises(VerificationError, match="nested too deeply"):
        load(published.path)


def test_a_model_file_that_is_not_a_zip_is_a_clear_error(published: PublishedArtifact,
                                                         tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(published.path, copy)
    rewrite_consistently(copy, {"model.skops": b"this is not a zip file"})
    with pytest.raises(ArtifactError, match=r"model\.skops verified against the manifest but "
                       "skops cannot read it"):
        load(copy)


def test_untouched_artefact_loads_with_every_check(published: PublishedArtifact,
                                                   keys: tuple[Path, Path]) -> None:
    model = load("iris@production", registry=published.path.parent.parent,
                 expect_id=published.artifact_id)
    assert np.array_equal(model.predict(X), LogisticRegression(max_iter=500).fit(X, Y).predict(X))
