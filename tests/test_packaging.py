"""The package as operators install it: the wheel built from this tree, installed into a clean virtual
environment with the runtime lock (every file hash-checked), serves HTTP, GraphiQL's assets and
graphql-transport-ws subscriptions from the installed `kezek` command, outside the source tree.

It also holds the runtime lock to exactly what the wheel declares: a lock with a package that pyproject.toml
no longer names (or without one it names) fails here, so `pip install .` and the lock cannot drift apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
import time
import tomllib
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import httpx
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from api.graphiql import ASSETS, STATIC
from tests import data
from tests.conftest import Kezek
from tests.served import clean_env, kezek_serve

ROOT = Path(__file__).parent.parent
LOCK = ROOT / "requirements.lock"
WAIT = 8.0
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def _run(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env=clean_env())
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def build_wheel(tmp: Path) -> Path:
    """`pip wheel` of a copy of the packaged folders, so the tree's own build/ leftovers cannot leak in."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    source = tmp / "source"
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source)
    for top in sorted({name.split(".")[0] for name in project["tool"]["setuptools"]["packages"]["find"]["include"]}):
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__"))
    # The locked setuptools of the development environment builds it: nothing unpinned is fetched.
    _run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(source)], tmp)
    (wheel,) = (tmp / "dist").glob("kezek-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> None:
    """A venv of its own with the lock and the wheel, every file checked against its hash."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], venv.parent)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirements = venv.parent / "kezek-wheel.txt"
    requirements.write_text(f"kezek @ {wheel.as_uri()} --hash=sha256:{digest}\n")
    target = ["--python", str(venv / "bin" / "python")]
    _run([*PIP, *target, "install", "-q", "--require-hashes", "-r", str(LOCK), "-r", str(requirements)], venv.parent)


def installed(venv: Path) -> dict[str, Any]:
    (site,) = (venv / "lib").glob("python3*/site-packages")
    return {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(site)])}


def declared_closure(dists: dict[str, Any]) -> set[str]:
    """kezek and everything its Requires-Dist needs, transitively, with extras and markers applied."""
    needed: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo = [("kezek", "")]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        needed.add(name)
        assert name in dists, f"{name} is required but was not installed from {LOCK.name}"
        for line in dists[name].requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
                continue
            dependency = canonicalize_name(requirement.name)
            todo += [(dependency, "")] + [(dependency, e) for e in sorted(requirement.extras)]
    return needed


def lock_names() -> set[str]:
    return {
        canonicalize_name(line.split("==")[0])
        for line in LOCK.read_text().splitlines()
        if line and not line[0].isspace() and not line.startswith("#")
    }


SUBSCRIPTION = "subscription { vacancyUpdates { kind freeSeats kindergarten { externalId } } }"
GROUPS = """query($id: ID!) { kindergarten(id: $id) { groups { id capacity } } }"""
KINDERGARTENS = "{ kindergartens(first: 100) { edges { node { id externalId } } } }"
SET_CAPACITY = """mutation($g: ID!, $c: Int!) {
  setGroupCapacity(input: {groupId: $g, capacity: $c}) { group { capacity } errors { code } }
}"""


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _receive(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert isinstance(message, dict)
    return message


async def subscription_gets_an_event(base: str) -> dict[str, Any]:
    """An akimat operator's vacancyUpdates over graphql-transport-ws; staff change a capacity; the event."""
    async with httpx.AsyncClient(base_url=base, timeout=WAIT) as client:
        edges = (await _gql(client, KINDERGARTENS, {}))["kindergartens"]["edges"]
        kg = next(e["node"]["id"] for e in edges if e["node"]["externalId"] == "SHA-1")
        group = (await _gql(client, GROUPS, {"id": kg}))["kindergarten"]["groups"][0]
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=WAIT) as ws:
            init = {"authorization": f"Bearer {Kezek.operator(data.KARAGANDA_REGION)}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            assert (await _receive(ws))["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
            # A live subscription hears what commits once the server has registered it: a ping round trip
            # shows the operation started, a short pause lets it reach the broker (tests/test_subscriptions.py).
            await ws.send(json.dumps({"type": "ping"}))
            assert (await _receive(ws))["type"] == "pong"
            await asyncio.sleep(1.0)
            variables = {"g": group["id"], "c": group["capacity"] + 1}
            changed = await _gql(client, SET_CAPACITY, variables, Kezek.staff("SHA-1"))
            assert changed["setGroupCapacity"]["errors"] == [], changed
            message = await _receive(ws)
            assert message["type"] == "next" and not message["payload"].get("errors"), message
            event = message["payload"]["data"]["vacancyUpdates"]
            assert isinstance(event, dict)
            return event


async def test_the_installed_wheel_serves_subscriptions(db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    wheel = await asyncio.to_thread(build_wheel, tmp_path)
    venv = tmp_path / "venv"
    await asyncio.to_thread(install, wheel, venv)

    dists = installed(venv)
    needed = declared_closure(dists)
    assert needed - {"kezek"} == lock_names(), (
        f"{LOCK.name} and what the wheel declares differ: only in the lock {sorted(lock_names() - needed)}, "
        f"only declared {sorted(needed - lock_names() - {'kezek'})}; run `make lock`"
    )
    assert set(dists) == needed, f"installed beyond the lock: {sorted(set(dists) - needed)}"
    packaged = {Path(str(f)).name for f in dists["kezek"].files or [] if "static/graphiql" in str(f)}
    assert set(ASSETS) | {"page.html"} <= packaged, f"the wheel lacks GraphiQL's files: {sorted(packaged)}"

    # The installed command, away from the source tree: only the venv's own files are importable.
    env = clean_env(KEZEK_PROFILE="development", KEZEK_DATABASE_URL=db_url, KEZEK_LOG_LEVEL="WARNING")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    with kezek_serve([str(venv / "bin" / "kezek")], env, workdir) as base:
        async with httpx.AsyncClient(base_url=base, timeout=WAIT) as client:
            regions = await _gql(client, "{ regions { code } }", {})
            assert {r["code"] for r in regions["regions"]} == {data.KARAGANDA_REGION, data.SKO_REGION}
            asset = await client.get("/graphql/ide/graphiql.min.js")
            assert asset.status_code == 200 and asset.content == (STATIC / "graphiql.min.js").read_bytes()
        event = await subscription_gets_an_event(base)
        assert event["kind"] == "CAPACITY_CHANGED" and event["kindergarten"] == {"externalId": "SHA-1"}, event
    print(f"wheel built, installed and served in {time.monotonic() - started:.1f} s")
