"""The one JSON encoder and its one NaN policy: a number that is not finite is written as
"nan", "inf" or "-inf" wherever the plugin writes JSON, and never as a bare NaN."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pytest_mlgate import strict_json
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.profiles import profile


def test_a_reading_that_is_not_finite_is_written_as_its_name() -> None:
    m = Measurement(name="r2", value=float("nan"), low=float("-inf"), high=float("inf"))
    text = strict_json.file_bytes(m.to_json()).decode()
    assert '"value": "nan"' in text and '"low": "-inf"' in text and '"high": "inf"' in text
    again = Measurement.from_json(strict_json.loads(text))
    assert math.isnan(again.value) and again.low == -math.inf and again.high == math.inf


def test_info_fields_follow_the_same_policy_numpy_included() -> None:
    info = {"ratio": np.float32("nan"), "rows": np.int64(3), "ok": True, "where": ("a", 1),
            1: float("inf"), "path": pytest}
    assert strict_json.jsonable(info) == {"ratio": "nan", "rows": 3.0, "ok": True,
                                          "where": ["a", 1], "1": "inf", "path": str(pytest)}


def test_a_profile_keeps_an_infinite_value_readable() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, math.inf]})
    doc = strict_json.loads(strict_json.file_bytes(profile(frame).to_json()))
    (col,) = doc["columns"]
    assert col["values"] == [1.0, 2.0, "inf"]


def test_the_encoder_refuses_a_bare_nan_that_got_past() -> None:
    with pytest.raises(ValueError):
        strict_json.dumps({"value": float("nan")})
    with pytest.raises(ValueError):
        strict_json.loads('{"value": NaN}')


def test_files_are_indented_sorted_and_newline_terminated_and_hashes_canonical() -> None:
    assert strict_json.file_bytes({"b": 1, "a": [1, 2]}) == b'{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert strict_json.file_bytes({"b": 1, "a": 2}, indent=None) == b'{"a": 2, "b": 1}\n'
    assert strict_json.canonical({"b": "é", "a": 1.5}) == b'{"a":1.5,"b":"\\u00e9"}'
    assert json.loads(strict_json.canonical({"b": "é"})) == {"b": "é"}
