"""Queues and positions, the public queue, what moved a position, changing choices (with the SMS it
produces) and withdrawing — all through the GraphQL endpoint."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
from typing import Any

from persistence.db import raw_connect
from tests import data
from tests.conftest import APPLICATION_FIELDS, Kezek

APPLICATION = f"query($id: ID!) {{ application(id: $id) {{ {APPLICATION_FIELDS} }} }}"
CHANGE = f"""mutation($input: ChangeChoicesInput!) {{
  changeChoices(input: $input) {{ application {{ {APPLICATION_FIELDS} }} errors {{ code message field }} }}
}}"""
WITHDRAW = f"""mutation($input: WithdrawApplicationInput!) {{
  withdrawApplication(input: $input) {{
    application {{ {APPLICATION_FIELDS} history {{ action actorRole reason }} }} errors {{ code message field }}
  }}
}}"""
PUBLIC_QUEUE = """query($kg: ID!, $year: Int!, $lang: Language!, $first: Int, $after: String) {
  publicQueue(kindergartenId: $kg, birthYear: $year, language: $lang, first: $first, after: $after) {
    edges { cursor node { position applicationNumber birthYear tier queueDate } }
    pageInfo { hasNextPage endCursor }
  }
}"""
SENT = "query($phone: String!) { sentMessages(phone: $phone) { id to text language createdAt } }"
MINUTE = dt.timedelta(minutes=1)


def positions(app: dict[str, Any]) -> dict[str, int | None]:
    return {c["kindergarten"]["externalId"]: c["position"] for c in app["choices"]}


def changes(app: dict[str, Any], kindergarten: str) -> list[tuple[int, str]]:
    choice = next(c for c in app["choices"] if c["kindergarten"]["externalId"] == kindergarten)
    return [(p["delta"], p["reason"]) for p in choice["positionChanges"]]


async def apply(kezek: Kezek, family: data.Family, child: int, kindergartens: list[str], **extra: Any) -> Any:
    """Submits for the family's child (by its first parent) and moves the clock on a minute."""
    result = await kezek.submit(family.parents[0], family.children[child], kindergartens, **extra)
    assert result["errors"] == [], result
    kezek.clock.advance(MINUTE)
    return result["application"]


async def read(kezek: Kezek, app: dict[str, Any], parent: str) -> Any:
    return (await kezek.gql(APPLICATION, {"id": app["id"]}, kezek.citizen(parent)))["application"]


async def change(kezek: Kezek, app_id: str, kindergartens: list[str], parent: str) -> Any:
    ids = await kezek.kgs(*kindergartens) if kindergartens else []
    variables = {"input": {"applicationId": app_id, "kindergartenIds": ids}}
    return (await kezek.gql(CHANGE, variables, kezek.citizen(parent)))["changeChoices"]


async def withdraw(kezek: Kezek, app_id: str, token: str, reason: str | None = None) -> Any:
    variables = {"input": {"applicationId": app_id, "reason": reason}}
    return (await kezek.gql(WITHDRAW, variables, token))["withdrawApplication"]


async def footprint(kezek: Kezek) -> tuple[Any, ...]:
    """Everything a refused change must leave as it was: the applications, their choices, the journals."""
    rows = await kezek.sql(
        """SELECT (SELECT json_agg(a ORDER BY id)::text FROM applications a),
            (SELECT json_agg(c ORDER BY application_id, rank)::text FROM choices c),
            (SELECT count(*) FROM audit_log), (SELECT count(*) FROM outbox), (SELECT count(*) FROM queue_events)"""
    )
    return tuple(rows[0])


async def public_queue(kezek: Kezek, kg: str, year: int, lang: str = "RU", **page: Any) -> Any:
    variables = {"kg": await kezek.kg(kg), "year": year, "lang": lang, **page}
    return (await kezek.gql(PUBLIC_QUEUE, variables))["publicQueue"]


