"""``mlgate serve`` as a user runs it: a subprocess on a free loopback port serving a model that a
real gate-mode run published, talked to over HTTP. Every endpoint, every request format, and
every bad request answered with a 400 (or 413/415) that names what is wrong, while the server
keeps serving."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

import pytest_mlgate
from pytest_mlgate.delivery import LocalRegistry

from .helpers import Server, publish_by_run, request, run_serve, serving

X, Y = load_breast_cancer(return_X_y=True, as_frame=True)
ROWS = X.iloc[[0, 20, 40, 60, 80, 100, 120]]
TREE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_by_run(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def model(registry: Path) -> Any:
    return pytest_mlgate.load("breast-cancer@latest", registry=registry)


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("log") / "predictions.jsonl"


@pytest.fixture(scope="module")
def server(registry: Path, log_path: Path) -> Iterator[Server]:
    with serving("breast-cancer@latest", "--log-predictions", str(log_path),
                 registry=registry) as srv:
        yield srv
        assert srv.alive(), "the server stopped during the tests:\n" + "".join(srv.lines)


def invoke(server: Server, body: bytes | dict[str, Any] | None, *, query: str = "",
           content_type: str = "application/json", **kw: Any) -> Any:
    return request(f"{server.url}/invocations{query}", body, content_type=content_type, **kw)


def test_ping_health_and_metadata_describe_the_published_artefact(server: Server,
                                                                 registry: Path) -> None:
    ping = request(f"{server.url}/ping")
    assert ping.status == 200
    published = LocalRegistry(registry).artifact("breast-cancer@latest")
    health = request(f"{server.url}/health").json()
    assert (health["name"], health["version"], health["artifact_id"]) == (
        "breast-cancer", 1, published.artifact_id)
    meta = request(f"{server.url}/metadata").json()
    assert meta["signature"]["kind"] == "dataframe"
    assert [c["name"] for c in meta["signature"]["columns"]] == list(X.columns)
    assert {c["dtype"] for c in meta["signature"]["columns"]} == {"float64"}
    assert meta["output"]["predict_proba"] is True and meta["output"]["classes"] == [0, 1]
    assert meta["gates"] == dict.fromkeys(("unit", "integration", "performance", "validation"), "pass")
    accuracy = next(m for m in meta["metrics"] if m["name"] == "accuracy")
    assert 0.9 <= accuracy["value"] <= 1 and accuracy["low"] < accuracy["value"]


def _formats(rows: pd.DataFrame) -> dict[str, tuple[bytes | dict[str, Any], str]]:
    split = rows.to_dict("split")
    return {
        "dataframe_split": ({"dataframe_split": {"columns": split["columns"], "data": split["data"]}},
                            "application/json"),
        "dataframe_records": ({"dataframe_records": rows.to_dict("records")}, "application/json"),
        "instances as rows": ({"instances": rows.to_numpy().tolist()}, "application/json"),
        "instances as records": ({"instances": rows.to_dict("records")}, "application/json"),
        "inputs as columns": ({"inputs": rows.to_dict("list")}, "application/json"),
        "inputs as rows": ({"inputs": rows.to_numpy().tolist()}, "application/json"),
        "csv": (rows.to_csv(index=False).encode(), "text/csv"),
        "csv with charset": (rows.to_csv(index=False).encode(), "text/csv; charset=utf-8"),
    }


@pytest.mark.parametrize("fmt", list(_formats(ROWS.head(1))))
def test_every_request_format_predicts_what_the_loaded_model_predicts(server: Server, model: Any,
                                                                      fmt: str) -> None:
    body, content_type = _formats(ROWS)[fmt]
    answer = invoke(server, body, content_type=content_type)
    assert answer.status == 200, answer.body
    assert answer.json() == {"predictions": model.predict(ROWS).tolist()}


def test_probabilities_when_asked_in_params_or_in_the_query(server: Server, model: Any) -> None:
    split = ROWS.to_dict("split")
    body = {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
    # The same numbers up to the last bits: the server's frame has another memory layout than
    # the slice ROWS, and BLAS sums in another order.
    expected = model.predict_proba(ROWS)
    by_params = invoke(server, {**body, "params": {"predict_proba": True}}).json()
    assert by_params["classes"] == [0, 1]
    np.testing.assert_allclose(by_params["predictions"], expected, rtol=1e-12, atol=1e-15)
    by_query = invoke(server, body, query="?predict_proba=true").json()
    assert by_query == by_params
    csv = invoke(server, ROWS.to_csv(index=False).encode(), content_type="text/csv",
                 query="?predict_proba=1").json()
    assert csv == by_params
    assert invoke(server, {**body, "params": {"predict_proba": False}}).json() == {
        "predictions": model.predict(ROWS).tolist()}


def test_columns_are_reordered_and_extra_columns_dropped(server: Server, model: Any,
                                                         log_path: Path) -> None:
    shuffled = ROWS[list(reversed(ROWS.columns))].assign(patient_id=[f"p{i}" for i in range(len(ROWS))])
    answer = invoke(server, {"dataframe_records": shuffled.to_dict("records")},
                    headers={"X-Request-ID": "reorder-check"})
    assert answer.status == 200, answer.body
    assert answer.json()["predictions"] == model.predict(ROWS).tolist()
    record = next(json.loads(line) for line in log_path.read_text().splitlines()
                  if json.loads(line)["request_id"] == "reorder-check")
    assert record["dropped_columns"] == ["patient_id"]
    assert record["inputs"]["columns"] == list(X.columns)  # what the model was given, in order


def test_integers_and_numeric_text_are_cast_to_the_float_columns(server: Server, model: Any) -> None:
    rows = ROWS.head(2).copy()
    body = rows.to_dict("split")
    data = [list(r) for r in body["data"]]
    data[0][0] = round(data[0][0])  # an int where a float64 is stored
    data[1][1] = repr(data[1][1])  # a number written as text
    expected_rows = rows.copy()
    expected_rows.iloc[0, 0] = float(data[0][0])
    answer = invoke(server, {"dataframe_split": {"columns": body["columns"], "data": data}})
    assert answer.status == 200, answer.body
    assert answer.json()["predictions"] == model.predict(expected_rows).tolist()


def _bad(server: Server, body: Any, *, content_type: str = "application/json",
         query: str = "", status: int = 400) -> str:
    answer = invoke(server, body, content_type=content_type, query=query)
    assert answer.status == status, answer.body
    doc = answer.json()
    assert set(doc) == {"error_code", "message"}
    if status == 400:
        assert doc["error_code"] == "BAD_REQUEST"
    return str(doc["message"])


def test_a_missing_column_names_the_column_and_its_type(server: Server) -> None:
    rows = ROWS.drop(columns=["worst area"])
    for body in ({"dataframe_split": rows.to_dict("split")},
                 {"dataframe_records": rows.to_dict("records")},
                 {"inputs": rows.to_dict("list")}):
        message = _bad(server, body)
        assert "'worst area'" in message and "missing" in message and "float64" in message
    message = _bad(server, rows.to_csv(index=False).encode(), content_type="text/csv")
    assert "'worst area'" in message and "float64" in message
    # rows without names must give every column, in order
    message = _bad(server, {"instances": rows.to_numpy().tolist()})
    assert "29 values" in message and "all 30 columns" in message


def test_a_value_that_cannot_be_cast_names_the_column_row_and_type(server: Server) -> None:
    split = ROWS.to_dict("split")
    for bad in ("abc", [1, 2], {"x": 1}, True):
        data = [list(r) for r in split["data"]]
        data[3][4] = bad
        message = _bad(server, {"dataframe_split": {"columns": split["columns"], "data": data}})
        assert "column 'mean smoothness', row 3" in message and "float64 (a number)" in message
    text = ROWS.astype(object)
    text.iloc[2, 0] = "twelve"
    message = _bad(server, text.to_csv(index=False).encode(), content_type="text/csv")
    assert "column 'mean radius', row 2: 'twelve'" in message


def test_malformed_json_empty_bodies_and_wrong_shapes_are_refused(server: Server) -> None:
    assert "not valid JSON" in _bad(server, b'{"dataframe_split": {"columns": [')
    assert "not valid JSON" in _bad(server, b'{"inputs": [[NaN, 1]]}')  # NaN is no JSON
    assert "not valid JSON" in _bad(server, b"\xff\xfe\x00garbage")
    assert "empty" in _bad(server, b"")
    assert "empty" in _bad(server, b"   \n")
    assert "empty" in _bad(server, b"", content_type="text/csv")
    assert "not an object" in _bad(server, b"[1, 2, 3]")
    assert "exactly one of" in _bad(server, {"rows": []})
    assert "exactly one of" in _bad(server, {"instances": [], "inputs": []})
    assert "no rows" in _bad(server, {"dataframe_records": []})
    assert "must be a list of rows" in _bad(server, {"dataframe_split": {"columns": ["a"], "data": 3}})
    assert "unknown parameter 'temperature'" in _bad(server, {"inputs": [], "params": {"temperature": 1}})
    assert "expected true or false" in _bad(server, {"inputs": [], "params": {"predict_proba": "yes"}})
    assert "unknown query parameter 'proba'" in _bad(server, {"inputs": []}, query="?proba=1")
    assert "column 'mean radius' is given twice" in _bad(
        server, {"dataframe_split": {"columns": ["mean radius", "mean radius"], "data": [[1, 2]]}})
    assert "not supported" in _bad(server, b"<xml/>", content_type="application/xml", status=415)
    assert "charset" in _bad(server, b"{}", content_type="application/json; charset=latin-1",
                             status=415)


def _raw(server: Server, head: bytes, chunks: Iterator[bytes] | None = None) -> bytes:
    """Send a request by hand and return the start of the answer."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks or ():
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed the connection before the end: expected
        reply = b""
        try:
            while len(reply) < 65536 and (data := sock.recv(65536)):
                reply += data
        except OSError:
            pass  # reset after the answer
        return reply


