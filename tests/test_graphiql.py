"""GraphiQL in the development profile, with no internet: its files are served by Kezek (api/graphiql.py), and
headless Chromium renders the page and runs a query through it. The production profile serves none of it.

Chromium is Debian's (`.ci/run` installs it); it is driven over the DevTools protocol with the `websockets`
client, and every request the page makes is recorded: any to another host fails the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from api.graphiql import ASSETS, IDE_PATH, STATIC, page
from tests import data
from tests.served import clean_env, kezek_serve

ROOT = Path(__file__).parent.parent
KEZEK = [sys.executable, "-m", "api.cli"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]
RENDER_TIMEOUT = 60.0  # seconds; a 3.5 MB script on a busy two-core machine


def _sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def test_every_asset_is_local_and_matches_its_integrity() -> None:
    html = page()
    urls = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if not u.startswith("data:")]  # the favicon
    assert urls and all(u.startswith(IDE_PATH + "/") for u in urls), urls
    tags = re.findall(r'(?:src|href)="([^"]+)"\s+integrity="([^"]+)"', html)
    pinned = {url.removeprefix(IDE_PATH + "/"): sri for url, sri in tags}
    assert pinned == {name: _sri(STATIC / name) for name in ASSETS}
    for licence in ("react", "react-dom", "graphiql", "plugin-explorer", "graphiql-explorer"):
        assert "MIT License" in (STATIC / f"LICENSE.{licence}").read_text()


@contextlib.contextmanager
def _kezek(db_url: str, profile: str) -> Iterator[str]:
    env = clean_env(KEZEK_PROFILE=profile, KEZEK_DATABASE_URL=db_url, KEZEK_LOG_LEVEL="WARNING")
    with kezek_serve(KEZEK, env, ROOT) as base:
        yield base


def test_production_serves_no_graphiql(db_url: str) -> None:
    with _kezek(db_url, "production") as base:
        for name in ASSETS:
            assert httpx.get(f"{base}{IDE_PATH}/{name}").status_code == 404
        html = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in html.text.lower()


# --- Chromium over the DevTools protocol ----------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "Chromium is not installed: `.ci/run` installs Debian's package when it is missing "
            "(here: apt-get install -y chromium)"
        )
    return found


class DevTools:
    """Commands answered in order; everything else that arrives meanwhile is kept in `events`."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if reply.get("id") == number:
                assert "error" not in reply, f"{method}: {reply['error']}"
                result = reply.get("result", {})
                assert isinstance(result, dict)
                return result
            self.events.append(reply)

    async def evaluate(self, session: str, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def of(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.events if e.get("method") == method]


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    """Headless Chromium with a profile of its own; closed, and its process group ended, afterwards."""
    executable = _chromium()
    profile.mkdir()
    log = (profile.parent / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            assert proc.poll() is None, f"chromium exited with {proc.returncode}: see {log.name}"
            assert time.monotonic() < deadline, f"chromium opened no DevTools port in 30 s: see {log.name}"
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        async with connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30) as ws:
            tools = DevTools(ws)
            try:
                yield tools
            finally:
                with contextlib.suppress(Exception):
                    await tools.call("Browser.close")
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # helpers of this browser only: its own session's group
        log.close()


EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror')"
RESPONSE = "(document.querySelector('.graphiql-response') || {innerText: ''}).innerText"


async def _until(tools: DevTools, session: str, expression: str, what: str, shot: Path) -> Any:
    deadline = time.monotonic() + RENDER_TIMEOUT
    while time.monotonic() < deadline:
        value = await tools.evaluate(session, expression)
        if value:
            return value
        await asyncio.sleep(0.25)
    screenshot = await tools.call("Page.captureScreenshot", session)
    shot.write_bytes(base64.b64decode(screenshot["data"]))
    failed = [(e["response"]["url"], e["response"]["status"]) for e in tools.of("Network.responseReceived")]
    raise AssertionError(
        f"{what} within {RENDER_TIMEOUT:.0f} s (screenshot {shot}); "
        f"responses: {[f for f in failed if f[1] >= 400]}, "
        f"load failures: {[e.get('errorText') for e in tools.of('Network.loadingFailed')]}, "
        f"exceptions: {[e['exceptionDetails'].get('text') for e in tools.of('Runtime.exceptionThrown')]}, "
        f"page text: {await tools.evaluate(session, 'document.body.innerText.slice(0, 300)')!r}"
    )


async def test_graphiql_renders_and_runs_a_query_with_its_own_assets(db_url: str, tmp_path: Path) -> None:
    _chromium()
    with _kezek(db_url, "development") as base:
        served = httpx.get(f"{base}{IDE_PATH}/graphiql.min.js")
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript")
        assert httpx.get(f"{base}{IDE_PATH}/page.html").status_code == 404  # only the listed assets
        async with chromium(tmp_path / "profile") as tools:
            target = await tools.call("Target.createTarget", url="about:blank")
            session = (await tools.call("Target.attachToTarget", targetId=target["targetId"], flatten=True))[
                "sessionId"
            ]
            for domain in ("Network", "Runtime", "Page"):
                await tools.call(f"{domain}.enable", session)
            await tools.call("Page.navigate", session, url=f"{base}/graphql")
            shot = tmp_path / "graphiql.png"
            await _until(tools, session, f"{EDITOR} !== null", "GraphiQL's query editor did not render", shot)

            # GraphiQL may still put its default query into an editor that has rendered (seen on a busy machine):
            # the query is typed again, and run, until the editor holds it and the result pane shows its data; a
            # run with no answer yet is given 2 s (a click while it runs would stop it).
            run_query = f"""(() => {{
                const editor = {EDITOR}.CodeMirror, query = '{{ regions {{ code }} }}';
                const stale = Date.now() - (window.kezekRunAt || 0) > 2000;
                if (editor.getValue() !== query || ({RESPONSE} === '' && stale)) {{
                    editor.setValue(query);
                    window.kezekRunAt = Date.now();
                    document.querySelector('.graphiql-execute-button').click();
                }}
                return {RESPONSE}.includes('{data.KARAGANDA_REGION}') && {RESPONSE};
            }})()"""
            shown = await _until(tools, session, run_query, "the result pane did not show the query's data", shot)
            assert '"regions"' in shown and data.SKO_REGION in shown, shown

            requests = [e["request"]["url"] for e in tools.of("Network.requestWillBeSent")]
            elsewhere = [u for u in requests if urlsplit(u).scheme not in {"data", "about"} and not u.startswith(base)]
            assert elsewhere == [], f"the page asked other hosts: {elsewhere}"
            ok = {e["response"]["url"] for e in tools.of("Network.responseReceived") if e["response"]["status"] == 200}
            assert {f"{base}{IDE_PATH}/{name}" for name in ASSETS} <= ok, sorted(ok)
