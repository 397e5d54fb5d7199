"""Shared subscription executions (graph/shared.py): alike subscriptions run once per event, others never mix.

The app is served by uvicorn on 127.0.0.1 inside the test's own event loop, so a test can count what runs on
the server: the broker's subscriptions (one per running execution once live) and the hub's executions and
members. Clients are real graphql-transport-ws sockets; the database is a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect

import graph.shared
import graph.subscriptions
from api.app import create_app
from api.auth import mint
from api.container import Container, build_container
from domain.model import Role
from graph.shared import Hub
from persistence.db import raw_connect
from persistence.readers import decode_cursor
from tests import data
from tests.conftest import CHANNELS, OFFERS_POLICY, Kezek, make_settings
from tests.test_subscriptions import (
    PROTOCOL,
    SEAT_OFFERS,
    VACANCIES,
    WAIT,
    Sub,
    latest,
    offer_probe,
    place,
    publish_probe,
    receive,
    set_capacity,
    submit,
    subscribe,
)

LIVE = """subscription($kg: ID) {
  vacancyUpdates(kindergartenId: $kg) { cursor kind freeSeats kindergarten { id externalId } group { id } }
}"""


@dataclass
class Served:
    base: str
    container: Container
    hub: Hub

    @property
    def broker_subscriptions(self) -> int:
        return self.container.broker.subscriber_count


@contextlib.asynccontextmanager
async def served(db_url: str, send_buffer: int | None = None) -> AsyncIterator[Served]:
    """The app under uvicorn in this event loop; `send_buffer` bounds the kernel's buffer of every socket."""
    container = build_container(make_settings(policy_file=OFFERS_POLICY), db_url)
    app = create_app(container)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:  # accepted sockets inherit it (Linux)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "the test server did not start"
        yield Served(f"127.0.0.1:{sock.getsockname()[1]}", container, app.state.subscriptions)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()


async def until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Waits for a server-side condition; fails with `what` if it does not come."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(what)
        await asyncio.sleep(0.02)


async def caught_up(s: Served, db_url: str) -> None:
    """The broker has handed out every event committed so far, so a live subscription made now hears only later
    ones (one that registers before the broker read an event committed earlier hears of that one too)."""
    newest = decode_cursor((await latest(db_url))["after"])
    await until(lambda: s.container.broker.last_id >= newest, "the broker caught up with the feed")


def operator(subject: str, region: str = data.KARAGANDA_REGION, district: str | None = None) -> str:
    channel = "akimat-sko" if region == data.SKO_REGION else "akimat-karaganda"
    return mint(CHANNELS[channel], Role.AKIMAT_OPERATOR, subject, region=region, district=district)


def live(s: Served, executions: int, members: int) -> Callable[[], bool]:
    """Every subscription is live: registered with the broker and waiting for events, each running execution the
    shared one of its key, with `members` subscribers in all. (Only then is an event committed sure to reach
    them: a subscription hears what commits after it registered.)"""

    def check() -> bool:
        state = (s.hub.running, len(s.hub.shared), s.hub.members, s.broker_subscriptions)
        return state == (executions, executions, members, executions)

    return check


# --- one execution for alike subscriptions --------------------------------------------------------


async def test_alike_subscriptions_share_one_execution_and_each_gets_every_event(db_url: str) -> None:
    async with served(db_url) as s:
        sha = await place(s.base, "SHA-1")
        staff = Kezek.staff("SHA-1")
        async with contextlib.AsyncExitStack() as stack:
            # Two operators of one region (different people, one access scope), the same document and variables.
            a = await stack.enter_async_context(subscribe(s.base, operator("operator-1"), LIVE))
            b = await stack.enter_async_context(subscribe(s.base, operator("operator-2"), LIVE))
            await until(live(s, 1, 2), f"one execution for both: {s.hub.running}")
            # Other variables: an execution of its own.
            c = await stack.enter_async_context(subscribe(s.base, operator("operator-1"), LIVE, {"kg": sha.kg}))
            await until(live(s, 2, 3), f"two executions: {s.hub.running}")

            for capacity in (5, 6):
                await set_capacity(s.base, staff, sha.group, capacity)
                got = [await sub.event() for sub in (a, b, c)]
                assert got[0] == got[1] == got[2], got
                assert (got[0]["kind"], got[0]["freeSeats"], got[0]["group"]["id"]) == (
                    "CAPACITY_CHANGED",
                    capacity,
                    sha.group,
                )
            assert s.broker_subscriptions == 2


