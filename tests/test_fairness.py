"""The fairness report through its endpoints (docs/product.md §11, docs/api.md `fairnessReport`,
`kezek audit fairness`): a short history computed by hand, a storm of ordinary operations that leaves no justified
envy, seats given behind Kezek's back (rows written straight into offers and enrolments, as a legacy import
would) found as exactly the pairs they make, who may read it, bad input, and the command line giving the same
figures. The arithmetic of every metric is in tests/test_fairness_report.py.

Every test starts with every group full (tests/test_offers.py `offers_app`) and decides which seat frees."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests import data
from tests.conftest import OFFERS_POLICY, Kezek
from tests.test_allocation import DECLINE, WITHDRAW
from tests.test_offers import (
    OPERATOR,
    OTHER_CHILD,
    OTHER_PARENT,
    PLAIN_2023,
    PLAIN_PARENT,
    SET_CAPACITY,
    SKO_OPERATOR,
    add_family,
    app,
    confirm,
    group,
    mutate,
    offer_of,
    offers_app,
    queue,
    set_capacity,
    sign,
    staff_token,
    today,
)
from tests.test_places import kezek_command

REPORT = """query($r: String, $f: Date!, $t: Date!) { fairnessReport(regionCode: $r, from: $f, to: $t) {
    regionCode from to envyPairs envyChildren envyDays
    envyExamples { applicationNumber kindergarten { id externalId nameRu } aheadOfApplicationNumber at }
    idleSeatDays { cause days } placement { children firstChoice topTwo anyChoice upgrades }
    waitingDays { tier birthYear offers median p90 }
    churn { offers filledSeats offersPerFilledSeat ended declineRate lapseRate longestChain }
    siblingPairs siblingGroupsPlaced siblingGroupsTogether } }"""
IDLE_NONE = {"OFFER_WINDOW": 0, "CONTRACT_WINDOW": 0, "PROMISED_LATER": 0, "CANDIDATE_WAITING": 0}
IDLE_NONE |= {"HELD_FOR_INTAKE": 0, "NO_CANDIDATE": 0}


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    # The storm reads every application after every step, as one operator: no rate limit in the way.
    async with offers_app(db_url, rate_person_burst=1e6, rate_person_per_second=1e6) as k:
        yield k


def days(start: dt.date, n: int) -> dict[str, str]:
    return {"f": start.isoformat(), "t": (start + dt.timedelta(days=n)).isoformat()}


async def fairness(kezek: Kezek, start: dt.date, n: int, token: str = OPERATOR, region: str | None = None) -> Any:
    region = region or data.KARAGANDA_REGION
    result = (await kezek.gql(REPORT, {"r": region, **days(start, n)}, token))["fairnessReport"]
    assert result is not None
    return result


def idle(report: Any) -> dict[str, int]:
    return {i["cause"]: i["days"] for i in report["idleSeatDays"]}


async def refused(kezek: Kezek, variables: dict[str, Any], token: str | None) -> tuple[str, str]:
    """The code of a refused report, and its message (in Russian, the default language)."""
    body = await kezek.post(REPORT, variables, token)
    assert body["data"] == {"fairnessReport": None}, body
    (error,) = body["errors"]
    return error["extensions"]["code"], error["message"]


async def test_a_short_history_gives_the_figures_worked_out_by_hand(kezek: Kezek) -> None:
    start = today(kezek)
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    second = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)  # one seat: offered to the first, who declines; it goes to the second
    declined = await mutate(
        kezek, DECLINE, {"offerId": (await offer_of(kezek, first["id"]))["id"]}, Kezek.citizen(OTHER_PARENT)
    )
    assert declined["errors"] == []
    kezek.clock.advance(dt.timedelta(days=1))
    offer = await confirm(kezek, PLAIN_PARENT, (await offer_of(kezek, second["id"]))["id"])
    kezek.clock.advance(dt.timedelta(days=1))
    assert (await sign(kezek, PLAIN_PARENT, offer["contract"]))["errors"] == []

    r = await fairness(kezek, start, 3)
    # Day one ended with the second child's offer waiting for an answer, day two with its contract waiting for a
    # signature; the third day (today) is not over. Every other group was full.
    assert idle(r) == IDLE_NONE | {"OFFER_WINDOW": 1, "CONTRACT_WINDOW": 1}
    assert (r["envyPairs"], r["envyChildren"], r["envyDays"], r["envyExamples"]) == (0, 0, 0.0, [])
    # One child placed, at its first choice; two first offers made within moments of eligibility (0 days).
    assert r["placement"] == {"children": 1, "firstChoice": 1.0, "topTwo": 1.0, "anyChoice": 1.0, "upgrades": 0}
    assert r["waitingDays"] == [{"tier": "GENERAL", "birthYear": 2023, "offers": 2, "median": 0.0, "p90": 0.0}]
    # Two offers for one filled seat; both ended: one declined, one signed.
    assert r["churn"] == {
        "offers": 2,
        "filledSeats": 1,
        "offersPerFilledSeat": 2.0,
        "ended": 2,
        "declineRate": 0.5,
        "lapseRate": 0.0,
        "longestChain": 0,
    }
    assert (r["regionCode"], r["from"], r["to"]) == (data.KARAGANDA_REGION, *days(start, 3).values())
    assert (r["siblingPairs"], r["siblingGroupsPlaced"], r["siblingGroupsTogether"]) == (0, 0, None)
    # The report changed nothing: it is the same read again, and it wrote no audit record.
    before = await kezek.sql("SELECT count(*) AS n FROM audit_log")
    assert await fairness(kezek, start, 3) == r
    assert await kezek.sql("SELECT count(*) AS n FROM audit_log") == before


async def test_a_storm_of_ordinary_operations_leaves_no_justified_envy(kezek: Kezek) -> None:
    rng = random.Random(11)
    start = today(kezek)
    kgs = ["SHA-1", "SHA-2", "SHA-3"]
    families = [await add_family(kezek, data.SHAKHTINSK, [dt.date(2023, 1 + n % 12, 5)]) for n in range(14)]
    apps: dict[str, tuple[str, Any]] = {}
    for f in families:
        chosen = rng.sample(kgs, rng.randint(1, 3))
        apps[f.children[0]] = (f.parents[0], await queue(kezek, f.parents[0], f.children[0], chosen))
    for _ in range(8):
        for kg in rng.sample(kgs, 2):  # capacity up by one or two, or down to what is held
            g = await group(kezek, kg)
            wanted = g["capacity"] + rng.randint(1, 2) if rng.random() < 0.7 else g["enrolled"] + g["held"]
            await set_capacity(kezek, kg, wanted)
        for parent, a in apps.values():
            current = await app(kezek, a["id"])
            offer, roll = current["offer"], rng.random()
            if current["status"] == "QUEUED" and roll < 0.08:
                done = await mutate(
                    kezek, WITHDRAW, {"applicationId": a["id"], "reason": "moved"}, Kezek.citizen(parent)
                )
                assert done["errors"] == []
            elif offer is not None and offer["status"] == "PENDING" and roll < 0.3:
                done = await mutate(kezek, DECLINE, {"offerId": offer["id"]}, Kezek.citizen(parent))
                assert done["errors"] == []
            elif offer is not None and offer["status"] == "PENDING" and roll < 0.7:
                await confirm(kezek, parent, offer["id"])
            elif offer is not None and offer["status"] == "CONFIRMED" and roll < 0.6:
                assert (await sign(kezek, parent, offer["contract"]))["errors"] == []
        # Whatever is left unanswered lapses through the worker now and then.
        kezek.clock.advance(dt.timedelta(days=rng.choice([1, 1, 4])))
        await kezek.worker_pass()

    r = await fairness(kezek, start, (today(kezek) - start).days + 1)
    assert (r["envyPairs"], r["envyChildren"], r["envyDays"], r["envyExamples"]) == (0, 0, 0.0, [])
    made = await kezek.sql("SELECT status, count(*) AS n FROM offers GROUP BY status")
    counts = {row["status"]: row["n"] for row in made}
    assert r["churn"]["offers"] == sum(counts.values()) > 10
    assert {"DECLINED", "LAPSED", "ENROLLED"} <= set(counts), counts  # the storm did what it says
    assert await kezek.sql("SELECT 1 FROM applications WHERE status = 'WITHDRAWN'")


async def _queue_two(kezek: Kezek) -> tuple[Any, Any, int, int]:
    """Two children waiting for SHA-1 (the first ahead), and that group's id and kindergarten id."""
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    second = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    g = int((await group(kezek, "SHA-1"))["id"])
    # The seat itself comes behind Kezek's back too: no audit record, no allocation.
    await kezek.sql("UPDATE groups SET capacity = capacity + 1 WHERE id = $1", g)
    return first, second, g, int(await kezek.kg("SHA-1"))


