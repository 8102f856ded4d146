"""The HTTP application (starlette): ``GET /ping``, ``GET /health``, ``GET /metadata`` and
``POST /invocations``. Every error a client can cause is a JSON body
``{"error_code": ..., "message": ...}``; the server never stops for one. Parsing and prediction
run in worker threads, as many at once as the machine has cores, so a slow request never holds
up ``/ping``."""

from __future__ import annotations

import os
import re
import time
import uuid
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pytest_mlgate.delivery.serialize import json_value
from pytest_mlgate.serve.model import ServedModel
from pytest_mlgate.serve.payload import parse
from pytest_mlgate.serve.predlog import PredictionLog
from pytest_mlgate.serve.signature import BadRequest

MIB = 1 << 20
MAX_BODY_BYTES = 64 * MIB  # a request larger than this is refused with 413
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")
ENDPOINTS = "GET /ping, GET /health, GET /metadata and POST /invocations"
_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def error(status: int, message: str, request_id: str | None = None) -> JSONResponse:
    # 400 is BAD_REQUEST (the contract); the others say what they are.
    headers = {"X-Request-ID": request_id} if request_id else None
    return JSONResponse({"error_code": _ERROR_CODES.get(status, "INTERNAL_ERROR"),
                         "message": message}, status_code=status, headers=headers)


def build_app(served: ServedModel, *, log: PredictionLog | None = None,
              max_body: int = MAX_BODY_BYTES) -> Starlette:
    limiter = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def health(request: Request) -> Response:
        body = served.health()
        if log is not None:
            body["prediction_log"] = log.status()
        return JSONResponse(body)

    async def metadata(request: Request) -> Response:
        return JSONResponse(served.metadata)

    async def invocations(request: Request) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        started = time.perf_counter()
        try:
            body = await _read_body(request, max_body)
            content_type = request.headers.get("content-type")
            query = dict(request.query_params)
            answer, record = await anyio.to_thread.run_sync(
                _answer, served, body, content_type, query, log is not None, limiter=limiter)
        except BadRequest as exc:
            return error(exc.status, exc.message, request_id)
        latency_ms = (time.perf_counter() - started) * 1e3
        if log is not None and record is not None:
            record.update(request_id=request_id, latency_ms=round(latency_ms, 3),
                          timestamp=_now(), model={"name": served.name, "version": served.version,
                                                   "artifact_id": served.artifact_id})
            await anyio.to_thread.run_sync(log.append, record, limiter=limiter)
        return JSONResponse(answer, headers={"X-Request-ID": request_id})

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, f"no endpoint {request.url.path}; the endpoints are {ENDPOINTS}.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error(405, f"{request.method} {request.url.path} is not served; the endpoints "
                     f"are {ENDPOINTS}.")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return error(status, str(getattr(exc, "detail", "")) or "request refused")

    async def internal(request: Request, exc: Exception) -> Response:
        return error(500, f"the server failed on this request ({type(exc).__name__}); it keeps "
                     "serving. Report it with the request that caused it.")

    routes = [Route("/ping", ping, methods=["GET"]), Route("/health", health, methods=["GET"]),
              Route("/metadata", metadata, methods=["GET"]),
              Route("/invocations", invocations, methods=["POST"])]
    return Starlette(routes=routes, exception_handlers={
        404: not_found, 405: not_allowed, HTTPException: http_error, Exception: internal})


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(_too_large(limit), status=413)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(_too_large(limit), status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> str:
    return (f"the request body is larger than {limit // MIB} MiB, the most this server takes; "
            "send the rows in smaller batches.")


def _answer(served: ServedModel, body: bytes, content_type: str | None, query: dict[str, str],
            keep: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    parsed = parse(body, content_type, query, served.signature)
    answer = served.predict(parsed)
    if not keep:
        return answer, None
    record: dict[str, Any] = {"rows": parsed.rows, "predict_proba": parsed.predict_proba,
                              "inputs": loggable(parsed.data), "outputs": answer["predictions"]}
    if parsed.dropped:
        record["dropped_columns"] = list(parsed.dropped)
    return answer, record


def loggable(data: Any) -> dict[str, Any]:
    """The model's input as JSON: ``{"columns": [...], "data": [[...]]}`` for a frame,
    ``{"data": nested lists}`` for an array."""
    columns = getattr(data, "columns", None)
    if columns is not None:
        rows = data.astype(object).to_numpy().tolist()
        return {"columns": [str(c) for c in columns],
                "data": [[json_value(v) for v in row] for row in rows]}
    from pytest_mlgate.serve.model import to_json

    return {"data": to_json(data)}


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"
