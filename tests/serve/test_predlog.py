"""The prediction log file on its own: whole lines from many threads, a torn last line cut off."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pytest_mlgate.errors import ConfigError
from pytest_mlgate.serve.predlog import PredictionLog


def test_many_threads_append_whole_lines(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.jsonl")
    big = "x" * 100_000  # a line far beyond one pipe buffer: still written whole

    def write(t: int) -> None:
        for i in range(50):
            assert log.append({"thread": t, "i": i, "pad": big if i % 10 == 0 else ""})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    records = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert sorted((r["thread"], r["i"]) for r in records) == [(t, i) for t in range(8) for i in range(50)]
    assert log.status()["written"] == 400 and log.status()["failed"] == 0


def test_a_line_torn_by_a_crash_is_cut_off_when_the_log_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"request_id": "a"}\n{"request_id": "b", "outp')
    log = PredictionLog(path)
    log.append({"request_id": "c"})
    log.close()
    assert [json.loads(x)["request_id"] for x in path.read_text().splitlines()] == ["a", "c"]


def test_a_directory_is_no_log_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--log-predictions"):
        PredictionLog(tmp_path)