async def test_different_scopes_never_share_and_each_sees_only_its_own(db_url: str) -> None:
    other_parent, other_child = data.OTHER.parents[0], data.OTHER.children[0]
    plain_parent, plain_child = data.PLAIN.parents[0], data.PLAIN.children[1]  # born 2023
    async with served(db_url) as s:
        sha = await place(s.base, "SHA-1")  # Shakhtinsk, Karaganda region
        kar = await place(s.base, "KAR-1")  # Karaganda city
        pet = await place(s.base, "PET-1")  # the other region
        staff = Kezek.staff("SHA-1")
        await set_capacity(s.base, staff, sha.group, 0)
        await submit(s.base, other_parent, other_child, sha.kg)
        await submit(s.base, plain_parent, plain_child, sha.kg)
        await caught_up(s, db_url)
        async with contextlib.AsyncExitStack() as stack:
            # Operators of three areas, with one document and the same (no) variables.
            region = await stack.enter_async_context(subscribe(s.base, operator("op-r"), LIVE))
            city = await stack.enter_async_context(
                subscribe(s.base, operator("op-c", district=data.KARAGANDA_CITY), LIVE)
            )
            north = await stack.enter_async_context(subscribe(s.base, operator("op-n", data.SKO_REGION), LIVE))
            # Two parents; the first on two sockets (those two share: one parent, one scope).
            mine = await stack.enter_async_context(subscribe(s.base, Kezek.citizen(other_parent), SEAT_OFFERS))
            mine_too = await stack.enter_async_context(subscribe(s.base, Kezek.citizen(other_parent), SEAT_OFFERS))
            theirs = await stack.enter_async_context(subscribe(s.base, Kezek.citizen(plain_parent), SEAT_OFFERS))
            await until(live(s, 5, 6), f"five executions: {s.hub.running}")

            # A seat in Shakhtinsk: offered to the first family's child. The region hears of it, the city and
            # the other region do not; both sockets of the first parent hear of the offer, the other parent not.
            await set_capacity(s.base, staff, sha.group, 1)
            assert [(e["kind"], e["kindergarten"]["id"]) for e in await region.events(2)] == [
                ("CAPACITY_CHANGED", sha.kg),
                ("OFFER_MADE", sha.kg),
            ]
            offered = await mine.event()
            assert offered == await mine_too.event()
            assert offered["kind"] == "OFFERED" and offered["offer"]["child"]["iin"] == other_child

            # The second family's first event is its own child's offer (so it never heard of the first's).
            await set_capacity(s.base, staff, sha.group, 2)
            own = await theirs.event()
            assert own["kind"] == "OFFERED" and own["offer"]["child"]["iin"] == plain_child
            await region.events(2)
            # A change in the city reaches the region and the city's operator, whose first event it is.
            await set_capacity(s.base, Kezek.staff("KAR-1"), kar.group, 9)
            assert (await city.event())["kindergarten"]["id"] == kar.kg
            assert (await region.event())["kindergarten"]["id"] == kar.kg
            # Markers, committed after all of the above: the first event the north hears is one of its own
            # region, and the first parent's next one is about its own child again.
            await set_capacity(s.base, Kezek.staff("PET-1", channel="akimat-sko"), pet.group, 4)
            assert (await north.event())["kindergarten"]["id"] == pet.kg
            await publish_probe(db_url, offer_probe(other_child, int(offered["offer"]["id"])), "REMINDER")
            for sub in (mine, mine_too):
                reminder = await sub.event()
                assert (reminder["kind"], reminder["offer"]["id"]) == ("REMINDER", offered["offer"]["id"])


