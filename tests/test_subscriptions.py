"""Subscriptions end to end: real `kezek serve` processes on one database, a graphql-transport-ws client.

Every server a test starts is stopped by that test (SIGTERM, as a service manager would; SIGKILL if it does
not stop). Every read from a socket has a timeout, so a missing event fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from api.auth import mint
from domain.model import Role
from integrations.sandbox import sandbox_signature
from persistence.db import make_engine, raw_connect
from persistence.feed import FeedStore
from persistence.pg import Pools
from persistence.readers import decode_cursor, encode_cursor
from tests import data
from tests.conftest import CHANNELS, OFFERS_POLICY, Kezek

ROOT = Path(__file__).parent.parent
WAIT = 8.0  # seconds: the longest a test waits for one message
PROTOCOL = [Subprotocol("graphql-transport-ws")]


# --- servers --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(proc: subprocess.Popen[bytes]) -> None:
    """Waits for a process sent SIGTERM to finish shutting down; kills it if it hangs."""
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.asynccontextmanager
async def serve(
    db_url: str, policy: Path, *, count: int = 1, worker: bool = False, extra_env: dict[str, str] | None = None
) -> AsyncIterator[list[str]]:
    """`count` processes of `kezek serve` on one database; yields their base URLs, stops them all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_")}
    env.update(
        KEZEK_PROFILE="development",
        KEZEK_DATABASE_URL=db_url,
        KEZEK_POLICY_FILE=str(policy),
        KEZEK_WORKER_INTERVAL="0.5",
        KEZEK_LOG_LEVEL="WARNING",
    )
    env.update(extra_env or {})
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    with tempfile.TemporaryFile() as log:
        try:
            for _ in range(count):
                port = _free_port()
                args = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
                procs.append(
                    subprocess.Popen(
                        args if worker else [*args, "--no-worker"],
                        env=env,
                        cwd=ROOT,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
                bases.append(f"127.0.0.1:{port}")
            async with httpx.AsyncClient(timeout=0.5) as client:
                for proc, base in zip(procs, bases, strict=True):
                    for _ in range(300):
                        if proc.poll() is not None:
                            log.seek(0)
                            raise AssertionError(f"kezek serve exited during start-up: {log.read()[-2000:]!r}")
                        with contextlib.suppress(httpx.HTTPError):
                            if (await client.get(f"http://{base}/readyz")).status_code == 200:
                                break
                        await asyncio.sleep(0.1)
                    else:
                        raise AssertionError("kezek serve did not become ready")
            yield bases
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()  # not SIGINT: a child of a shell that ignores SIGINT inherits that
            for proc in procs:
                await asyncio.to_thread(_wait, proc)


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(claims, dict)
    return claims


def policy_file(tmp_path: Path, **default: Any) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"default": default}))
    return path


# --- clients --------------------------------------------------------------------------------------


