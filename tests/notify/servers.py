"""Real servers on 127.0.0.1 for the notification tests: an HTTP server that records what it
is sent (and can answer late or with an error), an SMTP server (aiosmtpd) that records the
messages, and a port nothing listens on. Each is started and stopped by the test."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpRecorder:
    url: str
    requests: list[Received] = field(default_factory=list)


def free_port() -> int:
    """A port that nothing listens on (bound, then closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_recorder(status: int = 200, delay_s: float = 0.0, answer: bytes = b"ok",
                  path: str = "/hooks/T0SECRET1/B0SECRET2/abcdefSECRETtoken") -> Iterator[HttpRecorder]:
    """An HTTP server on a free loopback port that records each POST, waits ``delay_s`` and
    answers ``status``. ``url`` is its address with ``path`` (a token, as a webhook URL has)."""
    stop = threading.Event()
    recorded: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recorded.append(Received(self.path, dict(self.headers.items()), self.rfile.read(length)))
            if delay_s:
                stop.wait(delay_s)
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpRecorder(f"http://127.0.0.1:{server.server_address[1]}{path}", recorded)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class SmtpRecorder:
    host: str
    port: int
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def smtp_recorder(**controller_kwargs: Any) -> Iterator[SmtpRecorder]:
    """An aiosmtpd server on a free loopback port recording (sender, recipients, message)."""
    from aiosmtpd.controller import Controller

    rec = SmtpRecorder("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = message_from_bytes(envelope.content, policy=policy.default)
            rec.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
            return "250 OK"

    controller = Controller(Handler(), hostname=rec.host, port=rec.port, **controller_kwargs)
    controller.start()
    try:
        yield rec
    finally:
        controller.stop()