async def test_errors_before_and_at_the_start_are_each_subscribers_own(db_url: str) -> None:
    invalid = "subscription { vacancyUpdates { cursor noSuchField } }"
    async with served(db_url) as s, contextlib.AsyncExitStack() as stack:
        # A validation error: an `error` message for each, and the socket stays open.
        for token in (operator("op-1"), operator("op-2")):
            sub = await stack.enter_async_context(subscribe(s.base, token, invalid))
            refused = await sub.message()
            assert refused["type"] == "error" and "noSuchField" in refused["payload"][0]["message"], refused
            await sub.ws.send(json.dumps({"type": "ping"}))
            assert (await receive(sub.ws))["type"] == "pong"
        # Refusals in the resolver: each subscriber is refused for itself, whoever else is subscribed alike.
        await stack.enter_async_context(subscribe(s.base, operator("op-1"), LIVE))
        await until(live(s, 1, 1), "the live subscription runs")
        for token, variables, code in (
            (Kezek.citizen(data.OTHER.parents[0]), {}, "FORBIDDEN"),
            (operator("op-2"), {"kg": "987654321"}, "NOT_FOUND"),
            (operator("op-n", data.SKO_REGION), {"kg": (await place(s.base, "SHA-1")).kg}, "NOT_FOUND"),
        ):
            sub = await stack.enter_async_context(subscribe(s.base, token, LIVE, variables))
            assert await sub.error_code() == code
        await until(lambda: s.hub.running == 1 and s.hub.members == 1, "only the live subscription runs")


# --- members come and go ---------------------------------------------------------------------------


async def test_members_leave_without_stopping_the_others_and_the_last_one_ends_the_execution(db_url: str) -> None:
    async with served(db_url) as s:
        sha = await place(s.base, "SHA-2")
        staff = Kezek.staff("SHA-2")
        # The first subscriber's execution is the shared one: it must go on serving the others once that
        # subscriber's socket is closed. (The socket is closed by the client here; a token's expiry closes it
        # from the server, tested in tests/test_subscriptions.py, at a moment no test could order against.)
        async with subscribe(s.base, operator("op-a"), LIVE) as first:
            await until(live(s, 1, 1), "the first subscription runs")
            async with subscribe(s.base, operator("op-b"), LIVE) as b, subscribe(s.base, operator("op-c"), LIVE) as c:
                await until(live(s, 1, 3), "three members of one execution")
                await set_capacity(s.base, staff, sha.group, 4)
                assert [(await sub.event())["freeSeats"] for sub in (first, b, c)] == [4, 4, 4]

                await c.ws.close()  # a member's socket closes
                await until(lambda: s.hub.members == 2, "the closed socket's member left")
                await set_capacity(s.base, staff, sha.group, 5)
                assert [(await sub.event())["freeSeats"] for sub in (first, b)] == [5, 5]

                await first.ws.close()  # the socket of the execution's first subscriber closes
                await until(lambda: s.hub.members == 1, "the first socket's member left")
                assert (s.broker_subscriptions, s.hub.running) == (1, 1)
                await set_capacity(s.base, staff, sha.group, 6)
                assert (await b.event())["freeSeats"] == 6

                # The last member completes its subscription: the execution ends and leaves the broker.
                await b.ws.send(json.dumps({"id": "1", "type": "complete"}))
                await until(lambda: s.hub.running == 0, f"the execution ended: {s.hub.running}")
                assert (s.broker_subscriptions, s.hub.members, len(s.hub.shared)) == (0, 0, 0)
                await set_capacity(s.base, staff, sha.group, 7)  # nobody is subscribed any more
                await caught_up(s, db_url)

                # A new subscriber starts a new execution; a new operation on b's socket joins it. The first
                # message b's socket gets is the new operation's (event 8): nothing came of the completed one.
                async with subscribe(s.base, operator("op-d"), LIVE) as d:
                    await b.ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": LIVE}}))
                    await until(live(s, 1, 2), "a new execution")
                    await set_capacity(s.base, staff, sha.group, 8)
                    assert (await d.event())["freeSeats"] == 8
                    again = await b.message()
                    assert again["id"] == "2" and again["payload"]["data"]["vacancyUpdates"]["freeSeats"] == 8
        await until(lambda: s.hub.running == 0 and s.broker_subscriptions == 0, "all sockets closed: nothing left")


async def test_a_late_subscriber_with_a_cursor_replays_its_own_backlog_then_joins(db_url: str) -> None:
    async with served(db_url) as s:
        sha = await place(s.base, "SHA-3")
        staff = Kezek.staff("SHA-3")
        await set_capacity(s.base, staff, sha.group, 1)
        start = {"kg": sha.kg, **await latest(db_url)}
        async with subscribe(s.base, operator("op-a"), VACANCIES, start) as a:
            await set_capacity(s.base, staff, sha.group, 2)
            await set_capacity(s.base, staff, sha.group, 3)
            seen = await a.events(2)
            # Same document, same cursor, later: it gets the same backlog (its own replay), then shares.
            async with subscribe(s.base, operator("op-b"), VACANCIES, start) as b:
                assert await b.events(2) == seen
                await until(lambda: s.broker_subscriptions == 1, "caught up: one execution")
                await set_capacity(s.base, staff, sha.group, 4)
                live = [await a.event(), await b.event()]
                assert live[0] == live[1] and live[0]["freeSeats"] == 4
                assert decode_cursor(live[0]["cursor"]) > decode_cursor(seen[-1]["cursor"])