async def post(base: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=WAIT) as client:
        response = await client.post(
            f"http://{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    assert response.status_code == 200, response.text
    return response.json()


async def gql(base: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
    body = await post(base, query, variables, token)
    assert "errors" not in body, body
    return body["data"]


async def receive(ws: ClientConnection, timeout: float = WAIT) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert isinstance(message, dict)
    return message


@contextlib.asynccontextmanager
async def connected(base: str, token: str) -> AsyncIterator[ClientConnection]:
    """An acknowledged graphql-transport-ws connection."""
    async with connect(f"ws://{base}/graphql", subprotocols=PROTOCOL, open_timeout=WAIT) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert (await receive(ws))["type"] == "connection_ack"
        yield ws


async def closed_with(ws: ClientConnection, timeout: float = WAIT) -> int | None:
    """Waits for the server to close the socket; the close code."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


class Sub:
    """One subscription on its own socket."""

    def __init__(self, ws: ClientConnection, field: str) -> None:
        self.ws = ws
        self.field = field

    async def message(self, timeout: float = WAIT) -> dict[str, Any]:
        while True:
            message = await receive(self.ws, timeout)
            if message["type"] != "pong":
                return message

    async def event(self, timeout: float = WAIT) -> dict[str, Any]:
        message = await self.message(timeout)
        assert message["type"] == "next" and not message["payload"].get("errors"), message
        event = message["payload"]["data"][self.field]
        assert isinstance(event, dict)
        return event

    async def events(self, n: int) -> list[dict[str, Any]]:
        return [await self.event() for _ in range(n)]

    async def error_code(self) -> str:
        """The subscription ends with an error: its extensions.code."""
        message = await self.message()
        if message["type"] == "next":
            errors = message["payload"]["errors"]
            assert (await self.message())["type"] == "complete"
        else:
            assert message["type"] == "error", message
            errors = message["payload"]
        code = errors[0]["extensions"]["code"]
        assert isinstance(code, str)
        return code


@contextlib.asynccontextmanager
async def subscribe(base: str, token: str, query: str, variables: dict[str, Any] | None = None) -> AsyncIterator[Sub]:
    async with connected(base, token) as ws:
        payload = {"query": query, "variables": variables or {}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        yield Sub(ws, query.split("{", 2)[1].split("(")[0].strip())


@dataclass(frozen=True)
class Probe:
    """A synthetic feed event that reaches one live subscription (its stream and the fields its filter reads),
    of kinds the test never expects there: `kinds[0]` while probing, `kinds[1]` for the last probe."""

    stream: str
    kinds: tuple[str, str]
    columns: tuple[tuple[str, Any], ...]


def offer_probe(child_iin: str, offer_id: int) -> Probe:
    """For seatOffers of the child's parent; `offer_id` names any existing offer (the event shows it)."""
    return Probe("offer", ("CANCELLED", "SUPERSEDED"), (("child_iin", child_iin), ("offer_id", offer_id)))


def application_probe(application_id: str) -> Probe:
    """For applicationUpdates of the application."""
    return Probe("application", ("CLAIM_CHANGED", "POSITION_CHANGED"), (("application_id", int(application_id)),))


async def publish_probe(db_url: str, probe: Probe, kind: str) -> None:
    """Written as the app writes feed events: no other writer commits in between (the table is locked until
    commit, so ids follow commit order), then NOTIFY."""
    columns = dict(probe.columns)
    names = ", ".join(columns)
    values = ", ".join(f"${n}" for n in range(3, len(columns) + 3))
    conn = await raw_connect(db_url)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            await conn.execute(
                f"INSERT INTO events (at, stream, kind, {names}) VALUES (now(), $1, $2, {values})",
                probe.stream,
                kind,
                *columns.values(),
            )
        await conn.execute("NOTIFY kezek_events")
    finally:
        await conn.close()


async def settle(db_url: str, *probed: tuple[Sub, Probe]) -> None:
    """Live-only subscriptions (no `after`) hear only what commits once they are registered with the broker,
    which happens in the operation's own task, at a moment a client cannot see. So each is sent probes until
    one arrives (from then on it hears every event; anything before it is older); then one last probe, read up
    to, so that no probe still on its way is left for the test. However slow the server, this only sends more
    probes."""
    waiting = list(probed)
    deadline = asyncio.get_running_loop().time() + 4 * WAIT  # a bound for a broken server only
    while waiting:
        assert asyncio.get_running_loop().time() < deadline, "a subscription never heard of its probes"
        for probe in {p for _, p in waiting}:
            await publish_probe(db_url, probe, probe.kinds[0])
        for sub, probe in list(waiting):
            with contextlib.suppress(TimeoutError):
                # An event of another kind is older than any probe (the broker read it late): not the test's.
                if (await sub.event(timeout=0.25))["kind"] == probe.kinds[0]:
                    waiting.remove((sub, probe))
    for probe in {p for _, p in probed}:
        await publish_probe(db_url, probe, probe.kinds[1])
    for sub, probe in probed:
        while (kind := (await sub.event())["kind"]) != probe.kinds[1]:
            assert kind == probe.kinds[0], kind


async def probe_offer(base: str, db_url: str) -> int:
    """An offer of a family no test here follows (Karaganda city, KAR-1 has free seats), for offer probes."""
    family = data.CITY
    kar = await place(base, "KAR-1")
    app_id = await submit(base, family.parents[0], family.children[0], kar.kg)
    conn = await raw_connect(db_url)
    try:
        offer_id = await conn.fetchval("SELECT id FROM offers WHERE application_id = $1", int(app_id))
    finally:
        await conn.close()
    assert offer_id is not None, "KAR-1 had no free seat"
    return int(offer_id)


async def latest(db_url: str) -> dict[str, str]:
    """`after` the newest stored event: whatever commits later is replayed or pushed, never missed."""
    conn = await raw_connect(db_url)
    try:
        last = int(await conn.fetchval("SELECT position FROM feed_head"))
    finally:
        await conn.close()
    return {"after": encode_cursor(last)}


# --- queries --------------------------------------------------------------------------------------

OFFER = "id status kindergarten { id externalId } group { id } child { iin } contract { id documentHash }"
SEAT_OFFERS = f"subscription {{ seatOffers {{ kind offer {{ {OFFER} }} }} }}"
VACANCIES = """subscription($after: String, $kg: ID) {
  vacancyUpdates(after: $after, kindergartenId: $kg) {
    cursor kind freeSeats at kindergarten { id externalId } group { id capacity }
  }
}"""
APP_UPDATES = """subscription($id: ID!) {
  applicationUpdates(applicationId: $id) { kind application { id status offer { id kindergarten { externalId } } } }
}"""
SUBMIT = """mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id status } errors { code } }
}"""
SET_CAPACITY = """mutation($g: ID!, $c: Int!) {
  setGroupCapacity(input: {groupId: $g, capacity: $c}) { group { capacity freeSeats } errors { code } }
}"""
GROUPS = "query($id: ID!) { kindergarten(id: $id) { groups { id birthYearFrom language } } }"
KG_BY_EXTERNAL = "{ kindergartens(first: 100) { edges { node { id externalId } } } }"


class Place:
    """Ids of one kindergarten and of its 2023 RU group, looked up over HTTP."""

    def __init__(self, kg: str, group: str) -> None:
        self.kg = kg
        self.group = group


async def place(base: str, external_id: str, year: int = 2023) -> Place:
    edges = (await gql(base, KG_BY_EXTERNAL))["kindergartens"]["edges"]
    kg = next(e["node"]["id"] for e in edges if e["node"]["externalId"] == external_id)
    groups = (await gql(base, GROUPS, {"id": kg}))["kindergarten"]["groups"]
    group = next(g["id"] for g in groups if g["birthYearFrom"] == year and g["language"] == "RU")
    return Place(kg, group)


async def submit(base: str, parent: str, child: str, *kgs: str) -> str:
    variables = {"input": {"childIin": child, "kindergartenIds": list(kgs), "language": "RU"}}
    payload = (await gql(base, SUBMIT, variables, Kezek.citizen(parent)))["submitApplication"]
    assert payload["errors"] == [], payload
    app_id = payload["application"]["id"]
    assert isinstance(app_id, str)
    return app_id


async def set_capacity(base: str, staff: str, group: str, capacity: int) -> None:
    payload = (await gql(base, SET_CAPACITY, {"g": group, "c": capacity}, staff))["setGroupCapacity"]
    assert payload["errors"] == [] and payload["group"]["capacity"] == capacity, payload


async def application_status(base: str, parent: str, app_id: str) -> str:
    query = "query($id: ID!) { application(id: $id) { status } }"
    status = (await gql(base, query, {"id": app_id}, Kezek.citizen(parent)))["application"]["status"]
    assert isinstance(status, str)
    return status


def _cursor_ids(events: list[dict[str, Any]]) -> list[int]:
    ids = [decode_cursor(e["cursor"]) for e in events]
    assert all(isinstance(i, int) for i in ids)
    return ids


async def vacancy_rows(db_url: str, after_id: int) -> list[tuple[int, str]]:
    """Vacancy events after a cursor, once every committed event has its position (the broker gives them
    right after each commit)."""
    conn = await raw_connect(db_url)
    try:
        for _ in range(100):
            if not await conn.fetchval("SELECT count(*) FROM events WHERE position IS NULL"):
                break
            await asyncio.sleep(0.05)
        rows = await conn.fetch(
            """SELECT position AS id, kind FROM events WHERE stream = 'vacancy' AND region_code = $1 AND position > $2
            ORDER BY position""",
            data.KARAGANDA_REGION,
            after_id,
        )
    finally:
        await conn.close()
    return [(int(r["id"]), str(r["kind"])) for r in rows]


# --- 1. tokens --------------------------------------------------------------------------------------


async def test_bad_tokens_close_the_socket_with_4403_and_so_does_expiry(db_url: str) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    refused = {
        "garbage": "not-a-jwt",
        "expired": mint(
            CHANNELS["egov"], Role.CITIZEN, data.OTHER.parents[0], now=long_ago, lifetime=dt.timedelta(hours=1)
        ),
        "role the channel may not use": mint(
            CHANNELS["egov"], Role.AKIMAT_OPERATOR, "op-1", region=data.KARAGANDA_REGION
        ),
        "region outside the channel": mint(
            CHANNELS["akimat-sko"], Role.AKIMAT_OPERATOR, "op-1", region=data.KARAGANDA_REGION
        ),
    }
    async with serve(db_url, OFFERS_POLICY) as (a,):
        for why, token in refused.items():
            async with connect(f"ws://{a}/graphql", subprotocols=PROTOCOL, open_timeout=WAIT) as ws:
                init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                await ws.send(json.dumps(init))
                assert await closed_with(ws) == 4403, why
        # A good token is acknowledged, and the socket is closed with 4403 when the token reaches its exp, not
        # before (a close seen earlier than exp would be a bug, however fast or slow this machine is).
        short = mint(CHANNELS["egov"], Role.CITIZEN, data.OTHER.parents[0], lifetime=dt.timedelta(seconds=5))
        exp = dt.datetime.fromtimestamp(jwt_claims(short)["exp"], dt.UTC)
        async with connected(a, short) as ws:
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SEAT_OFFERS}}))
            assert await closed_with(ws, timeout=WAIT + 5) == 4403
            assert dt.datetime.now(dt.UTC) >= exp - dt.timedelta(seconds=1)  # timer and clock granularity
        # HTTP answers the same bad token with UNAUTHENTICATED, not a socket code.
        body = await post(a, "{ viewer { role } }", token=refused["expired"])
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- 2. two processes ---------------------------------------------------------------------------