def test_a_huge_body_is_refused_with_413_and_the_server_keeps_serving(server: Server,
                                                                      model: Any) -> None:
    # Over the 64 MiB limit, declared by its length: refused before the body is read.
    reply = _raw(server, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\nContent-Length: %d\r\n\r\n" % (65 << 20))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert body["error_code"] == "REQUEST_TOO_LARGE"
    assert "larger than 64 MiB" in body["message"] and "smaller batches" in body["message"]
    # And one that hides its size (chunked, no Content-Length): refused once 64 MiB arrived.
    chunk = b"1.0," * (1 << 18)
    reply = _raw(server, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                 (b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(80)))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    answer = invoke(server, {"inputs": ROWS.to_dict("list")})
    assert answer.json()["predictions"] == model.predict(ROWS).tolist()


def test_unknown_paths_and_methods_are_json_errors(server: Server) -> None:
    missing = request(f"{server.url}/predict", {"inputs": []})
    assert missing.status == 404 and "/invocations" in missing.json()["message"]
    wrong = request(f"{server.url}/invocations")
    assert wrong.status == 405 and wrong.json()["error_code"] == "METHOD_NOT_ALLOWED"


def test_after_every_bad_request_the_server_is_still_up(server: Server) -> None:
    assert server.alive()
    assert request(f"{server.url}/ping").status == 200


def test_the_prediction_log_has_one_whole_line_per_request_under_concurrency(
        server: Server, log_path: Path, model: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rows = ROWS.head(3)

    def one(i: int) -> str:
        answer = invoke(server, {"dataframe_records": rows.to_dict("records")},
                        headers={"X-Request-ID": f"conc-{i}"})
        assert answer.status == 200
        return answer.headers["x-request-id"]

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(one, range(160)))
    assert ids == [f"conc-{i}" for i in range(160)]
    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is a whole JSON record
    mine = {r["request_id"]: r for r in records if r["request_id"].startswith("conc-")}
    assert set(mine) == set(ids)
    expected = model.predict(rows).tolist()
    for r in mine.values():
        assert r["outputs"] == expected and r["rows"] == 3 and r["latency_ms"] > 0
        assert r["inputs"]["data"] == rows.to_numpy().tolist()
        assert r["model"]["name"] == "breast-cancer" and r["timestamp"].endswith("Z")
    health = request(f"{server.url}/health").json()
    assert health["prediction_log"]["written"] == len(records)
    assert health["prediction_log"]["failed"] == 0


# -- other signatures: integers, booleans, text, categories; arrays ---------------------------
@pytest.fixture(scope="module")
def mixed_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from pytest_mlgate.delivery import stage_candidate

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({
        "age": rng.integers(18, 90, n).astype("int64"),
        "smoker": rng.random(n) > 0.5,
        "region": rng.choice(["north", "south", "east"], n).astype(object),
        "bmi": rng.normal(25, 4, n),
    })
    y = (frame["age"] > 50) ^ frame["smoker"]
    columns = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
                                 ("num", "passthrough", ["age", "smoker", "bmi"])])
    mixed = make_pipeline(columns, HistGradientBoostingClassifier(max_iter=10)).fit(frame, y)
    root = tmp_path_factory.mktemp("mixed")
    reg = LocalRegistry(root / "registry")
    reg.publish(stage_candidate(mixed, name="mixed", example=frame.head(4),
                                staging_dir=root / "staging"), {})
    arr = X.to_numpy()[:, :4]
    array_model = LogisticRegression(max_iter=2000).fit(arr, Y)
    reg.publish(stage_candidate(array_model, name="array", example=arr[:3],
                                staging_dir=root / "staging"), {})
    return root / "registry"


