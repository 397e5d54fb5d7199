"""The national write path (docs/architecture.md "The write path"): allocations in parallel with no lock in
common, every invariant kept, the feed replayed exactly once in order, lock conflicts retried inside the
request, and nothing lost when a process dies."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from api.container import build_container
from api.worker import run_once
from domain.timezone import local_date
from persistence.db import raw_connect
from persistence.invariants import check_invariants
from persistence.readers import decode_cursor, encode_cursor
from tests import data, regions
from tests.conftest import OFFERS_POLICY, Kezek, make_settings, open_kezek
from tests.test_subscriptions import PROTOCOL, WAIT, gql, place, receive, serve, set_capacity, submit

VACANCY = """subscription($after: String) { vacancyUpdates(after: $after) { cursor kind freeSeats group { id } } }"""
GROUPS = """query($id: ID!) { kindergarten(id: $id) { groups { id externalId capacity held freeSeats } } }"""
SET_CAPACITY = """mutation($g: ID!, $c: Int!) {
  setGroupCapacity(input: {groupId: $g, capacity: $c}) { group { capacity held } errors { code } } }"""


async def _sql(db_url: str, statement: str, *args: Any) -> list[Any]:
    conn = await raw_connect(db_url)
    try:
        return list(await conn.fetch(statement, *args))
    finally:
        await conn.close()


async def _sequenced(db_url: str) -> int:
    """Waits until every committed event has its position (the brokers sequence them); the last position."""
    for _ in range(200):
        rows = await _sql(
            db_url, "SELECT count(*) FILTER (WHERE position IS NULL) AS n, max(position) AS p FROM events"
        )
        if rows[0]["n"] == 0:
            return int(rows[0]["p"] or 0)
        await asyncio.sleep(0.05)
    raise AssertionError("events left unsequenced")


async def _vacancy_positions(db_url: str, after: int, region: str | None = None) -> list[int]:
    rows = await _sql(
        db_url,
        """SELECT position FROM events WHERE stream = 'vacancy' AND position > $1
          AND ($2::text IS NULL OR region_code = $2) ORDER BY position""",
        after,
        region,
    )
    return [int(r["position"]) for r in rows]


async def _replay(base: str, token: str, after: int, last_event: asyncio.Future[int], rng: random.Random) -> list[int]:
    """A dashboard that follows the feed while it is written and reconnects with `after: <last cursor>` at
    random points, until it has seen the last event (known once the writers are done); every cursor it
    received, in order."""
    seen: list[int] = []
    last = after
    while not (last_event.done() and last >= last_event.result()):
        async with connect(f"ws://{base}/graphql", subprotocols=PROTOCOL, open_timeout=WAIT) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            assert (await receive(ws))["type"] == "connection_ack"
            payload = {"query": VACANCY, "variables": {"after": encode_cursor(last)}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            for _ in range(rng.randint(1, 25)):
                try:
                    message = await receive(ws, timeout=0.5)
                except TimeoutError:
                    break  # nothing new yet: reconnect (and look whether the writers are done)
                assert message["type"] == "next", message
                last = int(decode_cursor(message["payload"]["data"]["vacancyUpdates"]["cursor"]))
                seen.append(last)
    return seen


async def test_the_feed_is_replayed_exactly_once_in_order_under_parallel_writers(db_url: str, tmp_path: Path) -> None:
    """16 writers in two regions on two server processes commit in parallel; dashboards on both processes
    reconnect with `after` at random points: each receives every event exactly once, in commit order."""
    rng = random.Random(20261201)
    async with serve(db_url, OFFERS_POLICY, count=2) as (a, b):
        targets = []
        for kg in ("SHA-1", "SHA-2", "SHA-3", "SHA-4", "KAR-1", "PET-1", "PET-2", "SHA-5"):
            kg_id = (await place(a, kg)).kg
            for g in (await gql(a, GROUPS, {"id": kg_id}))["kindergarten"]["groups"][:2]:
                targets.append((kg, g["id"], g["capacity"]))
        assert len(targets) == 16
        start = await _sequenced(db_url)
        last_everywhere: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        last_karaganda: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dashboards = [
            asyncio.create_task(_replay(a, Kezek.ministry(), start, last_everywhere, rng)),
            asyncio.create_task(_replay(b, Kezek.ministry(), start, last_everywhere, rng)),
            asyncio.create_task(_replay(b, Kezek.operator(), start, last_karaganda, rng)),
        ]

        async def writer(n: int, kg: str, group: str, capacity: int) -> None:
            token = Kezek.staff(kg, "akimat-sko" if kg.startswith("PET") else "akimat-karaganda")
            for i in range(12):
                await set_capacity((a, b)[(n + i) % 2], token, group, capacity + 1 + i % 3)

        await asyncio.gather(*(writer(n, *t) for n, t in enumerate(targets)))
        await _sequenced(db_url)
        everything = await _vacancy_positions(db_url, start)
        karaganda = await _vacancy_positions(db_url, start, data.KARAGANDA_REGION)
        assert len(everything) >= 16 * 12 and len(karaganda) < len(everything)
        last_everywhere.set_result(everything[-1])
        last_karaganda.set_result(karaganda[-1])
        seen = await asyncio.gather(*dashboards)
        assert seen[0] == everything and seen[1] == everything
        assert seen[2] == karaganda


@contextlib.asynccontextmanager
async def _many_regions(db_url: str, tmp_path: Path, n: int) -> AsyncIterator[tuple[regions.Regions, Path, Any]]:
    extra = regions.build(n)
    await regions.import_into(db_url, extra)
    path, channel = regions.channels_file(tmp_path)
    yield extra, path, channel


async def _group_ids(k: Kezek, kindergartens: list[str]) -> dict[str, str]:
    out = {}
    for ext in kindergartens:
        groups = (await k.gql(GROUPS, {"id": await k.kg(ext)}))["kindergarten"]["groups"]
        out[ext] = groups[0]["id"]
    return out


async def test_a_wave_across_many_regions_keeps_every_invariant(db_url: str, tmp_path: Path) -> None:
    """Eight operators raise capacity in every group of eight regions at once, while children whose choices
    span regions wait: no seat offered twice, one live offer per child, no seat left free while a
    candidate waits, no internal error; supersede chains cross regions."""
    async with _many_regions(db_url, tmp_path, 8) as (extra, channels, channel), contextlib.AsyncExitStack() as stack:
        apps = [
            await stack.enter_async_context(
                open_kezek(db_url, policy_file=OFFERS_POLICY, channels_file=channels, rate_channel_burst=1e6)
            )
            for _ in range(8)
        ]
        setup = apps[0]
        for child in extra.children:
            payload = await setup.submit(child.parent, child.iin, list(child.choices))
            assert payload["errors"] == [], payload
        groups = await _group_ids(setup, extra.kindergartens)
        raises = [(ext, gid, c) for ext, gid in groups.items() for c in (1, 2)]
        random.Random(7).shuffle(raises)

        async def operator(n: int) -> None:
            k = apps[n]
            for ext, gid, capacity in raises[n::8]:
                body = await k.post(SET_CAPACITY, {"g": gid, "c": capacity}, regions.staff(channel, ext))
                assert "errors" not in body, body  # never an internal error
                codes = [e["code"] for e in body["data"]["setGroupCapacity"]["errors"]]
                assert codes in ([], ["CAPACITY_BELOW_OCCUPIED"]), body

        await asyncio.gather(*(operator(n) for n in range(8)))
        await run_once(setup.container)  # what the dispatchers would finish
        assert await check_invariants(setup.container.engine, local_date(setup.clock.now())) == []
        seats = await setup.sql(
            "SELECT sum(capacity) AS capacity, sum(held) AS held FROM groups WHERE external_id = 'G-2023-RU'"
            " AND kindergarten_id IN (SELECT id FROM kindergartens WHERE external_id LIKE 'R%')"
        )
        # Every seat is held, or no child is left to take it (the invariant checker's "free and wanted").
        assert 16 <= seats[0]["capacity"] <= 32 and seats[0]["held"] == min(seats[0]["capacity"], 32)
        queued = await setup.sql("SELECT count(*) AS n FROM allocation_queue")
        assert queued[0]["n"] == 0


async def test_a_killed_process_loses_nothing(db_url: str, tmp_path: Path) -> None:
    """kill -9 of a serving process in the middle of a wave: after a worker pass every queued allocation is
    done, every invariant holds, every offer has its SMS in the outbox, and the feed replays exactly once."""
    async with _many_regions(db_url, tmp_path, 4) as (extra, channels, channel):
        env = {"KEZEK_CHANNELS_FILE": str(channels)}
        async with serve(db_url, OFFERS_POLICY, count=2, extra_env=env) as (a, b):
            places = {ext: await place(a, ext) for ext in extra.kindergartens}
            for child in extra.children:
                assert await submit(a, child.parent, child.iin, *[places[k].kg for k in child.choices])
            start = await _sequenced(db_url)
            groups = {ext: p.group for ext, p in places.items()}
            victim = _server_pid(a)

            async def raise_all(base: str, capacity: int) -> None:
                for ext, gid in groups.items():
                    with contextlib.suppress(Exception):  # the killed process drops its requests
                        await gql(base, SET_CAPACITY, {"g": gid, "c": capacity}, regions.staff(channel, ext))

            wave = asyncio.create_task(raise_all(a, 1))
            await asyncio.sleep(0.05)
            os.kill(victim, signal.SIGKILL)
            await wave
            await raise_all(b, 2)
        container = build_container(make_settings(policy_file=OFFERS_POLICY, channels_file=channels), db_url)
        try:
            await run_once(container)
            await run_once(container)
            assert await check_invariants(container.engine, local_date(container.clock.now())) == []
        finally:
            await container.aclose()
        assert (await _sql(db_url, "SELECT count(*) AS n FROM allocation_queue"))[0]["n"] == 0
        missing = await _sql(
            db_url,
            """SELECT o.id FROM offers o WHERE NOT EXISTS (SELECT 1 FROM outbox m
                WHERE m.application_id = o.application_id AND m.kind = 'OFFER_MADE')""",
        )
        assert missing == []
        everything = await _vacancy_positions(db_url, start)
        assert len(everything) >= len(groups)
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(everything[-1])
        async with serve(db_url, OFFERS_POLICY) as (c,):
            seen = await _replay(c, Kezek.ministry(), start, done, random.Random(3))
        assert seen == everything


def _server_pid(base: str) -> int:
    """The pid of the `kezek serve` process started for this address (its command line names the port)."""
    port = base.rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().split(b"\0")
            if b"serve" in args and b"--port" in args and args[args.index(b"--port") + 1] == port.encode():
                return int(cmdline.parent.name)
    raise AssertionError(f"no kezek serve on port {port}")


async def test_a_group_locked_elsewhere_is_offered_once_it_is_free(db_url: str) -> None:
    """An allocation never waits for a lock: while another transaction holds the group, the change that
    freed a seat answers at once and leaves the seat queued; the dispatchers offer it once the lock goes."""
    async with open_kezek(db_url, policy_file=OFFERS_POLICY) as k:
        family = data.OTHER
        groups = (await k.gql(GROUPS, {"id": await k.kg("SHA-1")}))["kindergarten"]["groups"]
        group = next(g for g in groups if g["externalId"] == "G-2023-RU")
        staff = Kezek.staff("SHA-1")
        body = await k.post(SET_CAPACITY, {"g": group["id"], "c": 0}, staff)
        assert body["data"]["setGroupCapacity"]["errors"] == []
        app_id = (await k.submit(family.parents[0], family.children[0], ["SHA-1"]))["application"]["id"]
        # Another transaction holds the child's application: the allocation may not wait for it.
        holder = await raw_connect(db_url)
        try:
            await holder.execute("BEGIN")
            await holder.execute("SELECT 1 FROM applications WHERE id = $1 FOR UPDATE", int(app_id))
            body = await k.post(SET_CAPACITY, {"g": group["id"], "c": 1}, staff)
            payload = body["data"]["setGroupCapacity"]
            assert payload["errors"] == [] and payload["group"] == {"capacity": 1, "held": 0}
            queued = await k.sql("SELECT group_id FROM allocation_queue")
            assert [r["group_id"] for r in queued] == [int(group["id"])]
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
        k.clock.advance(dt.timedelta(seconds=1))  # past the committing request's grace
        await k.container.queue.drain_allocations()
        state = await k.gql("query($id: ID!) { application(id: $id) { status } }", {"id": app_id}, Kezek.ministry())
        assert state["application"]["status"] == "OFFERED"


async def test_a_deadlock_between_two_changes_is_retried_inside_the_request(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two transactions waiting for each other: PostgreSQL ends one; when it is the request's, the request
    runs again and answers as if it had run once, later — never an internal error."""
    caplog.set_level(logging.INFO, "kezek.usecases")
    async with open_kezek(db_url) as k:
        family = data.OTHER
        app = (await k.submit(family.parents[0], family.children[0], ["SHA-1", "SHA-2"]))["application"]
        group = next(
            g["id"]
            for g in (await k.gql(GROUPS, {"id": await k.kg("SHA-3")}))["kindergarten"]["groups"]
            if g["externalId"] == "G-2023-RU"
        )
        holder = await raw_connect(db_url)
        try:
            await holder.execute("BEGIN")
            await holder.execute("UPDATE groups SET capacity = capacity WHERE id = $1", int(group))
            change = asyncio.create_task(
                k.post(
                    """mutation($id: ID!, $kgs: [ID!]!) { changeChoices(input: {applicationId: $id,
                    kindergartenIds: $kgs}) { application { choices { rank } } errors { code } } }""",
                    {"id": app["id"], "kgs": await k.kgs("SHA-3", "SHA-1")},
                    Kezek.citizen(family.parents[0]),
                )
            )
            # The change holds the application and waits for the group; now the holder waits for the
            # application: a deadlock, and PostgreSQL ends one of the two.
            for _ in range(200):
                waiting = await k.sql(
                    "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')"
                )
                if waiting[0]["n"]:
                    break
                await asyncio.sleep(0.02)
            with contextlib.suppress(Exception):  # if the holder is the one PostgreSQL ends
                await holder.execute("SELECT 1 FROM applications WHERE id = $1 FOR UPDATE", int(app["id"]))
        finally:
            with contextlib.suppress(Exception):
                await holder.execute("ROLLBACK")
            await holder.close()
        body = await change
        assert "errors" not in body, body
        assert any("running the use case again" in r.getMessage() for r in caplog.records), "the change was retried"
        payload = body["data"]["changeChoices"]
        assert payload["errors"] == [] and [c["rank"] for c in payload["application"]["choices"]] == [1, 2]