async def test_events_reach_subscribers_on_another_process(db_url: str) -> None:
    other_parent, other_child = data.OTHER.parents[0], data.OTHER.children[0]
    plain_parent, plain_child = data.PLAIN.parents[0], data.PLAIN.children[1]  # born 2023
    async with serve(db_url, OFFERS_POLICY, count=2) as (a, b):
        sha = await place(a, "SHA-1")
        pet = await place(a, "PET-1")
        staff = Kezek.staff("SHA-1")
        await set_capacity(a, staff, sha.group, 0)
        await submit(a, other_parent, other_child, sha.kg)
        await submit(a, plain_parent, plain_child, sha.kg)
        probed = await probe_offer(a, db_url)
        async with contextlib.AsyncExitStack() as stack:
            now = await latest(db_url)
            karaganda = await stack.enter_async_context(subscribe(b, Kezek.operator(), VACANCIES, now))
            north = await stack.enter_async_context(subscribe(b, Kezek.operator(data.SKO_REGION), VACANCIES, now))
            other = await stack.enter_async_context(subscribe(b, Kezek.citizen(other_parent), SEAT_OFFERS))
            plain = await stack.enter_async_context(subscribe(b, Kezek.citizen(plain_parent), SEAT_OFFERS))
            await settle(db_url, (other, offer_probe(other_child, probed)), (plain, offer_probe(plain_child, probed)))

            # A change in another region first: only its own region's operator hears of it.
            await set_capacity(a, Kezek.staff("PET-1", channel="akimat-sko"), pet.group, 7)
            event = await north.event()
            assert (event["kind"], event["kindergarten"]["id"], event["freeSeats"]) == ("CAPACITY_CHANGED", pet.kg, 7)

            # Staff raise the full group's capacity on process A: the first queued child is offered the seat.
            await set_capacity(a, staff, sha.group, 1)
            got = await karaganda.events(2)
            assert [(e["kind"], e["freeSeats"]) for e in got] == [("CAPACITY_CHANGED", 1), ("OFFER_MADE", 0)]
            for e in got:
                assert e["kindergarten"] == {"id": sha.kg, "externalId": "SHA-1"}
                assert e["group"]["id"] == sha.group
            offered = await other.event()
            assert offered["kind"] == "OFFERED"
            assert offered["offer"]["child"]["iin"] == other_child
            assert offered["offer"]["kindergarten"] == {"id": sha.kg, "externalId": "SHA-1"}
            assert offered["offer"]["group"]["id"] == sha.group and offered["offer"]["status"] == "PENDING"

            # One more seat: the second family's first event is its own child's offer, never the first's.
            await set_capacity(a, staff, sha.group, 2)
            mine = await plain.event()
            assert mine["kind"] == "OFFERED" and mine["offer"]["child"]["iin"] == plain_child
            assert mine["offer"]["id"] != offered["offer"]["id"]
            got += await karaganda.events(2)
            assert [(e["kind"], e["freeSeats"]) for e in got[2:]] == [("CAPACITY_CHANGED", 1), ("OFFER_MADE", 0)]
            # Nothing of Karaganda reached the other region's operator: its next event is its own again.
            await set_capacity(a, Kezek.staff("PET-1", channel="akimat-sko"), pet.group, 8)
            event = await north.event()
            assert (event["kind"], event["kindergarten"]["id"], event["freeSeats"]) == ("CAPACITY_CHANGED", pet.kg, 8)
            # Cursors follow commit order and name the stored events.
            ids = _cursor_ids(got)
            assert ids == sorted(ids) and len(set(ids)) == 4
            assert [(i, e["kind"]) for i, e in zip(ids, got, strict=True)] == await vacancy_rows(db_url, ids[0] - 1)