# --- queue order and positions ------------------------------------------------------------------


async def test_queue_order_is_tier_then_queue_date(kezek: Kezek) -> None:
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1", "SHA-2"])  # 2023, RU
    assert positions(plain) == {"SHA-1": 1, "SHA-2": 1}
    other = await apply(kezek, data.OTHER, 0, ["SHA-1"])
    assert positions(other) == {"SHA-1": 2}  # a later GENERAL applicant stands behind

    disabled = await apply(kezek, data.DISABLED, 0, ["SHA-1", "SHA-3"])
    assert disabled["tier"] == "PRIMARY"
    assert positions(disabled) == {"SHA-1": 1, "SHA-3": 1}  # later, but priority goes first
    large = await apply(kezek, data.LARGE, 1, ["SHA-1"])
    assert large["tier"] == "PRIMARY"
    assert positions(large) == {"SHA-1": 2}  # within the tier, the earlier queue date first

    # Positions are per kindergarten: SHA-2 has nobody ahead of the plain child.
    assert positions(await read(kezek, plain, data.PLAIN.parents[0])) == {"SHA-1": 3, "SHA-2": 1}
    assert positions(await read(kezek, other, data.OTHER.parents[0])) == {"SHA-1": 4}


async def test_birth_year_and_language_make_separate_queues(kezek: Kezek) -> None:
    await apply(kezek, data.PLAIN, 1, ["SHA-1"])  # 2023 RU
    await apply(kezek, data.OTHER, 0, ["SHA-1"])  # 2023 RU
    older = await apply(kezek, data.PLAIN, 0, ["SHA-1"])  # 2022 RU
    assert positions(older) == {"SHA-1": 1}
    kazakh = await apply(kezek, data.TWINS, 0, ["SHA-1"], language="KK")  # 2023 KK
    assert positions(kazakh) == {"SHA-1": 1}
    ru_2023 = await public_queue(kezek, "SHA-1", 2023)
    assert [e["node"]["position"] for e in ru_2023["edges"]] == [1, 2]
    kk_2023 = await public_queue(kezek, "SHA-1", 2023, "KK")
    assert [e["node"]["applicationNumber"] for e in kk_2023["edges"]] == [kazakh["number"]]
    ru_2022 = await public_queue(kezek, "SHA-1", 2022)
    assert [e["node"]["applicationNumber"] for e in ru_2022["edges"]] == [older["number"]]


async def test_equal_queue_dates_are_ordered_by_application_number(kezek: Kezek) -> None:
    apps = [await apply(kezek, data.TWINS, n, ["SHA-1"]) for n in range(3)]
    # Set-up: the three share one queue date (the choices' copy follows by the cascading key).
    await kezek.sql("UPDATE applications SET queue_date = $1", dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC))
    by_number = sorted(apps, key=lambda a: a["number"])
    got = [positions(await read(kezek, a, data.TWINS.parents[0]))["SHA-1"] for a in by_number]
    assert got == [1, 2, 3]
    queue = await public_queue(kezek, "SHA-1", 2023)
    assert [e["node"]["applicationNumber"] for e in queue["edges"]] == [a["number"] for a in by_number]


# --- public queue -------------------------------------------------------------------------------


