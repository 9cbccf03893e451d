"""A real headless Chromium driven over the DevTools protocol, for tests of the gallery's pages.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol messages (JSON ended by
a NUL byte) on file descriptor 3 and writes replies and events on 4, so no port, websocket
library or network is involved. Chromium comes from the system (Debian's ``chromium``
package); :func:`find_browser` says where, or None.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

#: executables tried in order (``GANZOO_BROWSER`` first when set)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    named = os.environ.get("GANZOO_BROWSER")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((found for c in CANDIDATES if (found := shutil.which(c))), None)


class BrowserError(AssertionError):
    """The browser did not answer as expected (a test failure, not an infrastructure skip)."""


class Browser:
    """One headless Chromium with one page; ``with Browser(path) as b: b.open(url)``."""

    def __init__(self, executable: str, *, timeout: float = 60.0, size=(1200, 900)) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next_id = 0
        self._profile = tempfile.mkdtemp(prefix="ganzoo-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def plumbing() -> None:  # runs in the child: the pipes become fds 3 and 4
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            executable,
            "--headless",
            "--no-sandbox",  # tests run as root in CI containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=plumbing,
            pass_fds=(3, 4),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        width, height = size
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    # -- the protocol ------------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    self._replies.put(message)
                else:
                    self.events.append(message)
        self._replies.put({"id": -1, "error": {"message": "the browser closed its pipe"}})

    def call(self, method: str, params: dict | None = None, *, session: bool = False) -> dict:
        """Send one command and wait (at most ``timeout`` seconds) for its reply."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            try:
                reply = self._replies.get(timeout=self.timeout)
            except queue.Empty:
                raise BrowserError(f"no reply to {method} within {self.timeout} s") from None
            if reply["id"] in (self._next_id, -1):
                break
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def _wait_event(self, method: str, after: int) -> dict:
        import time

        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for event in self.events[after:]:
                if event.get("method") == method and event.get("sessionId") == self.session:
                    return event
            time.sleep(0.02)
        raise BrowserError(f"no {method} within {self.timeout} s")

    # -- what tests use ----------------------------------------------------------------------
    def open(self, url: str) -> None:
        """Navigate and wait for the load event (every image and script loaded or failed)."""
        mark = len(self.events)
        reply = self.call("Page.navigate", {"url": url}, session=True)
        if reply.get("errorText"):
            raise BrowserError(f"cannot open {url}: {reply['errorText']}")
        self._wait_event("Page.loadEventFired", mark)

    def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); a JS exception fails."""
        reply = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error in {expression[:60]!r}: {text}")
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads the pages reported so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(details.get("exception", {}).get("description") or str(details))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        return found

    def screenshot(self, path: Path) -> Path:
        data = self.call(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True
        )["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