# --- 3. replay after a cursor -------------------------------------------------------------------


DECLINE = "mutation($id: ID!) { declineOffer(input: {offerId: $id}) { offer { status } errors { code } } }"


async def test_reconnecting_after_the_last_cursor_replays_what_was_missed_then_goes_live(db_url: str) -> None:
    parent, child = data.OTHER.parents[0], data.OTHER.children[0]
    operator = Kezek.operator()
    async with serve(db_url, OFFERS_POLICY) as (a,):
        sha = await place(a, "SHA-2")
        staff = Kezek.staff("SHA-2")
        async with subscribe(a, operator, VACANCIES, await latest(db_url)) as sub:
            await set_capacity(a, staff, sha.group, 5)
            seen = await sub.event()
            assert (seen["kind"], seen["freeSeats"], seen["group"]["id"]) == ("CAPACITY_CHANGED", 5, sha.group)
        last = seen["cursor"]

        # While disconnected: the group fills, a child queues, a seat opens and is offered, then declined.
        await set_capacity(a, staff, sha.group, 0)
        await submit(a, parent, child, sha.kg)
        await set_capacity(a, staff, sha.group, 1)
        offer = (
            await gql(
                a,
                "query($iin: String!) { child(iin: $iin) { application { offer { id } } } }",
                {"iin": child},
                Kezek.citizen(parent),
            )
        )["child"]["application"]["offer"]["id"]
        declined = (await gql(a, DECLINE, {"id": offer}, Kezek.citizen(parent)))["declineOffer"]
        assert declined["errors"] == [] and declined["offer"]["status"] == "DECLINED"
        missed = await vacancy_rows(db_url, decode_cursor(last))
        assert [k for _, k in missed] == ["CAPACITY_CHANGED", "CAPACITY_CHANGED", "OFFER_MADE", "OFFER_DECLINED"]

        async with subscribe(a, operator, VACANCIES, {"after": last}) as sub:
            replayed = await sub.events(len(missed))
            assert [(e["cursor"], e["kind"]) for e in replayed] == [(encode_cursor(i), k) for i, k in missed]
            assert [e["freeSeats"] for e in replayed] == [0, 1, 0, 1]
            # Then live events, after the replayed ones.
            await set_capacity(a, staff, sha.group, 3)
            live = await sub.event()
            assert (live["kind"], live["freeSeats"]) == ("CAPACITY_CHANGED", 3)
            assert decode_cursor(live["cursor"]) > missed[-1][0]