async def test_an_offer_written_behind_kezeks_back_is_exactly_the_pair_it_makes_and_the_cli_agrees(
    kezek: Kezek,
) -> None:
    first, second, g, kg = await _queue_two(kezek)
    start = today(kezek)  # Almaty's day, not the database server's
    await kezek.sql(
        """INSERT INTO offers (application_id, child_iin, kindergarten_id, group_id, status, tier_rank, created_at,
            respond_by, starts_on)
        VALUES ($1, $2, $3, $4, 'PENDING', 2, now(), now() + interval '2 days', $5)""",
        int(second["id"]),
        PLAIN_2023,
        kg,
        g,
        start,
    )
    r = await fairness(kezek, start, 1, Kezek.ministry())
    assert (r["envyPairs"], r["envyChildren"]) == (1, 1)
    (pair,) = r["envyExamples"]
    assert (pair["applicationNumber"], pair["aheadOfApplicationNumber"]) == (first["number"], second["number"])
    assert pair["kindergarten"]["externalId"] == "SHA-1"

    # The command line reads the same records with the same rule: the same figures (but the instant it read them).
    code, out, err = await _cli("--region", data.KARAGANDA_REGION, *_period(start, 1), "--json", db_url=kezek.db_url)
    assert code == 0, err
    printed = json.loads(out)
    assert printed.pop("asOf") and printed.pop("districtCode") is None
    assert printed == r
    code, text, err = await _cli("--region", data.KARAGANDA_REGION, *_period(start, 1), db_url=kezek.db_url)
    assert code == 0, err
    assert f"{first['number']}" in text and f"{second['number']}" in text
    assert any(line.split() == ["pairs", "1"] for line in text.splitlines())


