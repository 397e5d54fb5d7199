"""The summer intake through the API (docs/product.md §10, docs/api.md §3 `IntakeRun`): an operator of a region
drafts the run for the coming school year, reads it, publishes it; every family gets one message; before
the run the year's seats wait, after it the vacancy chain takes declines; runs are one per region and year;
a child whose choices span two regions, an upgrade, and a draft that the data changed under.

Every group starts full (capacity 0); the coming school year's seats come from capacities set from
1 September and from children enrolled before Kezek who leave on 31 August."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain import intake, school_year
from domain.messages import MessageKind
from persistence.invariants import check_invariants
from tests import data
from tests.conftest import Kezek
from tests.test_offers import (
    ERRORS,
    OPERATOR,
    SKO_OPERATOR,
    add_family,
    app,
    enrol,
    group,
    mutate,
    offers_app,
    outbox,
    queue,
    set_capacity,
    staff_token,
    today,
)
from tests.test_school_year import enrolled_before

RUN = """id regionCode schoolYear status createdAt publishedAt seats offers upgrades firstChoiceShare
    waitingByTier { tier count } seatsLeftFree changesAtPublish
    verdict { stable envyPairs waste siblingPairs unplacedSiblingGroups impossible }
    groups(first: 100) { edges { node { group { externalId kindergarten { externalId } } seats
        offeredApplicationNumbers leftFree leftFreeReason } } pageInfo { hasNextPage } }"""
CREATE = f"""mutation($input: CreateIntakeRunInput!) {{ createIntakeRun(input: $input) {{
    intakeRun {{ {RUN} }} {ERRORS} }} }}"""
PUBLISH = f"""mutation($input: PublishIntakeRunInput!) {{ publishIntakeRun(input: $input) {{
    intakeRun {{ {RUN} }} {ERRORS} }} }}"""
DISCARD = f"""mutation($input: DiscardIntakeRunInput!) {{ discardIntakeRun(input: $input) {{
    intakeRun {{ id status }} {ERRORS} }} }}"""
READ = f"query($id: ID!) {{ intakeRun(id: $id) {{ {RUN} }} }}"
LIST = "query($r: String!, $y: Int) { intakeRuns(regionCode: $r, schoolYear: $y) { id status schoolYear } }"
OFFER = """query($id: ID!) { application(id: $id) { status offer { id status startsOn intakeRunId respondBy upgrade
    kindergarten { externalId } group { externalId } } } }"""
DECLINE = (
    f"""mutation($input: DeclineOfferInput!) {{ declineOffer(input: $input) {{ offer {{ status }} {ERRORS} }} }}"""
)
SET_CAPACITY = f"""mutation($input: SetGroupCapacityInput!) {{ setGroupCapacity(input: $input) {{
    group {{ id }} {ERRORS} }} }}"""
LINK = (
    f"""mutation($input: LinkSiblingsInput!) {{ linkSiblings(input: $input) {{ applications {{ id }} {ERRORS} }} }}"""
)
WITHDRAW = f"""mutation($input: WithdrawApplicationInput!) {{ withdrawApplication(input: $input) {{
    application {{ status }} {ERRORS} }} }}"""


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    async with offers_app(db_url) as k:
        yield k


def coming_year(kezek: Kezek) -> int:
    return school_year.school_year_of(today(kezek)) + 1


async def next_year_capacity(kezek: Kezek, kg: str, capacity: int, year: int = 2023) -> None:
    """The akimat sets the group's capacity from 1 September of the coming school year."""
    g = await group(kezek, kg, year)
    since = school_year.first_day(coming_year(kezek))
    payload = await mutate(
        kezek,
        SET_CAPACITY,
        {"groupId": g["id"], "capacity": capacity, "reason": "next year", "from": since.isoformat()},
        staff_token(kg),
    )
    assert payload["errors"] == [], payload


async def wait_for_september(kezek: Kezek, parent: str, child: str, kgs: list[str]) -> Any:
    return await queue(
        kezek, parent, child, kgs, desiredStartDate=school_year.first_day(coming_year(kezek)).isoformat()
    )


async def create(
    kezek: Kezek, token: str = OPERATOR, region: str = data.KARAGANDA_REGION, year: int | None = None
) -> Any:
    return await mutate(kezek, CREATE, {"regionCode": region, "schoolYear": year or coming_year(kezek)}, token)


def by_group(run: Any) -> dict[str, Any]:
    return {
        f"{e['node']['group']['kindergarten']['externalId']}/{e['node']['group']['externalId']}": e["node"]
        for e in run["groups"]["edges"]
    }


def codes(payload: Any) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def offer(kezek: Kezek, app_id: str) -> Any:
    return (await kezek.gql(OFFER, {"id": app_id}, OPERATOR))["application"]