async def test_a_cursor_older_than_the_retention_ends_the_subscription_with_cursor_expired(db_url: str) -> None:
    conn = await raw_connect(db_url)
    try:
        for _ in range(3):
            await conn.execute(
                """INSERT INTO events (at, stream, kind, region_code, district_code, free_seats)
                VALUES (now() - interval '8 days', 'vacancy', 'CAPACITY_CHANGED', $1, $2, 20)""",
                data.KARAGANDA_REGION,
                data.SHAKHTINSK,
            )
        engine, pools = make_engine(db_url, pool_size=1), Pools(db_url, size=1)
        try:
            await FeedStore(engine, pools).sequence()
        finally:
            await pools.close()
            await engine.dispose()
        old = [int(r[0]) for r in await conn.fetch("SELECT position FROM events ORDER BY position DESC LIMIT 3")][::-1]
        # The two oldest were pruned already; the third is past retention but not yet deleted.
        await conn.execute("DELETE FROM events WHERE position < $1", old[2])
    finally:
        await conn.close()
    operator = Kezek.operator()
    async with serve(db_url, OFFERS_POLICY) as (a,):
        sha = await place(a, "SHA-3")
        await set_capacity(a, Kezek.staff("SHA-3"), sha.group, 4)
        recent = (await vacancy_rows(db_url, old[2]))[-1][0]
        for cursor in (old[0], old[2]):
            async with subscribe(a, operator, VACANCIES, {"after": encode_cursor(cursor)}) as sub:
                assert await sub.error_code() == "CURSOR_EXPIRED"
        # A cursor within the retention is fine: the subscription stays open and goes on live.
        async with subscribe(a, operator, VACANCIES, {"after": encode_cursor(recent)}) as sub:
            await set_capacity(a, Kezek.staff("SHA-3"), sha.group, 6)
            event = await sub.event()
            assert (event["kind"], event["freeSeats"]) == ("CAPACITY_CHANGED", 6)
            assert decode_cursor(event["cursor"]) > recent
        async with subscribe(a, operator, VACANCIES, {"after": "not a cursor"}) as sub:
            assert await sub.error_code() == "INVALID_INPUT"


