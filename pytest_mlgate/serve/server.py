"""``mlgate serve``: the model loaded and verified first, then uvicorn on a socket bound here.

Binding before uvicorn starts turns a port in use into a clear error, and lets ``--port 0``
take a free port: the line printed when the server is ready names the address it listens on.
SIGINT and SIGTERM stop it gracefully (requests in flight are answered).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Sequence

from pytest_mlgate.errors import ConfigError, ServeError

READY = "mlgate: serving"  # the start of the line printed once the server takes requests


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port number; give 0 to 65535 (0: any free port).")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host!r} is not an address this machine has ({exc.strerror}); "
                         "give an address such as 127.0.0.1, or 0.0.0.0 for every interface."
                         ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); another "
                         "program may hold the port: choose another with --port (0 takes a free "
                         "one).") from None
    sock.set_inheritable(True)
    return sock


def serve(ref: str, *, registry: str | os.PathLike[str] | None, host: str, port: int,
          trusted: Sequence[str] | None, log_predictions: str | None,
          announce: Callable[[str], None] | None = None) -> int:
    """Load ``ref``, then answer requests until SIGINT or SIGTERM; returns the exit status."""
    try:
        import uvicorn

        from pytest_mlgate.serve.app import build_app
    except ImportError as exc:
        raise ServeError(f"mlgate serve needs {exc.name or 'starlette and uvicorn'}: install the "
                         "serve extra, pip install 'pytest-mlgate[serve]'.") from None
    from pytest_mlgate.serve.model import load_served
    from pytest_mlgate.serve.predlog import PredictionLog

    served = load_served(ref, registry=registry, trusted=trusted)
    log = PredictionLog(log_predictions) if log_predictions else None
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    config = uvicorn.Config(build_app(served, log=log), log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    say = announce or (lambda text: print(text, flush=True))
    logged = f", logging predictions to {log.path}" if log is not None else ""
    say(f"{READY} {served.label} ({served.artifact_id[:19]}) on http://{shown}:{bound_port}"
        f"{logged}; Ctrl-C stops it")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if log is not None:
            log.close()
    sys.stdout.flush()
    return 0