async def test_an_operator_drafts_reads_and_publishes_the_intake(kezek: Kezek) -> None:
    year = coming_year(kezek)
    september = school_year.first_day(year)
    # Next year's seats: SHA-1 has two from 1 September, SHA-2 one a leaving child frees, SHA-3 two for twins.
    await next_year_capacity(kezek, "SHA-1", 2)
    await set_capacity(kezek, "SHA-2", 1)
    await enrolled_before(kezek, data.NORTH.children[0], "SHA-2", leaves_on=september - dt.timedelta(days=1))
    await next_year_capacity(kezek, "SHA-3", 2)
    plain = await wait_for_september(kezek, data.PLAIN.parents[0], data.PLAIN.children[1], ["SHA-1", "SHA-2"])
    other = await wait_for_september(kezek, data.OTHER.parents[0], data.OTHER.children[0], ["SHA-2", "SHA-1"])
    late = await wait_for_september(kezek, data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1"])
    first = await wait_for_september(kezek, data.DISABLED.parents[0], data.DISABLED.children[0], ["SHA-2"])
    twins = [await wait_for_september(kezek, data.TWINS.parents[0], c, ["SHA-3"]) for c in data.TWINS.children[:2]]
    linked = await mutate(
        kezek, LINK, {"applicationIds": [t["id"] for t in twins]}, Kezek.citizen(data.TWINS.parents[0])
    )
    assert linked["errors"] == []
    numbers = {a["id"]: a["number"] for a in (plain, other, first, late, *twins)}

    # Who may: an operator of the whole region; others are told it is not theirs, or not for their role.
    assert codes(await create(kezek, Kezek.operator(data.KARAGANDA_REGION, data.SHAKHTINSK))) == [
        ("NOT_FOUND", "regionCode")
    ]
    assert codes(await create(kezek, SKO_OPERATOR)) == [("NOT_FOUND", "regionCode")]
    assert codes(await create(kezek, year=year - 1)) == [("INVALID_INPUT", "schoolYear")]
    assert codes(await create(kezek, year=year + 1)) == [("INVALID_INPUT", "schoolYear")]
    refused = await kezek.post(
        CREATE,
        {"input": {"regionCode": data.KARAGANDA_REGION, "schoolYear": year}},
        Kezek.citizen(data.PLAIN.parents[0]),
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    drafted = await create(kezek)
    assert drafted["errors"] == []
    run = drafted["intakeRun"]
    assert (run["status"], run["schoolYear"], run["regionCode"], run["publishedAt"]) == (
        "DRAFT",
        year,
        data.KARAGANDA_REGION,
        None,
    )
    assert (run["seats"], run["offers"], run["upgrades"], run["seatsLeftFree"]) == (5, 5, 0, 0)
    assert run["verdict"] == {
        "stable": True,
        "envyPairs": 0,
        "waste": 0,
        "siblingPairs": 0,
        "unplacedSiblingGroups": [],
        "impossible": [],
    }
    groups = by_group(run)
    # The disabled child (a verified priority) is ahead at SHA-2, so OTHER goes on to its second choice, SHA-1,
    # where it is ahead of the military family's child (its claim still to be verified by hand: GENERAL).
    assert {k: (g["seats"], g["offeredApplicationNumbers"]) for k, g in groups.items() if g["seats"]} == {
        "SHA-1/G-2023-RU": (2, [numbers[plain["id"]], numbers[other["id"]]]),
        "SHA-2/G-2023-RU": (1, [numbers[first["id"]]]),
        "SHA-3/G-2023-RU": (2, sorted(numbers[t["id"]] for t in twins)),
    }
    assert {w["tier"]: w["count"] for w in run["waitingByTier"]} == {"EXTRAORDINARY": 0, "PRIMARY": 0, "GENERAL": 1}
    assert run["firstChoiceShare"] == 0.8

    # The region's district operators and the ministry read it; another region's operators do not.
    for reader in (Kezek.operator(data.KARAGANDA_REGION, data.SHAKHTINSK), Kezek.ministry()):
        assert (await kezek.gql(READ, {"id": run["id"]}, reader))["intakeRun"]["id"] == run["id"]
    hidden = await kezek.post(READ, {"id": run["id"]}, SKO_OPERATOR)
    assert hidden["data"]["intakeRun"] is None and hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    listed = (await kezek.gql(LIST, {"r": data.KARAGANDA_REGION, "y": year}, OPERATOR))["intakeRuns"]
    assert listed == [{"id": run["id"], "status": "DRAFT", "schoolYear": year}]
    assert codes(await create(kezek)) == [("INVALID_STATE", "schoolYear")]  # one draft at a time

    # Thirty days before 1 September the year's seats are within the advance window, yet wait for the run.
    kezek.clock.advance(dt.datetime.combine(september - dt.timedelta(days=30), dt.time(9), dt.UTC) - kezek.clock.now())
    await kezek.worker_pass()
    assert (await offer(kezek, plain["id"]))["offer"] is None

    # The data changes under the draft: OTHER withdraws, and the military family's child now gets SHA-1.
    withdrawn = await mutate(
        kezek, WITHDRAW, {"applicationId": other["id"], "reason": "moved"}, Kezek.citizen(data.OTHER.parents[0])
    )
    assert withdrawn["errors"] == []
    published = await mutate(kezek, PUBLISH, {"runId": run["id"]}, OPERATOR)
    assert published["errors"] == []
    run = published["intakeRun"]
    assert run["status"] == "PUBLISHED" and run["publishedAt"] is not None
    sha1 = await group_id(kezek, "SHA-1")
    assert run["changesAtPublish"] == [
        f"{numbers[other['id']]}: offered group {sha1} in the draft, not offered now",
        f"{numbers[late['id']]}: not offered in the draft, now offered group {sha1}",
    ]
    assert run["verdict"]["stable"] is True and run["offers"] == 5
    for a in (plain, first, late, *twins):
        got = (await offer(kezek, a["id"]))["offer"]
        assert got["status"] == "PENDING" and got["startsOn"] == september.isoformat(), got
        assert got["intakeRunId"] == run["id"]
        assert dt.datetime.fromisoformat(got["respondBy"]) > kezek.clock.now()  # the window runs from now
    # One message per family: the twins' parent is told of both at once.
    assert len(await outbox(kezek, twins[0]["id"], MessageKind.INTAKE_OFFERS)) == 1
    assert await outbox(kezek, twins[1]["id"], MessageKind.INTAKE_OFFERS) == []
    texts = await outbox(kezek, twins[0]["id"], MessageKind.INTAKE_OFFERS)
    assert numbers[twins[0]["id"]] in texts[0]["text"] and numbers[twins[1]["id"]] in texts[0]["text"]
    single = await outbox(kezek, plain["id"], MessageKind.INTAKE_OFFER)
    assert len(single) == 1 and september.strftime("%d.%m.%Y") in single[0]["text"]
    assert await outbox(kezek, plain["id"], MessageKind.OFFER_MADE) == []
    events = await kezek.sql("SELECT count(*) AS n FROM events WHERE kind = 'OFFER_MADE' AND stream = 'vacancy'")
    assert events[0]["n"] >= 5

    # One published run per region and year.
    assert codes(await create(kezek)) == [("INVALID_STATE", "schoolYear")]
    assert codes(await mutate(kezek, PUBLISH, {"runId": run["id"]}, OPERATOR)) == [("INVALID_STATE", "runId")]
    assert codes(await mutate(kezek, DISCARD, {"runId": run["id"]}, OPERATOR)) == [("INVALID_STATE", "runId")]

    # After the run a decline goes through the vacancy chain: the seat, free from 1 September, goes on.
    behind = await wait_for_september(kezek, data.LARGE.parents[0], data.LARGE.children[1], ["SHA-1"])
    declined = await mutate(
        kezek,
        DECLINE,
        {"offerId": (await offer(kezek, plain["id"]))["offer"]["id"]},
        Kezek.citizen(data.PLAIN.parents[0]),
    )
    assert declined["errors"] == []
    chained = (await offer(kezek, behind["id"]))["offer"]
    assert chained["startsOn"] == september.isoformat() and chained["intakeRunId"] is None
    assert await check_invariants(kezek.container.engine, today(kezek)) == []


async def group_id(kezek: Kezek, kg: str, year: int = 2023) -> str:
    return str((await group(kezek, kg, year))["id"])


async def test_a_draft_can_be_discarded_and_made_again_and_replayed_from_its_inputs(kezek: Kezek) -> None:
    await next_year_capacity(kezek, "SHA-1", 1)
    for family in (data.PLAIN, data.OTHER):
        await wait_for_september(kezek, family.parents[0], family.children[-1], ["SHA-1"])
    first = (await create(kezek))["intakeRun"]
    assert codes(
        await mutate(kezek, DISCARD, {"runId": first["id"]}, Kezek.operator(data.KARAGANDA_REGION, data.SHAKHTINSK))
    ) == [("NOT_FOUND", "runId")]
    discarded = await mutate(kezek, DISCARD, {"runId": first["id"]}, OPERATOR)
    assert discarded["errors"] == [] and discarded["intakeRun"]["status"] == "DISCARDED"
    again = (await create(kezek))["intakeRun"]
    assert again["id"] != first["id"] and by_group(again) == by_group(first)  # the same data, the same run
    # Anyone with the data can replay it: the stored inputs give the stored result.
    stored = await kezek.sql("SELECT inputs FROM intake_runs WHERE id = $1", int(again["id"]))
    replayed = intake.match(intake.inputs_from(stored[0]["inputs"]))
    rows = await kezek.sql("SELECT group_id, offered FROM intake_run_groups WHERE run_id = $1", int(again["id"]))
    assert {gid: sorted(apps) for gid, apps in _by_group(replayed).items()} == {
        r["group_id"]: sorted(r["offered"]) for r in rows if r["offered"]
    }
    for token in (OPERATOR,):
        assert codes(await mutate(kezek, DISCARD, {"runId": "999999"}, token)) == [("NOT_FOUND", "runId")]
    assert (await mutate(kezek, DISCARD, {"runId": first["id"]}, OPERATOR))["errors"][0]["code"] == "INVALID_STATE"


def _by_group(matching: intake.Matching) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for app_id, gid in matching.placed.items():
        out.setdefault(gid, []).append(app_id)
    return out


async def test_a_child_whose_choices_span_two_regions_holds_one_offer_at_a_time(kezek: Kezek) -> None:
    family = await add_family(kezek, data.SHAKHTINSK, [data.D23])
    await next_year_capacity(kezek, "SHA-1", 1)
    await next_year_capacity(kezek, "PET-1", 1)
    child = await wait_for_september(kezek, family.parents[0], family.children[0], ["PET-1", "SHA-1"])
    karaganda = (await create(kezek))["intakeRun"]
    assert (await mutate(kezek, PUBLISH, {"runId": karaganda["id"]}, OPERATOR))["errors"] == []
    got = (await offer(kezek, child["id"]))["offer"]
    assert got["kindergarten"]["externalId"] == "SHA-1"  # its second choice: the other region's run is to come
    sko = (await create(kezek, SKO_OPERATOR, data.SKO_REGION))["intakeRun"]
    assert by_group(sko)["PET-1/G-2023-RU"]["offeredApplicationNumbers"] == [child["number"]]
    assert (await mutate(kezek, PUBLISH, {"runId": sko["id"]}, SKO_OPERATOR))["errors"] == []
    better = (await offer(kezek, child["id"]))["offer"]
    assert better["kindergarten"]["externalId"] == "PET-1" and better["intakeRunId"] == sko["id"]
    statuses = await kezek.sql("SELECT status FROM offers WHERE application_id = $1 ORDER BY id", int(child["id"]))
    assert [r["status"] for r in statuses] == ["SUPERSEDED", "PENDING"]
    assert await check_invariants(kezek.container.engine, today(kezek)) == []


async def test_an_enrolled_child_moves_up_in_the_run_and_frees_its_seat_for_the_chain(kezek: Kezek) -> None:
    year = coming_year(kezek)
    september = school_year.first_day(year)
    family = await add_family(kezek, data.SHAKHTINSK, [data.D23])
    parent, child = family.parents[0], family.children[0]
    moving = await queue(kezek, parent, child, ["SHA-1", "SHA-2"])
    await set_capacity(kezek, "SHA-2", 1)
    await enrol(kezek, parent, moving["id"])  # enrolled at its second choice
    await next_year_capacity(kezek, "SHA-1", 1)
    behind = await wait_for_september(kezek, data.PLAIN.parents[0], data.PLAIN.children[1], ["SHA-2"])
    run = (await create(kezek))["intakeRun"]
    assert run["upgrades"] == 1 and by_group(run)["SHA-1/G-2023-RU"]["offeredApplicationNumbers"] == [moving["number"]]
    # The seat it holds is not given away by the run: it frees only once the child signs for SHA-1. The run has
    # no seat in SHA-2 to give, so it does not list the group (decision 100).
    assert "SHA-2/G-2023-RU" not in by_group(run)
    kezek.clock.advance(dt.datetime.combine(september - dt.timedelta(days=40), dt.time(9), dt.UTC) - kezek.clock.now())
    assert (await mutate(kezek, PUBLISH, {"runId": run["id"]}, OPERATOR))["errors"] == []
    upgrade = (await offer(kezek, moving["id"]))["offer"]
    assert upgrade["upgrade"] and upgrade["startsOn"] == september.isoformat()
    await enrol(kezek, parent, moving["id"])
    old = await kezek.sql(
        "SELECT leaves_on FROM enrollments WHERE child_iin = $1 AND ended_at IS NULL ORDER BY since", child
    )
    assert old[0]["leaves_on"] == september - dt.timedelta(days=1)
    chained = (await offer(kezek, behind["id"]))["offer"]
    assert chained["kindergarten"]["externalId"] == "SHA-2" and chained["startsOn"] == september.isoformat()
    assert (await app(kezek, moving["id"]))["status"] == "ENROLLED"
    assert await check_invariants(kezek.container.engine, today(kezek)) == []