# --- 4. who may watch what ----------------------------------------------------------------------


async def test_application_updates_reach_the_owner_and_no_one_else(db_url: str) -> None:
    parent, child = data.OTHER.parents[0], data.OTHER.children[0]
    async with serve(db_url, OFFERS_POLICY) as (a,):
        sha = await place(a, "SHA-3")
        staff = Kezek.staff("SHA-3")
        await set_capacity(a, staff, sha.group, 0)
        app_id = await submit(a, parent, child, sha.kg)
        assert await application_status(a, parent, app_id) == "QUEUED"

        refusals = [
            (Kezek.citizen(data.PLAIN.parents[0]), APP_UPDATES, {"id": app_id}, "NOT_FOUND"),
            (Kezek.operator(data.SKO_REGION), APP_UPDATES, {"id": app_id}, "NOT_FOUND"),
            (Kezek.operator(district=data.KARAGANDA_CITY), APP_UPDATES, {"id": app_id}, "NOT_FOUND"),
            (Kezek.citizen(parent), APP_UPDATES, {"id": "987654321"}, "NOT_FOUND"),
            (Kezek.citizen(parent), VACANCIES, {}, "FORBIDDEN"),
            (staff, APP_UPDATES, {"id": app_id}, "FORBIDDEN"),
        ]
        for token, query, variables, code in refusals:
            async with subscribe(a, token, query, variables) as sub:
                assert await sub.error_code() == code, (query, variables)

        async with (
            subscribe(a, Kezek.citizen(parent), APP_UPDATES, {"id": app_id}) as owner,
            subscribe(a, Kezek.operator(district=data.SHAKHTINSK), APP_UPDATES, {"id": app_id}) as operator,
        ):
            probe = application_probe(app_id)
            await settle(db_url, (owner, probe), (operator, probe))
            await set_capacity(a, staff, sha.group, 1)
            for sub in (owner, operator):
                event = await sub.event()
                assert event["kind"] in ("STATUS_CHANGED", "OFFER_CHANGED")
                application = event["application"]
                assert application["id"] == app_id and application["status"] == "OFFERED"
                assert application["offer"]["kindergarten"]["externalId"] == "SHA-3"


# --- 5. done means ------------------------------------------------------------------------------

CONFIRM = f"mutation($id: ID!) {{ confirmOffer(input: {{offerId: $id}}) {{ offer {{ {OFFER} }} errors {{ code }} }} }}"
SIGN = """mutation($id: ID!, $sig: String!) {
  signContract(input: {contractId: $id, signature: $sig}) {
    offer { status } enrollment { kindergarten { externalId } } errors { code }
  }
}"""
LEAVE = """mutation($iin: String!) {
  leaveKindergarten(input: {childIin: $iin, reason: "moved away"}) { errors { code } }
}"""
RESTORE = """mutation($id: ID!) {
  restoreApplication(input: {applicationId: $id}) { application { status } errors { code } }
}"""
CHILD = (
    "query($iin: String!) { child(iin: $iin) { application { status } enrollment { kindergarten { externalId } } } }"
)


