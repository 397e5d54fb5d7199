"""The protocols checked by their reference implementations, against a real `kezek serve` (docs/api.md §1):
graphql-http's audits of GraphQL over HTTP, every one of them (MUST, SHOULD and MAY), and the graphql-ws
client, the reference client of graphql-transport-ws. Their npm packages are pinned by
tests/node/package-lock.json (tests/nodejs.py installs them)."""

from __future__ import annotations

import asyncio
import collections
import json
import os
from typing import Any

from tests import data
from tests.conftest import OFFERS_POLICY, Kezek
from tests.nodejs import node_modules, script
from tests.test_subscriptions import latest, place, serve, set_capacity

NODE_TIMEOUT = 120  # seconds: a bound for a hung script, not a speed requirement


async def node(name: str, *args: str, timeout: float = NODE_TIMEOUT) -> tuple[int, str, str]:
    """Runs one of tests/node/'s scripts; (exit code, stdout, stderr). Killed if it outlives `timeout`."""
    env = {**os.environ, "KEZEK_NODE_MODULES": str(node_modules())}
    proc = await asyncio.create_subprocess_exec(
        "node", str(script(name)), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_graphql_http_audits_all_pass(db_url: str) -> None:
    async with serve(db_url, OFFERS_POLICY) as (base,):
        code, out, err = await node("audit.mjs", f"http://{base}/graphql")
    assert code == 0, err
    results: list[dict[str, Any]] = json.loads(out)
    failed = [
        f"{r['id']} {r['name']}: {r['reason']} (HTTP {r['responseStatus']}, {r['contentType']})"
        for r in results
        if r["status"] != "ok"
    ]
    assert not failed, "graphql-http audits failed:\n" + "\n".join(failed)
    levels = collections.Counter(r["name"].split()[0] for r in results)
    assert levels["MUST"] >= 13 and levels["SHOULD"] >= 23, levels  # the audits of graphql-http 1.23.1


VACANCIES = """subscription($after: String, $kg: ID) {
  vacancyUpdates(after: $after, kindergartenId: $kg) { cursor kind freeSeats group { id } kindergarten { externalId } }
}"""


async def test_the_graphql_ws_client_subscribes_and_receives_an_event(db_url: str) -> None:
    """Subscribed `after` the newest event, the client gets the change made meanwhile however its subscription
    and the change interleave (replay, then live)."""
    async with serve(db_url, OFFERS_POLICY) as (base,):
        pet = await place(base, "PET-1")
        variables = {**(await latest(db_url)), "kg": pet.kg}
        operator = Kezek.operator(data.SKO_REGION)
        client = asyncio.create_task(
            node("subscribe.mjs", f"ws://{base}/graphql", operator, VACANCIES, json.dumps(variables))
        )
        await set_capacity(base, Kezek.staff("PET-1", channel="akimat-sko"), pet.group, 7)
        code, out, err = await client
    assert code == 0, err
    assert "connected with graphql-transport-ws" in err
    event = json.loads(out)["data"]["vacancyUpdates"]
    assert (event["kind"], event["freeSeats"], event["group"]["id"]) == ("CAPACITY_CHANGED", 7, pet.group)
    assert event["kindergarten"]["externalId"] == "PET-1"
