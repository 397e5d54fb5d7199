"""The school year's seats over time (docs/product.md §10), through the API on a real database: planned
departures and `seatsFrom`, offers of a seat free from a later day within the advance window, capacities
from a date, groups opening on a date, the worker carrying out departures and counting each day, the
default departure at 6, and an upgrade signed for a later start.

Every group starts full (capacity 0, tests/test_offers.py `offers_app`); a child enrolled before Kezek is
written as set-up data."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain import seats_over_time
from domain.messages import MessageKind
from persistence.invariants import check_invariants
from tests import data
from tests.conftest import Kezek
from tests.test_offers import (
    ERRORS,
    OPERATOR,
    PLAIN_2022,
    PLAIN_2023,
    PLAIN_PARENT,
    add_family,
    app,
    confirm,
    enrol,
    group,
    mutate,
    offer_of,
    offers_app,
    outbox,
    queue,
    set_capacity,
    sign,
    staff_token,
    today,
)

GROUP_SEATS = """query($id: ID!, $day: Date!) { kindergarten(id: $id) { groups {
    id externalId capacity enrolled held freeSeats opensOn scheduledCapacity { capacity from } seatsFrom(date: $day)
} } }"""
PLAN = f"""mutation($input: PlanDepartureInput!) {{ planDeparture(input: $input) {{
    enrollment {{ since leavesOn kindergarten {{ externalId }} group {{ externalId }} }} {ERRORS} }} }}"""
SET_CAPACITY = f"""mutation($input: SetGroupCapacityInput!) {{ setGroupCapacity(input: $input) {{
    group {{ id capacity freeSeats scheduledCapacity {{ capacity from }} }} {ERRORS} }} }}"""
CREATE_GROUP = f"""mutation($input: CreateGroupInput!) {{ createGroup(input: $input) {{
    group {{ id externalId capacity freeSeats opensOn }} {ERRORS} }} }}"""
OFFER = (
    "query($id: ID!) { application(id: $id) { offer { id status startsOn intakeRunId kindergarten { externalId } } } }"
)
CHILD = """query($iin: String!) { child(iin: $iin) {
    enrollment { since leavesOn kindergarten { externalId } group { externalId } } } }"""


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    async with offers_app(db_url) as k:
        yield k


async def seats(kezek: Kezek, kg: str, day: dt.date, year: int = 2023) -> dict[str, Any]:
    groups = (await kezek.gql(GROUP_SEATS, {"id": await kezek.kg(kg), "day": day.isoformat()}))["kindergarten"]
    return next(g for g in groups["groups"] if g["externalId"] == f"G-{year}-RU")


async def enrolled_before(
    kezek: Kezek, child: str, kg: str, year: int = 2023, leaves_on: dt.date | None = None
) -> None:
    """A child enrolled before Kezek (set-up data) in the kindergarten's group of that birth year."""
    g = await group(kezek, kg, year)
    await kezek.sql(
        """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, since, leaves_on)
        SELECT $1, g.id, g.kindergarten_id, DATE '2025-09-01', $3 FROM groups g WHERE g.id = $2""",
        child,
        int(g["id"]),
        leaves_on,
    )


async def plan(kezek: Kezek, child: str, leaves_on: dt.date | None, token: str, reason: str | None = "moving") -> Any:
    return await mutate(
        kezek,
        PLAN,
        {"childIin": child, "leavesOn": leaves_on.isoformat() if leaves_on else None, "reason": reason},
        token,
    )


def codes(payload: Any) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def invariants(kezek: Kezek) -> list[str]:
    return await check_invariants(kezek.container.engine, today(kezek))


