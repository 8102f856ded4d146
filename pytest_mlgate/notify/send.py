"""Sending a notification to every target, when ``mlgate_notify_on`` says it is due.

A target that cannot be reached, does not answer within the timeout or answers an error gives
an ``Outcome`` that says so; nothing here raises for it, so the caller's verdict and exit status
never depend on a notification. Targets are sent to at once, each in a thread of its own, so
that the whole takes about ``timeout_s`` at most, however many are slow.
"""

from __future__ import annotations

import ipaddress
import os
import smtplib
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_mlgate.notify.config import SMTPS_PORT, NotifyConfig
from pytest_mlgate.notify.message import Notification, run_url
from pytest_mlgate.notify.targets import MASK, Target, TargetError, scrub, secrets_of

ANSWER_CHARS = 200  # how much of an error answer a message quotes
USER_ENV, PASSWORD_ENV = "MLGATE_SMTP_USER", "MLGATE_SMTP_PASSWORD"  # variable names


@dataclass(frozen=True)
class Outcome:
    """What became of one target (``target`` as messages name it, secrets masked), or of the
    state file (``target`` "state file PATH"). ``message`` never holds a secret."""

    target: str
    ok: bool
    message: str
    action: str = "notify"  # or "run": the retraining trigger (trigger.py)

    def __str__(self) -> str:
        done, failed = ("ran", "failed:") if self.action == "run" else ("notified", "could not notify")
        if self.ok:
            return f"{done} {self.target}" + (f": {self.message}" if self.message else "")
        return f"{failed} {self.target}: {self.message}"


class _Failed(Exception):
    """One target failed; the message says why, in words, without secrets."""


def due(n: Notification, cfg: NotifyConfig) -> tuple[bool, list[Outcome]]:
    """Whether ``n`` is to be sent under ``cfg.on``, and a problem with the state file if one
    was found (on ``change``, an unreadable file counts as no record)."""
    if cfg.on == "always":
        return True, []
    if cfg.on == "failure":
        return not n.healthy, []
    previous, problems = _previous(n, cfg)
    return n.verdict != previous, problems


def _healthy_verdict(n: Notification) -> str:
    return "pass" if n.source == "ci" else "healthy"


def _previous(n: Notification, cfg: NotifyConfig) -> tuple[str, list[Outcome]]:
    """The last verdict recorded for ``n``'s key; a key never recorded counts as healthy (so a
    first failure is news, a first pass is not)."""
    if cfg.state_path is None:
        return _healthy_verdict(n), []
    from pytest_mlgate.notify.state import StateError, last_verdict

    try:
        last = last_verdict(cfg.state_path, n.key)
    except StateError as exc:
        return _healthy_verdict(n), [Outcome(f"state file {cfg.state_path}", False, str(exc))]
    return (last or _healthy_verdict(n)), []


def send_all(n: Notification, cfg: NotifyConfig, *, timeout_s: float = 10.0,
             env: Mapping[str, str] | None = None) -> list[Outcome]:
    """Send ``n`` to every target of ``cfg`` when ``cfg.on`` says it is due; one Outcome per
    target (none when nothing was due), plus one for a state file that could not be read or
    written. ``env`` (default: os.environ) gives the CI run's link and the SMTP credentials.
    On ``change`` the new verdict is recorded only when every target took the notification,
    so that a change a target missed is sent again on the next run."""
    env = os.environ if env is None else env
    send, outcomes = due(n, cfg)
    if send and cfg.targets:
        link = run_url(env)
        outcomes += _send_each(cfg.targets, lambda t: _send_one(t, n, cfg, timeout_s, env, link), timeout_s)
    if cfg.on == "change" and cfg.state_path is not None and all(o.ok for o in outcomes):
        from pytest_mlgate.notify.state import StateError, last_verdict, record_verdict

        try:
            if not send or last_verdict(cfg.state_path, n.key) != n.verdict:
                record_verdict(cfg.state_path, n.key, n.verdict, healthy=n.healthy)
        except StateError as exc:
            outcomes.append(Outcome(f"state file {cfg.state_path}", False, str(exc)))
    return outcomes