async def test_an_enrolment_written_behind_kezeks_back_is_envy_of_the_child_ahead(kezek: Kezek) -> None:
    first, second, g, kg = await _queue_two(kezek)
    start = today(kezek)
    # A legacy import enrols the second child from tomorrow, with no offer and no contract.
    await kezek.sql(
        """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, application_id, since)
        VALUES ($1, $2, $3, $4, $5)""",
        PLAIN_2023,
        g,
        kg,
        int(second["id"]),
        start + dt.timedelta(days=1),
    )
    kezek.clock.advance(dt.timedelta(days=1))
    r = await fairness(kezek, start, 2)
    (pair,) = r["envyExamples"]
    assert (pair["applicationNumber"], pair["aheadOfApplicationNumber"]) == (first["number"], second["number"])
    assert (r["envyPairs"], r["placement"]["children"]) == (1, 1)
    # Day one: the seat was free (no offer) while both children could take it.
    assert idle(r) == IDLE_NONE | {"CANDIDATE_WAITING": 1}


async def test_who_may_read_the_report_and_what_it_refuses(kezek: Kezek) -> None:
    d = today(kezek)
    week = {"r": data.KARAGANDA_REGION, **days(d, 7)}
    assert (await fairness(kezek, d, 7))["regionCode"] == data.KARAGANDA_REGION  # the region's operator
    district = Kezek.operator(data.KARAGANDA_REGION, data.SHAKHTINSK)
    assert (await fairness(kezek, d, 7, district))["churn"]["offers"] == 0  # a district operator: their district
    country = (await kezek.gql(REPORT, {"r": None, **days(d, 7)}, Kezek.ministry()))["fairnessReport"]
    assert country["regionCode"] is None  # the ministry, the whole country
    assert (await fairness(kezek, d, 7, Kezek.ministry(), data.SKO_REGION))["regionCode"] == data.SKO_REGION

    area = ("NOT_FOUND", "Не найдено: территория.")
    assert await refused(kezek, week, SKO_OPERATOR) == area  # another region's operator
    assert await refused(kezek, {**week, "r": None}, OPERATOR) == area  # the whole country is not theirs
    assert (await refused(kezek, week, Kezek.citizen(PLAIN_PARENT)))[0] == "FORBIDDEN"
    assert (await refused(kezek, week, Kezek.staff("SHA-1")))[0] == "FORBIDDEN"
    assert (await refused(kezek, week, None))[0] == "UNAUTHENTICATED"

    assert await refused(kezek, {**week, "r": "999999999"}, Kezek.ministry()) == area
    to = ("INVALID_INPUT", "Проверьте поле «по какую дату».")
    assert await refused(kezek, {**week, **days(d, 0)}, Kezek.ministry()) == to  # `to` not after `from`
    assert await refused(kezek, {**week, **days(d, 367)}, Kezek.ministry()) == to  # longer than 366 days
    assert (await fairness(kezek, d, 366, Kezek.ministry()))["to"] == (d + dt.timedelta(days=366)).isoformat()