async def test_public_queue_is_in_queue_order_and_anonymous(kezek: Kezek) -> None:
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    other = await apply(kezek, data.OTHER, 0, ["SHA-1"])
    disabled = await apply(kezek, data.DISABLED, 0, ["SHA-1"])

    body = await kezek.post(PUBLIC_QUEUE, {"kg": await kezek.kg("SHA-1"), "year": 2023, "lang": "RU"})
    assert "errors" not in body
    queue = body["data"]["publicQueue"]
    nodes = [e["node"] for e in queue["edges"]]
    assert [(n["position"], n["applicationNumber"], n["tier"]) for n in nodes] == [
        (1, disabled["number"], "PRIMARY"),
        (2, plain["number"], "GENERAL"),
        (3, other["number"], "GENERAL"),
    ]
    assert all(n["birthYear"] == 2023 for n in nodes)
    assert [n["queueDate"] for n in nodes] == [disabled["queueDate"], plain["queueDate"], other["queueDate"]]
    assert queue["pageInfo"]["hasNextPage"] is False

    text = json.dumps(body, ensure_ascii=False)
    text += "".join(base64.urlsafe_b64decode(e["cursor"]).decode() for e in queue["edges"])
    persons = await kezek.sql("SELECT iin, full_name FROM sandbox_persons")
    for p in persons:
        assert p["iin"] not in text
        assert p["full_name"] not in text
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)


async def test_public_queue_pages_keep_positions(kezek: Kezek) -> None:
    families = [data.PLAIN, data.OTHER, *data.POOL[:4]]
    apps = [await apply(kezek, f, 1 if f is data.PLAIN else 0, ["SHA-2"]) for f in families]
    apps += [await apply(kezek, data.TWINS, n, ["SHA-2"]) for n in range(3)]
    whole = await public_queue(kezek, "SHA-2", 2023, first=100)
    assert [e["node"]["position"] for e in whole["edges"]] == list(range(1, len(apps) + 1))
    assert sorted(e["node"]["applicationNumber"] for e in whole["edges"]) == sorted(a["number"] for a in apps)
    # The teacher's child (POOL[1], verified PRIMARY) leads although it applied fourth.
    assert whole["edges"][0]["node"]["applicationNumber"] == apps[3]["number"]
    assert whole["edges"][0]["node"]["tier"] == "PRIMARY"

    pages, after = [], None
    while True:
        page = await public_queue(kezek, "SHA-2", 2023, first=3, after=after)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert [len(p["edges"]) for p in pages] == [3, 3, 3]
    paged = [(e["node"]["position"], e["node"]["applicationNumber"]) for p in pages for e in p["edges"]]
    assert paged == [(e["node"]["position"], e["node"]["applicationNumber"]) for e in whole["edges"]]


async def test_public_queue_refuses_pages_over_100(kezek: Kezek) -> None:
    variables = {"kg": await kezek.kg("SHA-1"), "year": 2023, "lang": "RU", "first": 101}
    body = await kezek.post(PUBLIC_QUEUE, variables)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"]
    assert body["data"] is None
    assert (await public_queue(kezek, "SHA-1", 2023, first=100))["edges"] == []


# --- what moved a position ----------------------------------------------------------------------


async def test_position_changes_show_priority_joining_and_leaving_ahead(kezek: Kezek) -> None:
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1", "SHA-2"])
    parent = data.PLAIN.parents[0]
    await apply(kezek, data.OTHER, 0, ["SHA-1"])  # joins behind: moves nothing
    assert changes(await read(kezek, plain, parent), "SHA-1") == []

    disabled = await apply(kezek, data.DISABLED, 0, ["SHA-1"])
    now = await read(kezek, plain, parent)
    assert positions(now) == {"SHA-1": 2, "SHA-2": 1}
    [(delta, reason)] = changes(now, "SHA-1")
    assert delta == 1
    assert reason
    assert changes(now, "SHA-2") == []  # another kindergarten's queue

    withdrawn = await withdraw(kezek, disabled["id"], kezek.citizen(data.DISABLED.parents[0]))
    assert withdrawn["errors"] == []
    now = await read(kezek, plain, parent)
    assert positions(now) == {"SHA-1": 1, "SHA-2": 1}
    moves = changes(now, "SHA-1")
    assert [d for d, _ in moves] == [-1, 1]  # newest first
    assert all(r for _, r in moves)
    assert moves[0][1] != moves[1][1]


# --- changing choices ---------------------------------------------------------------------------


