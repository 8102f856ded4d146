"""``mlgate serve``: a verified artefact answering HTTP requests (docs/serving.md)."""

from __future__ import annotations

import argparse
from typing import Any

from pytest_mlgate.defaults import DEFAULT_REGISTRY


def register(subparsers: Any) -> None:
    help_ = ("Serve a verified artefact over HTTP: GET /ping, /health, /metadata and "
             "POST /invocations.")
    p: argparse.ArgumentParser = subparsers.add_parser("serve", help=help_, description=help_)
    p.add_argument("ref", metavar="REF", help="name, name@alias, name@VERSION or a path")
    p.add_argument("--registry", default=DEFAULT_REGISTRY, metavar="PATH",
                   help=f"registry directory (default {DEFAULT_REGISTRY})")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                   "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: a free port, "
                   "named in the line printed when the server is ready)")
    p.add_argument("--trusted", action="extend", nargs="+", default=None, metavar="T",
                   help="skops types to trust beyond skops' defaults, or joblib / pickle for "
                   "such artefacts (as load(trusted=...)); give REF before it")
    p.add_argument("--log-predictions", metavar="PATH", default=None,
                   help="append each answered request (inputs, outputs, latency, request id, "
                   "time) to PATH as a JSON line")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from pytest_mlgate.serve.server import serve

    return serve(args.ref, registry=args.registry, host=args.host, port=args.port,
                 trusted=args.trusted, log_predictions=args.log_predictions)