async def test_the_command_line_refuses_bad_input_with_a_reason(kezek: Kezek) -> None:
    d = today(kezek)
    code, _, err = await _cli("--region", "999999999", *_period(d, 1), db_url=kezek.db_url)
    assert code != 0 and "999999999" in err
    code, _, err = await _cli(*_period(d, 0), db_url=kezek.db_url)
    assert code != 0 and "--to" in err
    code, _, err = await _cli(*_period(d, 400), db_url=kezek.db_url)
    assert code != 0 and "366" in err


def _period(start: dt.date, n: int) -> list[str]:
    return ["--from", start.isoformat(), "--to", (start + dt.timedelta(days=n)).isoformat()]


async def _cli(*args: str, db_url: str) -> tuple[int, str, str]:
    """`kezek audit fairness` on the test's database, with the policy the app runs with."""
    return await kezek_command(db_url, "audit", "fairness", *args, KEZEK_POLICY_FILE=str(OFFERS_POLICY))


async def test_a_seat_signed_for_a_later_first_day_is_held_from_the_signature(kezek: Kezek) -> None:
    """A child who signed for a seat free from a later day (the summer intake's kind) holds it from the signature,
    also in a report whose period ends before that day: the next seat given to the child behind is no envy."""
    start = today(kezek)
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    second = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    g = await group(kezek, "SHA-1")
    later = (start + dt.timedelta(days=30)).isoformat()

    async def seats_from_later(extra: int) -> None:
        variables = {"groupId": g["id"], "capacity": g["capacity"] + extra, "from": later, "reason": "test"}
        assert (await mutate(kezek, SET_CAPACITY, variables, staff_token("SHA-1")))["errors"] == []

    await seats_from_later(1)
    offer = await confirm(kezek, OTHER_PARENT, (await offer_of(kezek, first["id"]))["id"])
    assert (await sign(kezek, OTHER_PARENT, offer["contract"]))["errors"] == []
    kezek.clock.advance(dt.timedelta(hours=1))
    await seats_from_later(2)
    given = await kezek.sql(
        "SELECT starts_on FROM offers WHERE application_id = $1 AND status = 'PENDING'", int(second["id"])
    )
    assert [r["starts_on"].isoformat() for r in given] == [later]

    r = await fairness(kezek, start, 2)
    assert (r["envyPairs"], r["envyExamples"]) == (0, [])
