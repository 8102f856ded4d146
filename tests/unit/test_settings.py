"""The one resolver in-process: marker > command line > ini > default, a flag left unset never
shadows the ini, paths resolve against the rootdir, and a bad value is an error that names where
it came from (the flag, or the ini key)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.errors import ConfigError
from pytest_mlgate.settings import Settings, resolve


def resolved(rootdir: Path, cli: dict[str, Any] | None = None, ini: dict[str, Any] | None = None) -> Settings:
    """What pytest gives the resolver: None for an unset flag, "" for an unset string ini key and
    None here for an unset line list (the resolver then uses the declared default)."""
    cli, ini = cli or {}, ini or {}
    return resolve(cli.get, lambda key: ini.get(key, ""), rootdir)


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    s = resolved(tmp_path, ini={"mlgate_required_gates": None, "mlgate_gate_paths": None,
                                "mlgate_deploy": None, "mlgate_aliases": None})
    assert not s.gate_mode and s.seed is None and s.report is None
    assert s.baseline == tmp_path / ".mlgate" / "baseline.json"
    assert s.registry == tmp_path / ".mlgate" / "registry"
    assert s.required_gates == ("unit", "integration", "performance", "validation")
    assert (s.level, s.alpha, s.inconclusive) == (0.95, 0.05, "pass")


def test_the_command_line_beats_the_ini_and_an_unset_flag_leaves_the_ini_alone(tmp_path: Path) -> None:
    ini = {"mlgate_baseline": "ini/base.json", "mlgate_seed": "7", "mlgate": "true"}
    from_ini = resolved(tmp_path, ini=ini)
    assert from_ini.baseline == tmp_path / "ini" / "base.json"
    assert from_ini.seed == 7 and from_ini.gate_mode
    from_cli = resolved(tmp_path, cli={"mlgate_baseline": "/abs/cli.json", "mlgate_seed": "9"}, ini=ini)
    assert from_cli.baseline == Path("/abs/cli.json") and from_cli.seed == 9
    assert from_cli.gate_mode  # --mlgate not given: the ini's true stands


@pytest.mark.parametrize(("cli", "ini", "message"), [
    ({"mlgate_seed": "abc"}, {}, "--mlgate-seed = 'abc' is not an integer"),
    ({}, {"mlgate_seed": "abc"}, "ini mlgate_seed = 'abc' is not an integer"),
    ({}, {"mlgate_alpha": "1.5"}, "ini mlgate_alpha = 1.5 must lie in (0.0, 1.0)"),
    ({}, {"mlgate_level": "nan"}, "ini mlgate_level = 'nan' must be a finite number"),
    ({}, {"mlgate_inconclusive": "ignore"}, "ini mlgate_inconclusive = 'ignore': expected one of pass, fail"),
    ({}, {"mlgate": "maybe"}, "ini mlgate = 'maybe' is not a boolean; use true or false"),
    ({}, {"mlgate_required_gates": ["unit smoke"]}, "names unknown gate 'smoke'"),
    ({}, {"mlgate_signing_key": "-----BEGIN PRIVATE KEY-----"}, "holds a key itself"),
])
def test_a_bad_value_names_where_it_came_from(tmp_path: Path, cli: dict[str, Any], ini: dict[str, Any],
                                              message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolved(tmp_path, cli=cli, ini=ini)
    assert message in str(info.value)


def test_a_signing_key_path_is_made_absolute_and_env_is_kept(tmp_path: Path) -> None:
    assert resolved(tmp_path, ini={"mlgate_signing_key": "keys/k.pem"}).signing_key == str(tmp_path / "keys" / "k.pem")
    assert resolved(tmp_path, ini={"mlgate_signing_key": "env:KEY"}).signing_key == "env:KEY"