async def test_a_planned_departure_frees_the_seat_from_the_day_after(kezek: Kezek) -> None:
    day = today(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    await enrolled_before(kezek, data.OTHER.children[0], "SHA-1")
    assert (await seats(kezek, "SHA-1", day))["seatsFrom"] == 0
    leaves = day + dt.timedelta(days=120)  # beyond the advance window: nobody is offered it yet
    planned = await plan(kezek, data.OTHER.children[0], leaves, staff_token("SHA-1"))
    assert planned["errors"] == []
    assert planned["enrollment"] == {
        "since": "2025-09-01",
        "leavesOn": leaves.isoformat(),
        "kindergarten": {"externalId": "SHA-1"},
        "group": {"externalId": "G-2023-RU"},
    }
    g = await seats(kezek, "SHA-1", leaves)
    assert (g["freeSeats"], g["seatsFrom"]) == (0, 0)  # the last day is still its
    g = await seats(kezek, "SHA-1", leaves + dt.timedelta(days=1))
    assert (g["freeSeats"], g["enrolled"], g["seatsFrom"]) == (0, 1, 1)
    history = await kezek.sql("SELECT action, reason, actor_role FROM audit_log WHERE entity_type = 'enrollment'")
    assert [tuple(r) for r in history] == [("DEPARTURE_PLANNED", "moving", "kindergarten_staff")]
    # Cleared: the child stays one more year.
    cleared = await plan(kezek, data.OTHER.children[0], None, OPERATOR, "stays a year")
    assert cleared["errors"] == [] and cleared["enrollment"]["leavesOn"] is None
    assert (await seats(kezek, "SHA-1", leaves + dt.timedelta(days=1)))["seatsFrom"] == 0
    assert await invariants(kezek) == []


async def test_plan_departure_refuses_what_it_cannot_do(kezek: Kezek) -> None:
    day = today(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    child = data.OTHER.children[0]
    await enrolled_before(kezek, child, "SHA-1")
    staff = staff_token("SHA-1")
    assert codes(await plan(kezek, child, day - dt.timedelta(days=1), staff)) == [("INVALID_INPUT", "leavesOn")]
    assert codes(await plan(kezek, child, dt.date(2025, 8, 1), staff)) == [("INVALID_INPUT", "leavesOn")]
    assert codes(await plan(kezek, child, day, staff, reason=None)) == [("INVALID_INPUT", "reason")]
    assert codes(await plan(kezek, child, day, staff_token("SHA-2"))) == [("NOT_FOUND", "childIin")]
    assert codes(await plan(kezek, child, day, Kezek.operator(data.SKO_REGION))) == [("NOT_FOUND", "childIin")]
    assert codes(await plan(kezek, "123", day, staff)) == [("INVALID_IIN", "childIin")]
    refused = await kezek.post(
        PLAN, {"input": {"childIin": child, "leavesOn": None, "reason": "x"}}, Kezek.citizen(data.OTHER.parents[0])
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await kezek.sql("SELECT 1 FROM audit_log WHERE entity_type = 'enrollment'") == []


async def test_a_seat_free_from_a_later_day_is_offered_ahead_within_the_window(kezek: Kezek) -> None:
    day = today(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    await enrolled_before(kezek, data.OTHER.children[0], "SHA-1")
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    leaves = day + dt.timedelta(days=10)
    assert (await plan(kezek, data.OTHER.children[0], leaves, staff_token("SHA-1")))["errors"] == []
    offer = (await kezek.gql(OFFER, {"id": waiting["id"]}, OPERATOR))["application"]["offer"]
    starts = leaves + dt.timedelta(days=1)
    assert offer["status"] == "PENDING" and offer["startsOn"] == starts.isoformat()
    assert offer["intakeRunId"] is None
    texts = [r["text"] for r in await outbox(kezek, waiting["id"], MessageKind.OFFER_MADE_FROM)]
    assert len(texts) == 1 and starts.strftime("%d.%m.%Y") in texts[0], texts
    g = await seats(kezek, "SHA-1", starts)
    assert (g["freeSeats"], g["held"], g["seatsFrom"]) == (0, 1, 0)
    # Now the departure cannot be cleared: the seat is promised from that day.
    cleared = await plan(kezek, data.OTHER.children[0], None, staff_token("SHA-1"))
    assert codes(cleared) == [("CAPACITY_BELOW_OCCUPIED", "leavesOn")]
    # Signed: the contract starts on the day the seat is free.
    signed = await enrol(kezek, PLAIN_PARENT, waiting["id"])
    assert signed["status"] == "ENROLLED"
    enrolment = (await kezek.gql(CHILD, {"iin": PLAIN_2023}, OPERATOR))["child"]["enrollment"]
    assert enrolment["since"] == starts.isoformat()
    assert await invariants(kezek) == []


async def test_a_seat_beyond_the_window_waits_until_the_window_reaches_it(kezek: Kezek) -> None:
    day = today(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    await enrolled_before(kezek, data.OTHER.children[0], "SHA-1")
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    leaves = day + dt.timedelta(days=100)
    assert (await plan(kezek, data.OTHER.children[0], leaves, staff_token("SHA-1")))["errors"] == []
    assert (await kezek.gql(OFFER, {"id": waiting["id"]}, OPERATOR))["application"]["offer"] is None
    kezek.clock.advance(dt.timedelta(days=30))  # 71 days ahead now: inside the 75-day window
    await kezek.worker_pass()
    offer = (await kezek.gql(OFFER, {"id": waiting["id"]}, OPERATOR))["application"]["offer"]
    assert offer is not None and offer["startsOn"] == (leaves + dt.timedelta(days=1)).isoformat()


async def test_a_capacity_from_a_date_is_offered_ahead_and_applies_on_its_day(kezek: Kezek) -> None:
    day = today(kezek)
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    g = await group(kezek, "SHA-1")
    since = day + dt.timedelta(days=20)
    for bad, field in ((day - dt.timedelta(days=1), "from"),):
        refused = await mutate(
            kezek, SET_CAPACITY, {"groupId": g["id"], "capacity": 2, "from": bad.isoformat()}, staff_token("SHA-1")
        )
        assert codes(refused) == [("INVALID_INPUT", field)]
    payload = await mutate(
        kezek,
        SET_CAPACITY,
        {"groupId": g["id"], "capacity": 2, "reason": "new year", "from": since.isoformat()},
        staff_token("SHA-1"),
    )
    assert payload["errors"] == []
    assert payload["group"]["capacity"] == 0
    assert payload["group"]["scheduledCapacity"] == {"capacity": 2, "from": since.isoformat()}
    offer = (await kezek.gql(OFFER, {"id": waiting["id"]}, OPERATOR))["application"]["offer"]
    assert offer["startsOn"] == since.isoformat()
    await enrol(kezek, PLAIN_PARENT, waiting["id"])
    # Not below what it holds from then: one seat is taken.
    refused = await mutate(
        kezek, SET_CAPACITY, {"groupId": g["id"], "capacity": 0, "from": since.isoformat()}, staff_token("SHA-1")
    )
    assert codes(refused) == [("CAPACITY_BELOW_OCCUPIED", "capacity")]
    kezek.clock.advance(dt.timedelta(days=20))
    await kezek.worker_pass()
    g = await seats(kezek, "SHA-1", since)
    assert (g["capacity"], g["scheduledCapacity"], g["enrolled"], g["freeSeats"]) == (2, None, 1, 1)
    applied = await kezek.sql(
        "SELECT actor_role, reason FROM audit_log WHERE entity_type = 'group' AND action = 'CAPACITY_CHANGED'"
    )
    assert [tuple(r) for r in applied] == [("system", f"scheduled from {since.isoformat()}")]
    assert await invariants(kezek) == []


async def test_a_group_opening_on_a_date_has_seats_from_then(kezek: Kezek) -> None:
    day = today(kezek)
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-2"])
    opens = day + dt.timedelta(days=30)
    base = {
        "kindergartenId": await kezek.kg("SHA-2"),
        "birthYearFrom": 2023,
        "birthYearTo": 2023,
        "language": "RU",
        "capacity": 3,
    }
    refused = await mutate(
        kezek,
        CREATE_GROUP,
        {**base, "externalId": "NEW-1", "opensOn": (day - dt.timedelta(days=1)).isoformat()},
        OPERATOR,
    )
    assert codes(refused) == [("INVALID_INPUT", "opensOn")]
    created = await mutate(kezek, CREATE_GROUP, {**base, "externalId": "NEW-1", "opensOn": opens.isoformat()}, OPERATOR)
    assert created["errors"] == []
    assert {k: created["group"][k] for k in ("capacity", "freeSeats", "opensOn")} == {
        "capacity": 3,
        "freeSeats": 0,
        "opensOn": opens.isoformat(),
    }
    offer = (await kezek.gql(OFFER, {"id": waiting["id"]}, OPERATOR))["application"]["offer"]
    assert offer["startsOn"] == opens.isoformat() and offer["kindergarten"]["externalId"] == "SHA-2"


async def test_the_worker_carries_out_departures_and_the_chain_fills_the_seat(kezek: Kezek) -> None:
    day = today(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    leaving = data.OTHER.children[0]
    await enrolled_before(kezek, leaving, "SHA-1", leaves_on=day + dt.timedelta(days=2))
    kezek.clock.advance(dt.timedelta(days=3))
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    # The seat is free from today, counted before the worker's pass has ended the enrolment: offered at once.
    offer = await offer_of(kezek, waiting["id"])
    assert offer["status"] == "PENDING"
    done = await kezek.worker_pass()
    assert done["departures"] == 1
    ended = await kezek.sql("SELECT end_reason FROM enrollments WHERE child_iin = $1", leaving)
    assert [r["end_reason"] for r in ended] == ["departure"]
    left = await kezek.sql("SELECT action, actor_role, reason FROM audit_log WHERE entity_type = 'enrollment'")
    assert [tuple(r) for r in left] == [("LEFT", "system", "departure")]
    assert await invariants(kezek) == []


async def test_an_enrolment_ends_by_default_on_31_august_of_the_year_the_child_turns_6(kezek: Kezek) -> None:
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2022, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1, year=2022)
    offer = await confirm(kezek, PLAIN_PARENT, (await offer_of(kezek, waiting["id"]))["id"])
    signed = await sign(kezek, PLAIN_PARENT, offer["contract"])
    assert signed["errors"] == []
    enrolment = (await kezek.gql(CHILD, {"iin": PLAIN_2022}, OPERATOR))["child"]["enrollment"]
    born = data.D22
    assert enrolment["leavesOn"] == seats_over_time.default_departure(born).isoformat() == "2028-08-31"


async def test_an_upgrade_for_a_later_start_keeps_the_old_seat_until_the_day_before(kezek: Kezek) -> None:
    day = today(kezek)
    family = await add_family(kezek, data.SHAKHTINSK, [data.D23])
    parent, child = family.parents[0], family.children[0]
    # Enrolled at its second choice (SHA-2) through Kezek.
    waiting = await queue(kezek, parent, child, ["SHA-1", "SHA-2"])
    await set_capacity(kezek, "SHA-2", 1)
    await enrol(kezek, parent, waiting["id"])
    # A seat at SHA-1, taken by a child enrolled before Kezek, frees in ten days: the upgrade offer starts the
    # day after. (Set-up writes: the allocator does not see them.)
    other = data.OTHER.children[0]
    await kezek.sql("UPDATE groups SET capacity = 1 WHERE id = $1", int((await group(kezek, "SHA-1"))["id"]))
    await enrolled_before(kezek, other, "SHA-1")
    leaves = day + dt.timedelta(days=10)
    assert (await plan(kezek, other, leaves, staff_token("SHA-1")))["errors"] == []
    upgrade = await offer_of(kezek, waiting["id"])
    assert upgrade["upgrade"] and upgrade["kindergarten"]["externalId"] == "SHA-1"
    starts = leaves + dt.timedelta(days=1)
    # Someone waits at SHA-2 for the seat the child will leave.
    behind = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-2"])
    await enrol(kezek, parent, waiting["id"])
    now_in = (await kezek.gql(CHILD, {"iin": child}, OPERATOR))["child"]["enrollment"]
    assert now_in["kindergarten"]["externalId"] == "SHA-2" and now_in["leavesOn"] == leaves.isoformat()
    rows = await kezek.sql(
        "SELECT since, leaves_on FROM enrollments WHERE child_iin = $1 AND ended_at IS NULL ORDER BY since", child
    )
    assert [(r["since"], r["leaves_on"]) for r in rows] == [
        (day, leaves),
        (starts, seats_over_time.default_departure(data.D23)),
    ]
    # The seat at SHA-2 is free from the day the child moves: the one waiting there is offered it for then.
    offer = (await kezek.gql(OFFER, {"id": behind["id"]}, OPERATOR))["application"]["offer"]
    assert offer["startsOn"] == starts.isoformat() and offer["kindergarten"]["externalId"] == "SHA-2"
    assert await invariants(kezek) == []
    kezek.clock.advance(dt.timedelta(days=11))
    done = await kezek.worker_pass()
    assert done["departures"] >= 1
    moved = (await kezek.gql(CHILD, {"iin": child}, OPERATOR))["child"]["enrollment"]
    assert moved["kindergarten"]["externalId"] == "SHA-1" and moved["since"] == starts.isoformat()
    assert (await app(kezek, waiting["id"]))["status"] == "ENROLLED"
    assert await invariants(kezek) == []