async def test_change_choices_keeps_queue_date_and_number(kezek: Kezek) -> None:
    parent = data.PLAIN.parents[0]
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    other = await apply(kezek, data.OTHER, 0, ["SHA-2", "SHA-3"])
    late = await apply(kezek, data.TWINS, 0, ["SHA-3"])

    result = await change(kezek, plain["id"], ["SHA-3", "SHA-2"], parent)
    assert result["errors"] == []
    app = result["application"]
    assert (app["id"], app["number"], app["queueDate"], app["status"]) == (
        plain["id"],
        plain["number"],
        plain["queueDate"],
        "QUEUED",
    )
    assert [(c["rank"], c["kindergarten"]["externalId"]) for c in app["choices"]] == [(1, "SHA-3"), (2, "SHA-2")]
    # The kept queue date puts the plain child ahead of the later applicants in its new kindergartens.
    assert positions(app) == {"SHA-3": 1, "SHA-2": 1}
    assert positions(await read(kezek, other, data.OTHER.parents[0])) == {"SHA-2": 2, "SHA-3": 2}
    assert positions(await read(kezek, late, data.TWINS.parents[0])) == {"SHA-3": 3}
    # Nobody is left in SHA-1's queue.
    assert (await public_queue(kezek, "SHA-1", 2023))["edges"] == []
    assert changes(await read(kezek, other, data.OTHER.parents[0]), "SHA-2")[0][0] == 1


async def test_change_choices_errors_change_nothing(kezek: Kezek) -> None:
    parent = data.PLAIN.parents[0]
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    cases: list[tuple[list[str], str]] = [
        ([], "INVALID_INPUT"),
        (["SHA-1", "SHA-2", "SHA-3", "SHA-4", "SHA-5"], "TOO_MANY_CHOICES"),
        (["SHA-2", "SHA-2"], "DUPLICATE_CHOICE"),
        (["SHA-2", "SHA-KK"], "NO_SUITABLE_GROUP"),
    ]
    for kindergartens, code in cases:
        before = await footprint(kezek)
        result = await change(kezek, plain["id"], kindergartens, parent)
        assert result["application"] is None
        assert [(e["code"], e["field"]) for e in result["errors"]] == [(code, "kindergartenIds")], kindergartens
        assert await footprint(kezek) == before

    # Unknown kindergarten ids.
    before = await footprint(kezek)
    variables = {"input": {"applicationId": plain["id"], "kindergartenIds": ["999999999"]}}
    result = (await kezek.gql(CHANGE, variables, kezek.citizen(parent)))["changeChoices"]
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("NOT_FOUND", "kindergartenIds")]
    assert await footprint(kezek) == before


async def test_someone_elses_application_looks_like_a_missing_one(kezek: Kezek) -> None:
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    stranger = data.OTHER.parents[0]
    before = await footprint(kezek)
    theirs = await change(kezek, plain["id"], ["SHA-2"], stranger)
    missing = await change(kezek, "999999999", ["SHA-2"], stranger)
    garbage = await change(kezek, "not-an-id", ["SHA-2"], stranger)
    assert theirs["application"] is None
    assert theirs["errors"][0]["code"] == "NOT_FOUND"
    assert theirs == missing == garbage
    assert await footprint(kezek) == before
    withdrawn = await withdraw(kezek, plain["id"], kezek.citizen(stranger))
    assert withdrawn == await withdraw(kezek, "999999999", kezek.citizen(stranger))
    assert withdrawn["errors"][0]["code"] == "NOT_FOUND"
    assert await footprint(kezek) == before


async def test_change_choices_after_withdrawal_is_invalid_state(kezek: Kezek) -> None:
    parent = data.PLAIN.parents[0]
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    assert (await withdraw(kezek, plain["id"], kezek.citizen(parent)))["errors"] == []
    before = await footprint(kezek)
    result = await change(kezek, plain["id"], ["SHA-2"], parent)
    assert result["application"] is None
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_STATE", "applicationId")]
    assert await footprint(kezek) == before


