"""The background worker (docs/api.md §4): outbox dispatch through the sandbox and a real HTTP SMS gateway,
concurrent workers (SKIP LOCKED), claim expiry, ageing out, the daily benefits re-check, the append-only
audit log, and the `kezek worker` command (docs/product.md §3, §7, §8; docs/quality.md §4)."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.model import Language
from persistence.db import make_engine
from persistence.outbox import dispatch_outbox
from tests import data
from tests.conftest import QUEUE_ONLY_POLICY, Kezek, open_kezek
from tests.local_server import serve_in_thread

ALMATY = ZoneInfo("Asia/Almaty")

SENT = """query($phone: String!) { sentMessages(phone: $phone) { id to text language createdAt } }"""

CHANGE = """mutation($input: ChangeChoicesInput!) { changeChoices(input: $input) {
  application { id } errors { code } } }"""

APP = """query($id: ID!) { application(id: $id) {
  id number status tier queueDate
  claims { category tier status evidenceId }
  choices { kindergarten { externalId } position }
  history { action actorRole channel reason } } }"""

QUEUE = """query($kg: ID!, $year: Int!) { publicQueue(kindergartenId: $kg, birthYear: $year, language: RU) {
  edges { node { position applicationNumber tier } } } }"""

OPERATOR = Kezek.operator(data.KARAGANDA_REGION)


async def _outbox(kezek: Kezek) -> list[Any]:
    return await kezek.sql(
        """SELECT id, message_id, recipient, text, language, kind, application_id, attempts, sent_at,
            last_error FROM outbox ORDER BY id"""
    )


async def _app(kezek: Kezek, app_id: str) -> Any:
    result = (await kezek.gql(APP, {"id": app_id}, OPERATOR))["application"]
    assert result is not None
    return result


async def _make_past_due(kezek: Kezek) -> None:
    """The outbox back-off is measured with the database's clock: bring retries forward by hand."""
    await kezek.sql("UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE sent_at IS NULL")


# --- the outbox with the sandbox gateway ---------------------------------------------------------


