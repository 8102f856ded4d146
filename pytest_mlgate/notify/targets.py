"""Notification targets (ini ``mlgate_notify`` lines) and how each is named in a message:
never with the secret a webhook address carries."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import parse_qsl, urlsplit

from pytest_mlgate.errors import ConfigError

KINDS = ("webhook", "slack", "email")
FORMS = "'webhook URL', 'slack URL' or 'email ADDRESS' (URL may be env:VARIABLE)"
MASK = "***"
# A path segment that reads as a plain word (services, hooks, api) is shown; anything else
# (a token, an id, a key) is masked.
_WORD = re.compile(r"[a-z][a-z_-]{0,15}")
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+|[^@\s<>,;]+@localhost")


class TargetError(Exception):
    """A target's address cannot be used at send time (its environment variable is unset)."""


@dataclass(frozen=True)
class Target:
    """One ``mlgate_notify`` line: ``kind`` is webhook, slack or email; ``address`` a URL, an
    e-mail address, or ``env:VARIABLE`` naming where the URL is (a webhook URL is a secret)."""

    kind: str
    address: str

    def resolve(self, env: Mapping[str, str] | None = None) -> str:
        """The address to send to; TargetError when an ``env:`` variable is unset or holds
        something that is not a URL."""
        if not self.address.startswith("env:"):
            return self.address
        name = self.address[4:]
        value = (os.environ if env is None else env).get(name, "").strip()
        if not value:
            raise TargetError(f"the environment variable {name} is not set")
        problem = _url_problem(value)
        if problem:
            raise TargetError(f"the environment variable {name} {problem}")
        return value

    def __str__(self) -> str:
        """The target as messages name it: ``slack https://hooks.slack.com/services/***/***/***``."""
        if self.kind == "email" or self.address.startswith("env:"):
            return f"{self.kind} {self.address}"
        return f"{self.kind} {mask_url(self.address)}"


def mask_url(url: str) -> str:
    """``url`` without its secrets: userinfo, path segments that are not plain words, query
    values and the fragment are replaced by ``***``; scheme, host and port are kept."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    netloc = (f"{MASK}@" if "@" in parts.netloc else "") + (f"[{host}]" if ":" in host else host)
    if port is not None:
        netloc += f":{port}"
    path = "/".join(s if not s or _WORD.fullmatch(s) else MASK for s in parts.path.split("/"))
    out = f"{parts.scheme}://{netloc}{path}"
    if parts.query:
        out += "?" + "&".join(f"{k}={MASK}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    if parts.fragment:
        out += "#" + MASK
    return out


def secrets_of(url: str) -> list[str]:
    """The parts of ``url`` that ``mask_url`` hides, longest first (for scrubbing a message)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [url, parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""]
    found += [s for s in parts.path.split("/") if s and not _WORD.fullmatch(s)]
    found += [v for _, v in parse_qsl(parts.query, keep_blank_values=True)] + [parts.fragment]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL with a host"
    return None


def parse_targets(lines: Sequence[str], *, key: str = "ini mlgate_notify") -> tuple[Target, ...]:
    """``mlgate_notify`` lines -> targets; ConfigError naming the line and the accepted forms.
    Blank lines and ``#`` comments are skipped."""
    out: list[Target] = []
    for raw in lines:
        line = str(raw).strip()
        if not line or line.startswith("#"):
            continue
        kind, _, rest = line.partition(" ")
        kind, address = kind.lower(), rest.strip()
        if kind not in KINDS or not address or len(address.split()) != 1:
            raise ConfigError(f"{key} line {line!r} is not a target; write one target per line: {FORMS}")
        if kind == "email":
            name, addr = parseaddr(address)
            if name or addr != address or not _ADDRESS.fullmatch(address):
                raise ConfigError(f"{key} line {line!r}: {address!r} is not an e-mail address such as "
                                  "team@example.com (one address per line)")
        elif address.startswith("env:"):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", address[4:]):
                raise ConfigError(f"{key} line {line!r}: {address[4:]!r} is not an environment "
                                  "variable name; write env:VARIABLE")
        else:
            problem = _url_problem(address)
            if problem:
                raise ConfigError(f"{key} line {kind} {mask_url(address)}: the address {problem}; "
                                  f"write one target per line: {FORMS}")
        out.append(Target(kind, address))
    return tuple(out)