# --- messages -----------------------------------------------------------------------------------


async def test_positions_are_sent_by_sms_in_the_parents_language(kezek: Kezek) -> None:
    # The clock stays put here: the dispatcher sends what is due by the database's own clock.
    other = await kezek.submit(
        data.OTHER.parents[0], data.OTHER.children[0], ["SHA-2"], notificationLanguage="EN", phone="+7 777 000 11 22"
    )
    parent = data.PLAIN.parents[0]
    submitted = await kezek.submit(parent, data.PLAIN.children[1], ["SHA-1", "SHA-2"], notificationLanguage="KK")
    plain = submitted["application"]
    assert positions(plain) == {"SHA-1": 1, "SHA-2": 2}
    changed = await change(kezek, plain["id"], ["SHA-2", "SHA-3"], parent)
    assert positions(changed["application"]) == {"SHA-2": 2, "SHA-3": 1}

    outbox = await kezek.sql(
        "SELECT recipient, text, language, kind FROM outbox WHERE application_id = $1 ORDER BY id", int(plain["id"])
    )
    phone = data.PLAIN.phones[parent]  # the registry's phone of the applicant
    assert [(r["recipient"], r["language"], r["kind"]) for r in outbox] == [
        (phone, "KK", "POSITIONS_ASSIGNED"),
        (phone, "KK", "POSITIONS_CHANGED"),
    ]

    assert (await kezek.worker_pass())["sms_sent"] == 3
    sent = (await kezek.gql(SENT, {"phone": phone}))["sentMessages"]
    assert sorted(m["text"] for m in sent) == sorted(r["text"] for r in outbox)
    assert all(m["language"] == "KK" and m["to"] == phone for m in sent)
    assigned, moved = outbox[0]["text"], outbox[1]["text"]
    assert "қабылданды" in assigned and "1) 1, 2) 2" in assigned
    assert "өзгертілді" in moved and "1) 2, 2) 1" in moved

    english = (await kezek.gql(SENT, {"phone": "+77770001122"}))["sentMessages"]
    assert [m["language"] for m in english] == ["EN"]
    assert "Queue positions: 1) 1" in english[0]["text"]

    everyone = [*data.PLAIN.parents, *data.PLAIN.children, *data.OTHER.parents, *data.OTHER.children]
    for message, number in [*((m, plain["number"]) for m in sent), (english[0], other["application"]["number"])]:
        assert number in message["text"]
        assert not re.search(r"\d{12}", message["text"])
        assert not any(i in message["text"] for i in everyone)


# --- withdrawing --------------------------------------------------------------------------------