async def test_messages_are_written_with_the_change_and_sent_once(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    phone = data.PLAIN.phones[parent]
    result = await kezek.submit(parent, child, ["SHA-1", "SHA-2"])
    app = result["application"]

    [row] = await _outbox(kezek)
    assert (row["kind"], row["recipient"], row["language"], row["application_id"]) == (
        "POSITIONS_ASSIGNED",
        phone,
        "RU",
        int(app["id"]),
    )
    assert app["number"] in row["text"]
    assert row["sent_at"] is None and row["attempts"] == 0
    assert (await kezek.gql(SENT, {"phone": phone}))["sentMessages"] == []

    # Failed submissions roll back whole: no message for them.
    duplicate = await kezek.submit(parent, child, ["SHA-3"])
    assert [e["code"] for e in duplicate["errors"]] == ["DUPLICATE_APPLICATION"]
    unsuitable = await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1", "SHA-SP"])
    assert [e["code"] for e in unsuitable["errors"]] == ["NO_SUITABLE_GROUP"]
    assert len(await _outbox(kezek)) == 1
    assert await kezek.sql("SELECT 1 FROM applications WHERE child_iin = $1", data.OTHER.children[0]) == []

    done = await kezek.worker_pass()
    assert (done["sms_sent"], done["sms_failed"]) == (1, 0)
    [row] = await _outbox(kezek)
    assert row["sent_at"] is not None and row["attempts"] == 1 and row["last_error"] is None
    [sent] = (await kezek.gql(SENT, {"phone": phone}))["sentMessages"]
    assert (sent["id"], sent["to"], sent["text"], sent["language"]) == (row["message_id"], phone, row["text"], "RU")

    # A later change: its message comes first (newest first), the first one is not sent again.
    changed = await kezek.gql(
        CHANGE,
        {"input": {"applicationId": app["id"], "kindergartenIds": await kezek.kgs("SHA-3")}},
        kezek.citizen(parent),
    )
    assert changed["changeChoices"]["errors"] == []
    assert (await kezek.worker_pass())["sms_sent"] == 1
    assert (await kezek.worker_pass())["sms_sent"] == 0
    sent_list = (await kezek.gql(SENT, {"phone": phone}))["sentMessages"]
    rows = await _outbox(kezek)
    assert [r["kind"] for r in rows] == ["POSITIONS_ASSIGNED", "POSITIONS_CHANGED"]
    assert [s["id"] for s in sent_list] == [rows[1]["message_id"], rows[0]["message_id"]]
    assert all(r["attempts"] == 1 and r["sent_at"] is not None for r in rows)
    assert len(await kezek.sql("SELECT 1 FROM sandbox_sms")) == 2
    # Nobody else's phone got anything.
    assert (await kezek.gql(SENT, {"phone": data.OTHER.phones[data.OTHER.parents[0]]}))["sentMessages"] == []


# --- the outbox with a real HTTP SMS gateway -----------------------------------------------------


@dataclass
class Gateway:
    """What the SMS gateway saw; the first `fail` requests (or all while `down`) get a 500."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    fail: int = 0
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _gateway_app(gw: Gateway) -> Starlette:
    async def sms(request: Request) -> Response:
        body = await request.json()
        with gw.lock:
            gw.requests.append(body)
            if gw.down or gw.fail > 0:
                gw.fail = max(0, gw.fail - 1)
                return JSONResponse({"error": "try later"}, status_code=500)
            gw.accepted.append(body["id"])
        return Response(status_code=202)

    return Starlette(routes=[Route("/sms", sms, methods=["POST"])])


@pytest.fixture
def sms_gateway() -> Iterator[tuple[str, Gateway]]:
    gw = Gateway()
    with serve_in_thread(_gateway_app(gw)) as url:
        yield f"{url}/sms", gw


@pytest.fixture
async def http_kezek(db_url: str, sms_gateway: tuple[str, Gateway]) -> AsyncIterator[Kezek]:
    # No in-call retries: every failed request shows up as one failed outbox attempt.
    async with open_kezek(db_url, sms_gateway_url=sms_gateway[0], registry_retries=0, registry_timeout=5) as k:
        yield k


async def test_http_gateway_failures_are_retried_with_the_same_id(
    http_kezek: Kezek, sms_gateway: tuple[str, Gateway]
) -> None:
    kezek, gw = http_kezek, sms_gateway[1]
    first = await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[0], ["SHA-1"], notificationLanguage="KK")
    second = await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-2"])
    assert first["errors"] == [] and second["errors"] == []
    gw.fail = 3

    # Pass 1: both fail and wait for their back-off; a pass right after sends nothing.
    done = await kezek.worker_pass()
    assert (done["sms_sent"], done["sms_failed"]) == (0, 2)
    rows = await _outbox(kezek)
    assert [(r["attempts"], r["sent_at"], r["last_error"]) for r in rows] == [(1, None, "SmsSendFailed")] * 2
    waiting = await kezek.sql("SELECT bool_and(next_attempt_at > now()) AS later FROM outbox")
    assert waiting[0]["later"] is True
    assert (await kezek.worker_pass())["sms_failed"] == 0
    assert len(gw.requests) == 2

    # Pass 2: the first message fails once more, the second goes through.
    await _make_past_due(kezek)
    done = await kezek.worker_pass()
    assert (done["sms_sent"], done["sms_failed"]) == (1, 1)
    # Pass 3: the first goes through.
    await _make_past_due(kezek)
    done = await kezek.worker_pass()
    assert (done["sms_sent"], done["sms_failed"]) == (1, 0)
    await _make_past_due(kezek)
    assert (await kezek.worker_pass())["sms_sent"] == 0

    rows = await _outbox(kezek)
    assert [r["attempts"] for r in rows] == [3, 2]
    assert all(r["sent_at"] is not None for r in rows)
    by_id = collections.defaultdict(list)
    for body in gw.requests:
        by_id[body["id"]].append(body)
    assert set(by_id) == {r["message_id"] for r in rows}
    assert sorted(gw.accepted) == sorted(r["message_id"] for r in rows)  # exactly one success each
    for row in rows:
        bodies = by_id[row["message_id"]]
        assert len(bodies) == row["attempts"]
        # Every attempt carries the same body: the gateway drops duplicates by id.
        assert all(
            b == {"id": row["message_id"], "to": row["recipient"], "text": row["text"], "language": row["language"]}
            for b in bodies
        )
    assert rows[0]["language"] == "KK" and rows[1]["language"] == "RU"
    assert rows[0]["recipient"] == data.PLAIN.phones[data.PLAIN.parents[0]]


async def test_nothing_is_lost_while_the_http_gateway_is_down(
    http_kezek: Kezek, sms_gateway: tuple[str, Gateway]
) -> None:
    kezek, gw = http_kezek, sms_gateway[1]
    gw.down = True
    await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[0], ["SHA-1"])
    for _ in range(4):
        await _make_past_due(kezek)
        done = await kezek.worker_pass()
        assert (done["sms_sent"], done["sms_failed"]) == (0, 1)
    # Messages written while the gateway is down wait as well.
    await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1"])
    await _make_past_due(kezek)
    assert (await kezek.worker_pass())["sms_failed"] == 2
    rows = await _outbox(kezek)
    assert [r["attempts"] for r in rows] == [5, 1]
    assert gw.accepted == []

    gw.down = False
    await _make_past_due(kezek)
    assert (await kezek.worker_pass())["sms_sent"] == 2
    await _make_past_due(kezek)
    assert (await kezek.worker_pass())["sms_sent"] == 0
    rows = await _outbox(kezek)
    assert sorted(gw.accepted) == sorted(r["message_id"] for r in rows)
    assert [r["attempts"] for r in rows] == [6, 2]
    assert len(gw.requests) == 8


# --- concurrent workers --------------------------------------------------------------------------


class BarrierGateway:
    """Records sends; its first send waits until the other dispatcher is sending too, so the test fails
    (instead of passing by luck) when one dispatcher's locks keep the other from working."""

    def __init__(self, record: list[str], mine: asyncio.Event, other: asyncio.Event) -> None:
        self.record, self.mine, self.other = record, mine, other

    async def send(self, message_id: str, to: str, text: str, language: Language) -> None:
        if not self.mine.is_set():
            self.mine.set()
            await asyncio.wait_for(self.other.wait(), timeout=10)
        await asyncio.sleep(0.01)
        self.record.append(message_id)


async def _many_messages(kezek: Kezek) -> int:
    families = [*data.POOL, data.TWINS]
    for family in families:
        for child in family.children:
            result = await kezek.submit(family.parents[0], child, ["SHA-1", "SHA-2"])
            assert result["errors"] == []
            changed = await kezek.gql(
                CHANGE,
                {
                    "input": {
                        "applicationId": result["application"]["id"],
                        "kindergartenIds": await kezek.kgs("SHA-2", "SHA-3"),
                    }
                },
                kezek.citizen(family.parents[0]),
            )
            assert changed["changeChoices"]["errors"] == []
    return len(await _outbox(kezek))


async def test_two_dispatchers_send_every_message_exactly_once(kezek: Kezek) -> None:
    total = await _many_messages(kezek)
    assert total == 30
    record: list[str] = []
    one, two = asyncio.Event(), asyncio.Event()
    engines = [make_engine(kezek.db_url, pool_size=1), make_engine(kezek.db_url, pool_size=1)]

    async def drain(engine: Any, gateway: BarrierGateway) -> int:
        sent = 0
        while (result := await dispatch_outbox(engine, gateway, limit=10)).sent:
            sent += result.sent
        return sent

    try:
        counts = await asyncio.gather(
            drain(engines[0], BarrierGateway(record, one, two)),
            drain(engines[1], BarrierGateway(record, two, one)),
        )
    finally:
        for engine in engines:
            await engine.dispose()

    rows = await _outbox(kezek)
    assert sum(counts) == total
    assert all(c > 0 for c in counts)  # both dispatchers worked at once
    assert collections.Counter(record) == collections.Counter(r["message_id"] for r in rows)
    assert max(collections.Counter(record).values()) == 1
    assert all(r["sent_at"] is not None and r["attempts"] == 1 for r in rows)


async def test_two_expiry_passes_expire_each_claim_once(kezek: Kezek) -> None:
    families = [data.MILITARY, data.POOL[0], data.POOL[3], data.POOL[6], data.POOL[9]]
    for family in families:
        result = await kezek.submit(family.parents[0], family.children[0], ["SHA-1"])
        assert [c["status"] for c in result["application"]["claims"]] == ["PENDING_MANUAL"]
    claims = await kezek.sql("SELECT id, manual_deadline FROM priority_claims WHERE status = 'PENDING_MANUAL'")
    assert len(claims) == 5
    latest = max(c["manual_deadline"] for c in claims)
    kezek.clock.advance(latest - kezek.clock.now() + dt.timedelta(minutes=1))

    queue = kezek.container.queue

    async def drain() -> int:
        expired = 0
        while n := await queue.expire_manual_claims(limit=2):
            expired += n
        return expired

    counts = await asyncio.gather(drain(), drain(), drain())
    assert sum(counts) == 5
    statuses = await kezek.sql("SELECT status FROM priority_claims")
    assert [s["status"] for s in statuses] == ["EXPIRED"] * 5
    audit = await kezek.sql(
        "SELECT entity_id, actor_role FROM audit_log WHERE action = 'CLAIM_EXPIRED' ORDER BY entity_id"
    )
    assert sorted(a["entity_id"] for a in audit) == sorted(str(c["id"]) for c in claims)
    assert {a["actor_role"] for a in audit} == {"system"}
    expired_messages = [r for r in await _outbox(kezek) if r["kind"] == "CLAIM_EXPIRED"]
    assert len(expired_messages) == 5
    assert len({r["application_id"] for r in expired_messages}) == 5


# --- ageing out ----------------------------------------------------------------------------------


async def test_waiting_application_ages_out_on_1_september(kezek: Kezek) -> None:
    family = data.LARGE
    parent, old_child, young_child = family.parents[0], family.children[3], family.children[1]  # 2021, 2023
    aging = (await kezek.submit(parent, old_child, ["SHA-1", "SHA-2"]))["application"]
    staying = (await kezek.submit(parent, young_child, ["SHA-1"]))["application"]
    sha1 = await kezek.kg("SHA-1")
    queue_before = (await kezek.gql(QUEUE, {"kg": sha1, "year": 2021}))["publicQueue"]["edges"]
    assert [e["node"]["applicationNumber"] for e in queue_before] == [aging["number"]]

    # The evening before, nothing happens.
    eve = dt.datetime(2027, 8, 31, 23, 0, tzinfo=ALMATY)
    kezek.clock.advance(eve - kezek.clock.now())
    assert (await kezek.worker_pass())["aged_out"] == 0
    assert (await _app(kezek, aging["id"]))["status"] == "QUEUED"

    kezek.clock.advance(dt.timedelta(hours=2))
    done = await kezek.worker_pass()
    assert done["aged_out"] == 1
    after = await _app(kezek, aging["id"])
    assert after["status"] == "AGED_OUT"
    assert [c["position"] for c in after["choices"]] == [None, None]
    assert after["history"][0]["action"] == "AGED_OUT"
    assert after["history"][0]["actorRole"] == "system"
    assert (await kezek.gql(QUEUE, {"kg": sha1, "year": 2021}))["publicQueue"]["edges"] == []
    # The younger brother waits on, unaffected.
    younger = await _app(kezek, staying["id"])
    assert younger["status"] == "QUEUED" and [c["position"] for c in younger["choices"]] == [1]

    messages = await kezek.sql("SELECT kind, text FROM outbox WHERE application_id = $1 ORDER BY id", int(aging["id"]))
    assert [m["kind"] for m in messages] == ["POSITIONS_ASSIGNED", "APPLICATION_AGED_OUT"]
    assert aging["number"] in messages[1]["text"]
    assert (await kezek.worker_pass())["aged_out"] == 0

    # The child cannot apply again: too old now.
    again = await kezek.submit(parent, old_child, ["SHA-1"])
    assert [e["code"] for e in again["errors"]] == ["AGE_OUT_OF_RANGE"]
    assert again["application"] is None


# --- daily benefits re-check ---------------------------------------------------------------------


async def test_daily_recheck_adds_new_benefits(kezek: Kezek) -> None:
    earlier = await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1"])
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[1]
    app = (await kezek.submit(parent, child, ["SHA-1"]))["application"]
    assert app["claims"] == [] and app["tier"] == "GENERAL" and app["choices"][0]["position"] == 2

    await kezek.sql(
        "INSERT INTO sandbox_benefits (iin, category, evidence_id) VALUES ($1, 'DISABLED_CHILD', 'MSE-2027-1')", child
    )
    # Not before the next daily check.
    assert (await kezek.worker_pass())["benefits_rechecked"] == 0
    assert (await _app(kezek, app["id"]))["claims"] == []

    kezek.clock.advance(dt.timedelta(days=2))
    done = await kezek.worker_pass()
    assert done["benefits_rechecked"] == 2  # both waiting applications were asked about
    after = await _app(kezek, app["id"])
    assert after["claims"] == [
        {"category": "DISABLED_CHILD", "tier": "PRIMARY", "status": "VERIFIED", "evidenceId": "MSE-2027-1"}
    ]
    assert after["tier"] == "PRIMARY"
    assert after["queueDate"] == app["queueDate"]
    assert after["choices"][0]["position"] == 1
    assert (await _app(kezek, earlier["application"]["id"]))["choices"][0]["position"] == 2
    assert [h["action"] for h in after["history"][:2]] == ["TIER_CHANGED", "CLAIM_FOUND"]
    assert after["history"][1]["actorRole"] == "system"
    kinds = await kezek.sql("SELECT kind FROM outbox WHERE application_id = $1 ORDER BY id", int(app["id"]))
    assert [k["kind"] for k in kinds] == ["POSITIONS_ASSIGNED", "CLAIM_VERIFIED"]

    # The next daily check finds the same benefit and adds nothing.
    kezek.clock.advance(dt.timedelta(days=2))
    assert (await kezek.worker_pass())["benefits_rechecked"] == 2
    assert len((await _app(kezek, app["id"]))["claims"]) == 1
    assert len(await kezek.sql("SELECT 1 FROM outbox WHERE application_id = $1", int(app["id"]))) == 2


# --- audit ---------------------------------------------------------------------------------------


async def test_audit_log_is_append_only(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    app = (await kezek.submit(parent, child, ["SHA-1", "SHA-2"]))["application"]
    rows = await kezek.sql(
        "SELECT actor_role, actor_subject, channel, entity_type, entity_id, before, after FROM audit_log "
        "WHERE action = 'SUBMITTED'"
    )
    [row] = rows
    assert (row["actor_role"], row["actor_subject"], row["channel"]) == ("citizen", parent, "egov")
    assert (row["entity_type"], row["entity_id"], row["before"]) == ("application", app["id"], None)
    after = json.loads(row["after"])
    assert after["status"] == "QUEUED" and after["tier"] == "GENERAL"
    assert [str(k) for k in after["choices"]] == await kezek.kgs("SHA-1", "SHA-2")

    for statement in (
        "UPDATE audit_log SET reason = 'tampered'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await kezek.sql(statement)
    rest = await kezek.sql("SELECT count(*) AS n, count(reason) AS reasons FROM audit_log")
    assert rest[0]["n"] >= 1 and rest[0]["reasons"] == 0


# --- the command -------------------------------------------------------------------------------


async def test_kezek_worker_command_sends_and_stops(kezek: Kezek, tmp_path: Path) -> None:
    parent = data.PLAIN.parents[0]
    await kezek.submit(parent, data.PLAIN.children[0], ["SHA-1"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_")}
    env |= {
        "KEZEK_DATABASE_URL": kezek.db_url,
        "KEZEK_PROFILE": "development",
        "KEZEK_WORKER_INTERVAL": "0.2",
        "KEZEK_POLICY_FILE": str(QUEUE_ONLY_POLICY),
        "KEZEK_DATA_DIR": str(tmp_path),
    }
    kezek_bin = Path(sys.executable).parent / "kezek"
    proc = await asyncio.create_subprocess_exec(
        str(kezek_bin),
        "worker",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # Bounded waits only: a worker that never sends or never stops fails the test instead of hanging it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not (rows := await kezek.sql("SELECT sent_at FROM outbox")) or rows[0]["sent_at"] is None:
            assert proc.returncode is None, "the worker exited on its own"
            assert loop.time() < deadline, "the worker did not send the message"
            await asyncio.sleep(0.1)
        # SIGTERM, as a service manager stops it. (Not SIGINT: a process started from a shell that ignores
        # SIGINT inherits that, and would never stop.)
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    log = stderr.decode()
    assert "worker pass" in log and "'sms_sent': 1" in log
    assert "Traceback" not in log
    assert parent not in log  # IINs never reach the logs
    [sms] = await kezek.sql("SELECT recipient FROM sandbox_sms")
    assert sms["recipient"] == data.PLAIN.phones[parent]