# --- a slow member ---------------------------------------------------------------------------------

# Big messages, so that a reader that stops reading fills the sockets' buffers after a few dozen events.
BIG = (
    "subscription { vacancyUpdates { cursor kind freeSeats "
    + " ".join(f"k{n}: kindergarten {{ id externalId nameKk nameRu address regionCode }}" for n in range(25))
    + " } }"
)


async def _publish(db_url: str, kindergarten_id: int, group_id: int, n: int) -> None:
    conn = await raw_connect(db_url)
    try:
        await conn.execute(
            """INSERT INTO events (at, stream, kind, kindergarten_id, group_id, free_seats, region_code, district_code)
            SELECT now(), 'vacancy', 'CAPACITY_CHANGED', $1, $2, s, $3, $4 FROM generate_series(1, $5) s""",
            kindergarten_id,
            group_id,
            data.KARAGANDA_REGION,
            data.SHAKHTINSK,
            n,
        )
        await conn.execute("NOTIFY kezek_events")
    finally:
        await conn.close()


async def test_a_slow_member_is_dropped_with_slow_subscriber_and_the_others_go_on(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph.shared, "QUEUE_SIZE", 4)
    token = operator("op-1")
    async with served(db_url, send_buffer=4096) as s:
        sha = await place(s.base, "SHA-4")
        async with subscribe(s.base, token, BIG) as fast:
            # The slow one reads nothing: a small receive buffer and one queued message at most.
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            host, port = s.base.split(":")
            raw.connect((host, int(port)))
            async with connect(
                f"ws://{s.base}/graphql", sock=raw, subprotocols=PROTOCOL, max_queue=1, ping_interval=None
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
                assert (await receive(ws))["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BIG}}))
                slow = Sub(ws, "vacancyUpdates")
                await until(live(s, 1, 2), "one execution, two members")

                sent = 0
                while s.hub.members == 2:
                    assert sent < 3000, "the slow member was never dropped"
                    await _publish(db_url, int(sha.kg), int(sha.group), 20)
                    sent += 20
                    got = await fast.events(20)
                    assert got[-1]["k0"]["id"] == sha.kg
                assert (s.hub.running, s.broker_subscriptions) == (1, 1)

                # The fast one goes on.
                await _publish(db_url, int(sha.kg), int(sha.group), 1)
                assert (await fast.event())["kind"] == "CAPACITY_CHANGED"

                # The slow one gets what was queued for it, then SLOW_SUBSCRIBER and the end of its subscription.
                received = 0
                while (message := await slow.message())["type"] == "next" and not message["payload"].get("errors"):
                    received += 1
                assert 0 < received < sent
                assert message["payload"]["errors"][0]["extensions"]["code"] == "SLOW_SUBSCRIBER", message
                assert (await slow.message())["type"] == "complete"


# --- unshared executions read an event's places once -----------------------------------------------


async def test_unshared_executions_read_an_events_kindergarten_and_group_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    places = graph.subscriptions._places

    async def counted(info: Any, event: Any) -> Any:
        reads.append(event.id)
        return await places(info, event)

    monkeypatch.setattr(graph.subscriptions, "_places", counted)
    async with served(db_url) as s:
        sha = await place(s.base, "SHA-5")
        async with (
            subscribe(s.base, operator("op-r"), LIVE) as region,
            subscribe(s.base, operator("op-d", district=data.SHAKHTINSK), LIVE) as district,
            subscribe(s.base, Kezek.ministry(), LIVE) as ministry,
        ):
            await until(live(s, 3, 3), "three scopes, three executions")
            await set_capacity(s.base, Kezek.staff("SHA-5"), sha.group, 3)
            got = [await sub.event() for sub in (region, district, ministry)]
            assert got[0] == got[1] == got[2] and got[0]["kindergarten"]["id"] == sha.kg
            assert len(reads) == 1 and decode_cursor(got[0]["cursor"]) == reads[0]
