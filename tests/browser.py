"""Open a page in headless Chromium with the network off and report what a person would see.

A small DevTools-protocol client over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out, messages
ended by NUL): no port to open, so Chromium can run in a network namespace of its own
(``unshare --net``), where no request can leave the machine. Every request the page makes is
recorded anyway, and so is every console error, uncaught exception and log error.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

# What the page exposes to a test: its sections, its plots, its text.
PROBE = """JSON.stringify({
  title: document.title,
  sections: Array.from(document.querySelectorAll('header[id], section[id]')).map(e => e.id),
  offsets: Object.fromEntries(Array.from(document.querySelectorAll('header[id], section[id]')).map(
      e => [e.id, [e.getBoundingClientRect().top + window.scrollY, e.getBoundingClientRect().height]])),
  plots: Array.from(document.querySelectorAll('figure.plot')).map(f => ({
      kind: f.dataset.kind, svg: f.querySelectorAll(':scope > svg').length,
      width: f.querySelector('svg') ? f.querySelector('svg').getBoundingClientRect().width : 0,
      error: f.querySelector('.plot-error') ? f.querySelector('.plot-error').textContent : null})),
  failures: Array.from(document.querySelectorAll('#failures tbody tr')).map(r => r.innerText),
  banner: document.querySelector('#verdict') ? document.querySelector('#verdict').innerText : '',
  height: document.documentElement.scrollHeight,
  scripts: document.scripts.length,
  external: Array.from(document.querySelectorAll('[src], link[href]')).map(e => e.src || e.href)
})"""


def chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageView:
    """What loading a page showed."""

    probe: dict[str, Any]
    screenshot: bytes
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class _Pipe:
    def __init__(self, proc: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.proc, self.write_fd, self.read_fd = proc, write_fd, read_fd
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.replies: dict[int, dict[str, Any]] = {}
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self.read_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cond:
                    self.cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self.cond:
                    if "id" in msg:
                        self.replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self.cond.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.write_fd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.next_id not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0 or not self.reader.is_alive():
                    raise TimeoutError(f"no answer to {method} from Chromium")
                self.cond.wait(left)
            reply = self.replies.pop(self.next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_event(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e.get("method") == method:
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"Chromium sent no {method}")
                self.cond.wait(left)


def _high(fd: int) -> int:
    """``fd`` moved above the stdio and CDP numbers, so the child's dup2 cannot clobber it."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)
    os.close(fd)
    return moved


def _isolated(cmd: list[str]) -> list[str]:
    """``cmd`` in a network namespace of its own when the machine allows one (as root here)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "--net", *cmd]
    return cmd


def open_page(path: Path, *, width: int = 1200, height: int = 900, timeout: float = 90.0) -> PageView:
    """Load ``path`` in headless Chromium, network off; probe it and take a full-page screenshot."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("Chromium is not installed (apt-get install chromium)")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    child_in, child_out = _high(to_child_r), _high(from_child_w)

    def wire() -> None:
        os.dup2(child_in, 3)
        os.dup2(child_out, 4)

    profile = tempfile.mkdtemp(prefix="mlgate-chromium-")
    cmd = _isolated([exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                     "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update",
                     # and a proxy that goes nowhere, should the namespace not be available
                     "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                     f"--user-data-dir={profile}", f"--window-size={width},{height}",
                     "--hide-scrollbars", "about:blank"])
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=wire, pass_fds=(3, 4), close_fds=True)
    os.close(child_in)
    os.close(child_out)
    pipe = _Pipe(proc, to_child_w, from_child_r)
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            pipe.call(f"{domain}.enable", session=session)
        pipe.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        pipe.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        pipe.wait_event("Page.loadEventFired", timeout=timeout)
        value = pipe.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                          session=session)["result"]["value"]
        probe = json.loads(value)
        shot = pipe.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": width,
                                                             "height": min(int(probe["height"]), 16000),
                                                             "scale": 1}}, session=session, timeout=timeout)
        with pipe.cond:
            events = list(pipe.events)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        os.close(to_child_w)
        shutil.rmtree(profile, ignore_errors=True)
    errors: list[str] = []
    requests: list[str] = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(str(p.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            errors.append(str(p["entry"].get("text")))
        elif method == "Network.requestWillBeSent":
            requests.append(str(p.get("request", {}).get("url")))
    return PageView(probe, base64.b64decode(shot["data"]), errors, requests)


def looks_blank(png: bytes) -> bool:
    """True when the screenshot is (nearly) one colour: nothing was drawn."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.resize((120, max(1, image.height * 120 // max(image.width, 1))))
    colours = small.getcolors(maxcolors=1 << 16) or []
    dominant = max(count for count, _ in colours) if colours else 0
    return len(colours) < 20 or dominant > 0.97 * small.width * small.height