@pytest.fixture(scope="module")
def mixed_server(mixed_registry: Path) -> Iterator[Server]:
    # HistGradientBoosting holds a type outside skops' defaults: trusted on the command line.
    with serving("mixed", "--trusted", TREE, registry=mixed_registry) as srv:
        yield srv


def test_typed_columns_are_cast_only_when_nothing_is_lost(mixed_server: Server,
                                                          mixed_registry: Path) -> None:
    model = pytest_mlgate.load("mixed", [TREE], registry=mixed_registry)
    good = [{"age": 61, "smoker": True, "region": "north", "bmi": 22},
            {"age": 30.0, "smoker": False, "region": "east", "bmi": "27.5"}]
    answer = invoke(mixed_server, {"dataframe_records": good})
    assert answer.status == 200, answer.body
    frame = pd.DataFrame({"age": [61, 30], "smoker": [True, False], "region": ["north", "east"],
                          "bmi": [22.0, 27.5]})
    assert answer.json()["predictions"] == model.predict(frame).tolist()
    csv = "region,bmi,age,smoker\nnorth,22,61,True\neast,27.5,30,false\n"
    assert invoke(mixed_server, csv.encode(), content_type="text/csv").json() == answer.json()

    def refused(change: dict[str, Any]) -> str:
        return _bad(mixed_server, {"dataframe_records": [{**good[0], **change}]})

    assert "column 'age', row 0: 61.5 cannot be cast to int64 (an integer) (it has a fractional part)" in refused({"age": 61.5})
    assert "column 'age', row 0: None cannot be cast to int64" in refused({"age": None})
    assert "column 'age'" in refused({"age": "sixty"})
    assert "column 'age'" in refused({"age": 10**20})
    assert "column 'smoker', row 0: 'yes' cannot be cast to bool (true or false)" in refused({"smoker": "yes"})
    assert "column 'region', row 0: 3 cannot be cast to" in refused({"region": 3}) and "(text)" in refused({"region": 3})
    assert "column 'bmi'" in refused({"bmi": "heavy"})


