"""What each kind of target receives: the webhook's JSON document, Slack's incoming-webhook
message (text and blocks; Mattermost shows the text), and the e-mail's subject and body."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from pytest_mlgate.notify.message import Notification

PAYLOAD_SCHEMA = "pytest-mlgate/notification"
PAYLOAD_SCHEMA_VERSION = 1
# Slack's limits: a section's text 3000 characters, a header's 150, 50 blocks a message.
SLACK_SECTION_CHARS = 2900
SLACK_HEADER_CHARS = 150
SHOWN_FAILURES = 10
SHOWN_METRICS = 10


def webhook_document(n: Notification, *, run_url: str | None) -> dict[str, Any]:
    """The JSON document POSTed to a ``webhook`` target (docs/notifications.md)."""
    return {
        "schema": PAYLOAD_SCHEMA,
        "schema_version": PAYLOAD_SCHEMA_VERSION,
        "source": n.source,
        "verdict": n.verdict,
        "healthy": n.healthy,
        "title": n.title,
        "failures": list(n.failures),
        "metrics": [dict(m) for m in n.metrics],
        "model": dict(n.model) if n.model is not None else None,
        "report_path": n.report_path,
        "run_url": run_url,
        "state_key": n.key,
        "sent_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "-" if x is None else str(x)
    if isinstance(x, (int, float)):
        return f"{x:.4g}" if math.isfinite(x) else str(x)
    return str(x)


def metric_line(m: Mapping[str, Any]) -> str:
    """``accuracy = 0.812 [0.78, 0.84] fail (tests/test_model.py::test_accuracy)``."""
    text = f"{m['name']} = {_num(m.get('value'))}"
    if m.get("low") is not None and m.get("high") is not None:
        text += f" [{_num(m['low'])}, {_num(m['high'])}]"
    if m.get("verdict"):
        text += f" {m['verdict']}"
    if m.get("test"):
        text += f" ({m['test']})"
    return text


def model_line(model: Mapping[str, Any] | None) -> str | None:
    if not model:
        return None
    text = str(model.get("name", "model"))
    if model.get("version") is not None:
        text += f" v{model['version']}"
    if model.get("artifact_id"):
        text += f" ({model['artifact_id']})"
    return text


def _more(items: tuple[Any, ...], shown: int) -> str | None:
    return f"... and {len(items) - shown} more" if len(items) > shown else None


def plain_text(n: Notification, *, run_url: str | None) -> str:
    """The message as plain text: the e-mail's body."""
    out = [n.title, "", f"Verdict: {n.verdict}"]
    if (model := model_line(n.model)) is not None:
        out.append(f"Model: {model}")
    if n.failures:
        out += ["", "Why:"] + [f"- {f}" for f in n.failures[:SHOWN_FAILURES]]
        out += [m for m in (_more(n.failures, SHOWN_FAILURES),) if m]
    if n.metrics:
        out += ["", "Metrics:"] + [f"- {metric_line(m)}" for m in n.metrics[:SHOWN_METRICS]]
        out += [m for m in (_more(n.metrics, SHOWN_METRICS),) if m]
    if n.report_path:
        out += ["", f"Report: {n.report_path}"]
    if run_url:
        out.append(f"Run: {run_url}")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    """Slack mrkdwn's three reserved characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bullets(items: tuple[str, ...], shown: int) -> str:
    lines = [f"• {_escape(x)}" for x in items[:shown]]
    lines += [m for m in (_more(items, shown),) if m]
    return _cut("\n".join(lines), SLACK_SECTION_CHARS)


def slack_message(n: Notification, *, run_url: str | None) -> dict[str, Any]:
    """A Slack incoming-webhook message. ``text`` holds the whole message, so that a client that
    does not draw blocks (Mattermost, notifications on a phone) shows it all."""
    icon = ":white_check_mark:" if n.healthy else ":x:"
    text_lines = [f"{icon} *{_escape(n.title)}*"]
    text_lines += [f"• {_escape(f)}" for f in n.failures[:SHOWN_FAILURES]]
    if (model := model_line(n.model)) is not None:
        text_lines.append(f"Model: {_escape(model)}")
    if run_url:
        text_lines.append(f"<{run_url}|CI run>")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(n.title, SLACK_HEADER_CHARS)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} Verdict: *{n.verdict}*"}},
    ]
    if n.failures:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "*Why*\n" + _bullets(n.failures, SHOWN_FAILURES)}})
    if n.metrics:
        lines = tuple(metric_line(m) for m in n.metrics)
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "*Metrics*\n" + _bullets(lines, SHOWN_METRICS)}})
    context = [x for x in (f"Model: {model}" if model else None,
                           f"Report: {n.report_path}" if n.report_path else None) if x]
    if run_url:
        context.append(f"<{run_url}|CI run>")
    if context:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _cut(x if x.startswith("<") else _escape(x), SLACK_SECTION_CHARS)}
            for x in context]})
    return {"text": _cut("\n".join(text_lines), SLACK_SECTION_CHARS), "blocks": blocks}


def email_message(n: Notification, *, sender: str, to: str, run_url: str | None) -> EmailMessage:
    """The e-mail: the title as subject, the plain-text message as body."""
    msg = EmailMessage()
    msg["Subject"] = n.title
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["X-Mlgate-Verdict"] = n.verdict
    msg.set_content(plain_text(n, run_url=run_url))
    return msg