async def test_owner_withdraws_and_the_child_can_apply_again(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[1], data.PLAIN.children[1]
    first = await apply(kezek, data.PLAIN, 1, ["SHA-1"])  # by the first parent; the second withdraws
    result = await withdraw(kezek, first["id"], kezek.citizen(parent))
    assert result["errors"] == []
    assert result["application"]["status"] == "WITHDRAWN"
    assert [c["position"] for c in result["application"]["choices"]] == [None]
    assert result["application"]["history"][0]["action"] == "WITHDRAWN"
    assert (await public_queue(kezek, "SHA-1", 2023))["edges"] == []

    again = await kezek.submit(parent, child, ["SHA-2"])
    assert again["errors"] == []
    second = again["application"]
    assert second["id"] != first["id"]
    assert second["number"] != first["number"]
    assert dt.datetime.fromisoformat(second["queueDate"]) > dt.datetime.fromisoformat(first["queueDate"])
    assert second["status"] == "QUEUED"

    query = "query($iin: String!) { child(iin: $iin) { application { id number status } } }"
    current = (await kezek.gql(query, {"iin": child}, kezek.citizen(data.PLAIN.parents[0])))["child"]
    assert current["application"] == {"id": second["id"], "number": second["number"], "status": "QUEUED"}


async def test_withdrawing_twice_is_invalid_state(kezek: Kezek) -> None:
    parent = data.PLAIN.parents[0]
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    assert (await withdraw(kezek, plain["id"], kezek.citizen(parent)))["errors"] == []
    before = await footprint(kezek)
    for token, reason in ((kezek.citizen(parent), None), (kezek.operator(), "again")):
        result = await withdraw(kezek, plain["id"], token, reason)
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_STATE", "applicationId")]
    assert await footprint(kezek) == before


async def test_operator_of_the_area_withdraws_with_a_reason(kezek: Kezek) -> None:
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    before = await footprint(kezek)
    for token in (kezek.operator(), kezek.operator(district=data.SHAKHTINSK)):
        for reason in (None, "", "   "):
            refused = await withdraw(kezek, plain["id"], token, reason)
            assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "reason")]
    assert await footprint(kezek) == before

    result = await withdraw(kezek, plain["id"], kezek.operator(district=data.SHAKHTINSK), "moved abroad")
    assert result["errors"] == []
    app = result["application"]
    assert app["status"] == "WITHDRAWN"
    event = app["history"][0]
    assert (event["action"], event["reason"]) == ("WITHDRAWN", "moved abroad")
    assert (event["actorRole"] or "").lower() == "akimat_operator"
    owner_view = await read(kezek, plain, data.PLAIN.parents[0])
    assert owner_view["status"] == "WITHDRAWN"


async def test_operator_of_another_area_gets_not_found(kezek: Kezek) -> None:
    plain = await apply(kezek, data.PLAIN, 1, ["SHA-1"])
    before = await footprint(kezek)
    outsiders = (kezek.operator(data.SKO_REGION), kezek.operator(district=data.KARAGANDA_CITY))
    for token in outsiders:
        theirs = await withdraw(kezek, plain["id"], token, "no reason to")
        missing = await withdraw(kezek, "999999999", token, "no reason to")
        assert [(e["code"], e["field"]) for e in theirs["errors"]] == [("NOT_FOUND", "applicationId")]
        assert theirs == missing
    assert await footprint(kezek) == before
    assert (await read(kezek, plain, data.PLAIN.parents[0]))["status"] == "QUEUED"


async def test_a_change_that_waited_for_the_lock_starts_from_the_choices_committed_meanwhile(kezek: Kezek) -> None:
    """Another transaction holds the application and drops its third choice; a change of choices sent meanwhile
    waits for it, then reads the application as committed: its history's `before` has two choices, not three,
    and the ranking asked for is what stays (no lost update)."""
    app = await apply(kezek, data.PLAIN, 1, ["SHA-1", "SHA-2", "SHA-3"])
    parent = data.PLAIN.parents[0]
    other = await raw_connect(kezek.db_url)
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("SELECT 1 FROM applications WHERE id = $1 FOR UPDATE", int(app["id"]))
        await other.execute("DELETE FROM choices WHERE application_id = $1 AND rank = 3", int(app["id"]))
        waiting = asyncio.create_task(change(kezek, app["id"], ["SHA-2", "SHA-1"], parent))
        # The change is waiting for the row lock: PostgreSQL shows a backend blocked by this one.
        for _ in range(500):
            blocked = await other.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", other.get_server_pid()
            )
            if blocked or waiting.done():
                break
            await asyncio.sleep(0.01)
        assert blocked and not waiting.done()
        await tx.commit()
        result = await waiting
    finally:
        await other.close()
    assert result["errors"] == [], result
    assert [c["kindergarten"]["externalId"] for c in result["application"]["choices"]] == ["SHA-2", "SHA-1"]
    rows = await kezek.sql(
        "SELECT before->'choices' AS before FROM audit_log WHERE application_id = $1 AND action = 'CHOICES_CHANGED'",
        int(app["id"]),
    )
    assert [len(json.loads(r["before"])) for r in rows] == [2]