def _send_each(targets: tuple[Target, ...], send: Callable[[Target], str], timeout_s: float) -> list[Outcome]:
    """Run ``send`` for every target at once; a target still running after the deadline has
    timed out (its thread is a daemon and is left to end by itself)."""
    results: dict[int, Outcome] = {}

    def work(i: int, target: Target) -> None:
        try:
            results[i] = Outcome(str(target), True, send(target))
        except _Failed as exc:
            results[i] = Outcome(str(target), False, str(exc))
        except Exception as exc:  # a bug of ours must not stop the run either
            results[i] = Outcome(str(target), False, f"{type(exc).__name__} while sending")

    threads = [threading.Thread(target=work, args=(i, t), daemon=True, name=f"mlgate-notify-{i}")
               for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    # The sockets time out after timeout_s themselves; the grace covers DNS and TLS set-up.
    deadline = timeout_s * 1.5 + 1.0
    import time

    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return [results.get(i) or Outcome(str(t), False, f"no answer within {timeout_s:g} s (timed out)")
            for i, t in enumerate(targets)]


def _send_one(target: Target, n: Notification, cfg: NotifyConfig, timeout_s: float,
              env: Mapping[str, str], link: str | None) -> str:
    from pytest_mlgate.notify import payloads

    try:
        address = target.resolve(env)
    except TargetError as exc:
        raise _Failed(str(exc)) from None
    if target.kind == "email":
        return _send_email(cfg, payloads.email_message(n, sender=_sender(cfg), to=address, run_url=link),
                           timeout_s, env)
    from pytest_mlgate.strict_json import line

    doc = (payloads.webhook_document(n, run_url=link) if target.kind == "webhook"
           else payloads.slack_message(n, run_url=link))
    return _post(address, line(doc), timeout_s)


def _sender(cfg: NotifyConfig) -> str:
    return cfg.smtp_from or f"pytest-mlgate@{socket.gethostname() or 'localhost'}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is an error: urllib would turn the POST into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post(url: str, body: bytes, timeout_s: float) -> str:
    from pytest_mlgate import __version__

    secrets = secrets_of(url)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": f"pytest-mlgate/{__version__}"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout_s) as answer:
            answer.read(ANSWER_CHARS)
            return f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(ANSWER_CHARS).decode("utf-8", "replace").strip()
        except Exception:
            text = ""
        where = f" (redirect to {MASK})" if 300 <= exc.code < 400 else ""
        said = f": {' '.join(text.split())}" if text else ""
        raise _Failed(scrub(f"answered HTTP {exc.code} {exc.reason}{where}{said}", secrets)) from None
    except urllib.error.URLError as exc:
        raise _Failed(scrub(_why(exc.reason, timeout_s), secrets)) from None
    except (OSError, ValueError) as exc:  # socket.timeout while reading, a bad status line
        raise _Failed(scrub(_why(exc, timeout_s), secrets)) from None


def _why(reason: Any, timeout_s: float) -> str:
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout_s:g} s (timed out)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the server down?)"
    if isinstance(reason, socket.gaierror):
        return f"the host name could not be resolved ({reason.strerror or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return f"unreachable: {reason.strerror}"
    return f"unreachable: {reason}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _send_email(cfg: NotifyConfig, msg: Any, timeout_s: float, env: Mapping[str, str]) -> str:
    """Send through ``cfg.smtp_host``: implicit TLS on port 465; elsewhere STARTTLS whenever
    the server offers it. Credentials come from MLGATE_SMTP_USER / MLGATE_SMTP_PASSWORD only,
    and are never sent unencrypted to a server other than this machine."""
    user, password = env.get(USER_ENV, ""), env.get(PASSWORD_ENV, "")
    secrets = [password] if password else []
    if bool(user) != bool(password):
        raise _Failed(f"set both {USER_ENV} and {PASSWORD_ENV} to log in to the SMTP server, or neither")
    server = f"{cfg.smtp_host}:{cfg.smtp_port}"
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if cfg.smtp_port == SMTPS_PORT:
            smtp = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=timeout_s)
        with smtp:
            smtp.ehlo()
            encrypted = cfg.smtp_port == SMTPS_PORT
            if not encrypted and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                encrypted = True
            if user:
                if not encrypted and not _loopback(cfg.smtp_host):
                    raise _Failed(f"the SMTP server {server} does not offer STARTTLS, so the "
                                  f"credentials of {USER_ENV} were not sent unencrypted; use a "
                                  f"server with TLS (or port {SMTPS_PORT})")
                smtp.login(user, password)
            refused = smtp.send_message(msg)
    except _Failed:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        codes = "; ".join(f"{code} {_said(text)}" for code, text in exc.recipients.values())
        raise _Failed(scrub(f"the SMTP server {server} refused the recipient: {codes}", secrets)) from None
    except smtplib.SMTPResponseException as exc:
        raise _Failed(scrub(f"the SMTP server {server} answered {exc.smtp_code} {_said(exc.smtp_error)}",
                            secrets)) from None
    except (smtplib.SMTPException, OSError) as exc:
        why = _why(exc, timeout_s) if isinstance(exc, OSError) else str(exc)
        raise _Failed(scrub(f"SMTP server {server}: {why}", secrets)) from None
    if refused:
        raise _Failed(f"the SMTP server {server} refused {', '.join(refused)}")
    return f"sent through {server}"


def _said(text: Any) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())[:ANSWER_CHARS]