def test_an_array_model_takes_nested_lists_of_its_width(mixed_registry: Path) -> None:
    model = pytest_mlgate.load("array", registry=mixed_registry)
    rows = X.to_numpy()[:5, :4]
    with serving("array", registry=mixed_registry) as srv:
        meta = request(f"{srv.url}/metadata").json()
        assert meta["signature"] == {"kind": "ndarray", "dtype": "float64", "shape": [None, 4]}
        for key in ("instances", "inputs"):
            answer = invoke(srv, {key: rows.tolist()})
            assert answer.json() == {"predictions": model.predict(rows).tolist()}
        message = _bad(srv, {"inputs": X.to_numpy()[:2, :3].tolist()})
        assert "shape (2, 3)" in message and "(4,)" in message
        assert "wrap a single row" in _bad(srv, {"inputs": rows[0].tolist()})
        assert "named columns" in _bad(srv, {"dataframe_records": [{"a": 1}]})
        message = _bad(srv, {"inputs": [[1, 2, 3, 4], [1, 2, 3, 4.5], [1, 2, "x", 4]]})
        assert "column '[:, 2]', row 2: 'x' cannot be cast to float64" in message


# -- refusing to start ---------------------------------------------------------------------------
def test_an_unknown_reference_or_a_tampered_artefact_does_not_start(registry: Path,
                                                                    tmp_path: Path) -> None:
    unknown = run_serve("breast-cancer@production", "--registry", str(registry))
    assert unknown.returncode == 2
    assert "production" in unknown.stderr and "Traceback" not in unknown.stderr
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(registry, copy)
    card = copy / "breast-cancer" / "1" / "README.md"
    card.write_text(card.read_text() + "\nedited\n")
    tampered = run_serve("breast-cancer@1", "--registry", str(copy))
    assert tampered.returncode == 2
    assert "README.md" in tampered.stderr and "the manifest says" in tampered.stderr
    assert "Traceback" not in tampered.stderr


def test_types_outside_skops_defaults_need_trusted(mixed_registry: Path) -> None:
    proc = run_serve("mixed", "--registry", str(mixed_registry))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert TREE in proc.stderr and "--trusted" in proc.stderr


def test_a_port_in_use_is_a_clear_error(registry: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        proc = run_serve("breast-cancer", "--registry", str(registry), "--port", str(port))
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr


def test_a_log_file_that_cannot_be_written_is_refused_at_start(registry: Path, tmp_path: Path) -> None:
    proc = run_serve("breast-cancer", "--registry", str(registry), "--log-predictions",
                     str(tmp_path / "no-such-dir" / "log.jsonl"))
    assert proc.returncode == 2
    assert "--log-predictions" in proc.stderr and "does not exist" in proc.stderr