async def test_a_freed_seat_is_offered_enrolled_and_an_unanswered_offer_lapses_by_itself(
    db_url: str, tmp_path: Path
) -> None:
    parent, child = data.OTHER.parents[0], data.OTHER.children[0]
    citizen = Kezek.citizen(parent)
    staff = Kezek.staff("SHA-5")
    operator = Kezek.operator()
    async with serve(db_url, OFFERS_POLICY) as (a,):
        sha = await place(a, "SHA-5")
        await set_capacity(a, staff, sha.group, 0)
        await submit(a, parent, child, sha.kg)
        probed = await probe_offer(a, db_url)
        async with (
            subscribe(a, citizen, SEAT_OFFERS) as offers,
            subscribe(a, operator, VACANCIES, {"kg": sha.kg, **await latest(db_url)}) as vacancies,
        ):
            await settle(db_url, (offers, offer_probe(child, probed)))
            # Staff free a seat: the parent and the operator both hear of the offer.
            await set_capacity(a, staff, sha.group, 1)
            offered = await offers.event()
            assert offered["kind"] == "OFFERED" and offered["offer"]["child"]["iin"] == child
            assert offered["offer"]["kindergarten"]["externalId"] == "SHA-5"
            offer_id = offered["offer"]["id"]
            assert [(e["kind"], e["freeSeats"]) for e in await vacancies.events(2)] == [
                ("CAPACITY_CHANGED", 1),
                ("OFFER_MADE", 0),
            ]

            # The parent confirms and signs over HTTP: the child is enrolled.
            confirmed = (await gql(a, CONFIRM, {"id": offer_id}, citizen))["confirmOffer"]
            assert confirmed["errors"] == [] and confirmed["offer"]["status"] == "CONFIRMED"
            contract = confirmed["offer"]["contract"]
            signature = sandbox_signature(parent, contract["documentHash"])
            signed = (await gql(a, SIGN, {"id": contract["id"], "sig": signature}, citizen))["signContract"]
            assert signed["errors"] == [] and signed["offer"]["status"] == "ENROLLED"
            assert signed["enrollment"]["kindergarten"]["externalId"] == "SHA-5"
            assert [e["kind"] for e in await vacancies.events(2)] == ["OFFER_CONFIRMED", "ENROLLED"]
        state = (await gql(a, CHILD, {"iin": child}, citizen))["child"]
        assert state["application"]["status"] == "ENROLLED"
        assert state["enrollment"]["kindergarten"]["externalId"] == "SHA-5"

    # A server with its own worker and a 3-second response window: an unanswered offer lapses by itself.
    late_parent, late_child = data.PLAIN.parents[0], data.PLAIN.children[1]
    late = Kezek.citizen(late_parent)
    async with serve(db_url, policy_file(tmp_path, responseWindow="PT3S"), worker=True) as (w,):
        app_id = await submit(w, late_parent, late_child, sha.kg)
        assert await application_status(w, late_parent, app_id) == "QUEUED"  # the group is full
        async with (
            subscribe(w, late, SEAT_OFFERS) as offers,
            subscribe(w, operator, VACANCIES, {"kg": sha.kg, **await latest(db_url)}) as vacancies,
        ):
            await settle(db_url, (offers, offer_probe(late_child, probed)))
            # The enrolled child leaves: the seat goes to the queued child, who never answers.
            assert (await gql(w, LEAVE, {"iin": child}, staff))["leaveKindergarten"]["errors"] == []
            kinds = [(await offers.event())["kind"]]
            while kinds[-1] != "LAPSED":
                event = await offers.event()
                assert event["offer"]["child"]["iin"] == late_child
                kinds.append(event["kind"])
            assert kinds[0] == "OFFERED" and set(kinds[1:-1]) <= {"REMINDER"}, kinds
            assert event["offer"]["status"] == "LAPSED"
            assert [e["kind"] for e in await vacancies.events(3)] == ["LEFT", "OFFER_MADE", "OFFER_LAPSED"]
        assert await application_status(w, late_parent, app_id) == "INACTIVE"

        # Restored, the application queues again (the group is made full first, so no new offer is made).
        await set_capacity(w, staff, sha.group, 0)
        restored = (await gql(w, RESTORE, {"id": app_id}, late))["restoreApplication"]
        assert restored["errors"] == [] and restored["application"]["status"] == "QUEUED"
        assert await application_status(w, late_parent, app_id) == "QUEUED"
