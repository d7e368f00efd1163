"""A minimal headless-Chromium driver for tests (Chrome DevTools Protocol over websocket-client,
already in the lock file): open a page, wait for it to load, collect console errors and uncaught
exceptions, evaluate JavaScript. Debian's ``chromium`` package; no browser download."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.errors: list[str] = []

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict) -> str | None:
        m, p = msg.get("method"), msg.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.errors.append(f"log: {e.get('text')} {e.get('url', '')}")
        return m

    def goto(self, url: str, timeout: float = 60) -> None:
        self.send("Page.navigate", url=url)
        end = time.time() + timeout
        while time.time() < end:
            msg = json.loads(self.ws.recv())
            if self._event(msg) == "Page.loadEventFired":
                break
        # let late scripts and image decoding settle, still collecting console events
        self.ws.settimeout(0.5)
        try:
            while True:
                self._event(json.loads(self.ws.recv()))
        except Exception:  # websocket timeout: the page is quiet
            pass
        finally:
            self.ws.settimeout(timeout)

    def eval(self, expression: str):
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return r.get("result", {}).get("value")


@contextmanager
def browser():
    """Yield a function ``open(url) -> Page`` backed by one headless Chromium."""
    import websocket

    port = _free_port()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                                 "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=1))
                    page = next(t for t in targets if t.get("type") == "page")
                    break
                except (OSError, StopIteration):
                    time.sleep(0.2)
            else:
                raise RuntimeError("headless Chromium did not start")
            ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)

            def open_page(url: str) -> Page:
                pg = Page(ws)
                for domain in ("Page", "Runtime", "Log"):
                    pg.send(f"{domain}.enable")
                pg.goto(url)
                return pg
            yield open_page
            ws.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
