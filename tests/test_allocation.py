"""Who gets a free seat (docs/product.md §4, §5, §6): queue order, children not yet eligible, upgrades and
supersedes, seats freed by withdrawal, revoked priority and leaving, sibling priority, sibling groups and
the primary-to-general ratio. Helpers and the offers-enabled app come from tests/test_offers.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain import iin
from domain.messages import MessageKind
from tests import data
from tests.conftest import Kezek
from tests.test_offers import (
    OPERATOR,
    OTHER_CHILD,
    OTHER_PARENT,
    PLAIN_2022,
    PLAIN_2023,
    PLAIN_PARENT,
    add_family,
    app,
    choices,
    codes,
    confirm,
    enrol,
    group,
    mutate,
    offer_of,
    offer_status,
    offers_app,
    outbox,
    pass_deadline,
    queue,
    set_capacity,
    sign,
    staff_token,
    today,
)

ERRORS = "errors { code message field }"
APP_BRIEF = "id status tier siblingGroupId choices { rank kindergarten { externalId } position }"
CREATE_GROUP = f"""mutation($input: CreateGroupInput!) {{ createGroup(input: $input) {{
    group {{ id externalId }} {ERRORS} }} }}"""
WITHDRAW = f"""mutation($input: WithdrawApplicationInput!) {{ withdrawApplication(input: $input) {{
    application {{ id status }} {ERRORS} }} }}"""
REVOKE = f"""mutation($input: RevokePriorityClaimInput!) {{ revokePriorityClaim(input: $input) {{
    claim {{ id status }} {ERRORS} }} }}"""
LEAVE = f"""mutation($input: LeaveKindergartenInput!) {{ leaveKindergarten(input: $input) {{
    child {{ iin }} {ERRORS} }} }}"""
LINK = f"""mutation($input: LinkSiblingsInput!) {{ linkSiblings(input: $input) {{
    applications {{ {APP_BRIEF} }} {ERRORS} }} }}"""
CHANGE = f"""mutation($input: ChangeChoicesInput!) {{ changeChoices(input: $input) {{
    application {{ id }} {ERRORS} }} }}"""
DECLINE = f"""mutation($input: DeclineOfferInput!) {{ declineOffer(input: $input) {{
    offer {{ id status }} {ERRORS} }} }}"""
SET_CAPACITY = f"""mutation($input: SetGroupCapacityInput!) {{ setGroupCapacity(input: $input) {{
    group {{ id held freeSeats }} {ERRORS} }} }}"""
ENROLMENT = """query($iin: String!) { child(iin: $iin) { enrollment { kindergarten { externalId } } } }"""

LARGE_PARENT, LARGE_2023 = data.LARGE.parents[0], data.LARGE.children[1]
DISABLED_PARENT, DISABLED_2023 = data.DISABLED.parents[0], data.DISABLED.children[0]
TWINS_PARENT = data.TWINS.parents[0]


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    async with offers_app(db_url) as k:
        yield k


async def status(kezek: Kezek, app_id: str) -> str:
    return str((await app(kezek, app_id))["status"])


async def offered_at(kezek: Kezek, app_id: str) -> str | None:
    """The kindergarten of the application's live offer, or None."""
    offer = (await app(kezek, app_id))["offer"]
    return None if offer is None else str(offer["kindergarten"]["externalId"])


async def enrolled_at(kezek: Kezek, child: str) -> str | None:
    enrollment = (await kezek.gql(ENROLMENT, {"iin": child}, OPERATOR))["child"]["enrollment"]
    return None if enrollment is None else str(enrollment["kindergarten"]["externalId"])


# --- queue order and eligibility -----------------------------------------------------------------


async def test_a_freed_seat_goes_to_the_first_child_in_queue_order(kezek: Kezek) -> None:
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    plain = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    disabled = await queue(kezek, DISABLED_PARENT, DISABLED_2023, ["SHA-1"])
    assert disabled["tier"] == "PRIMARY"
    assert [(await app(kezek, a["id"]))["choices"][0]["position"] for a in (disabled, other, plain)] == [1, 2, 3]

    # Tier first: the PRIMARY child, though it applied last.
    g = await set_capacity(kezek, "SHA-1", 1)
    assert (g["held"], g["freeSeats"]) == (1, 0)
    offer = await offer_of(kezek, disabled["id"])
    assert offer["tier"] == "PRIMARY"
    assert await status(kezek, disabled["id"]) == "OFFERED"
    assert [await offered_at(kezek, a["id"]) for a in (other, plain)] == [None, None]
    assert [(await app(kezek, a["id"]))["choices"][0]["position"] for a in (other, plain)] == [1, 2]

    # Then queue date within the tier: exactly one more child per seat.
    await set_capacity(kezek, "SHA-1", 2)
    assert await offered_at(kezek, other["id"]) == "SHA-1"
    assert await status(kezek, plain["id"]) == "QUEUED"
    g = await set_capacity(kezek, "SHA-1", 3)
    assert (g["capacity"], g["held"], g["freeSeats"]) == (3, 3, 0)
    assert await offered_at(kezek, plain["id"]) == "SHA-1"


async def test_equal_queue_dates_are_offered_in_application_number_order(kezek: Kezek) -> None:
    """Guards the final tie-break (decision 1) where seats are given, not only where positions are shown."""
    apps = [await queue(kezek, TWINS_PARENT, child, ["SHA-1"]) for child in data.TWINS.children]
    # Set-up: one queue date for all three (the choices' copy follows by the cascading key).
    await kezek.sql("UPDATE applications SET queue_date = $1", dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC))
    by_number = sorted(apps, key=lambda a: a["number"])
    for seats in (1, 2):
        await set_capacity(kezek, "SHA-1", seats)
        offered = [await offered_at(kezek, a["id"]) for a in by_number]
        assert offered == ["SHA-1"] * seats + [None] * (3 - seats), seats


async def test_children_not_yet_eligible_are_passed_over(kezek: Kezek) -> None:
    """A child under the minimum admission age (24 months) or whose desired start date has not come yet is
    skipped; the seat goes to the next child of the mixed-age group's merged queue."""
    t = today(kezek)
    born = dt.date(t.year - 1, t.month, 1)  # about 12 months old
    young = await add_family(kezek, data.SHAKHTINSK, [born])
    created = await mutate(
        kezek,
        CREATE_GROUP,
        {
            "kindergartenId": await kezek.kg("SHA-3"),
            "externalId": "MIX",
            "birthYearFrom": 2023,
            "birthYearTo": born.year,
            "language": "RU",
            "capacity": 0,
        },
        OPERATOR,
    )
    assert created["errors"] == []
    mix = created["group"]["id"]

    baby = await queue(kezek, young.parents[0], young.children[0], ["SHA-3"])
    later = await queue(
        kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-3"], desiredStartDate=(t + dt.timedelta(days=1)).isoformat()
    )
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-3"])

    def capacity(n: int) -> dict[str, Any]:
        return {"groupId": mix, "capacity": n, "reason": "test"}

    assert (await mutate(kezek, SET_CAPACITY, capacity(1), staff_token("SHA-3")))["errors"] == []
    offer = await offer_of(kezek, other["id"])
    assert offer["group"]["externalId"] == "MIX"
    assert [await status(kezek, a["id"]) for a in (baby, later)] == ["QUEUED", "QUEUED"]
    # Positions are ranks, not promises: the child waiting for its start date stays first in its queue.
    assert (await app(kezek, later["id"]))["choices"][0]["position"] == 1

    # A second seat stays free while nobody eligible waits.
    second = await mutate(kezek, SET_CAPACITY, capacity(2), staff_token("SHA-3"))
    assert (second["group"]["held"], second["group"]["freeSeats"]) == (1, 1)
    assert [await status(kezek, a["id"]) for a in (baby, later)] == ["QUEUED", "QUEUED"]

    # The worker's pass catches the start date once it has come; the baby is still too young.
    kezek.clock.advance(dt.timedelta(days=1))
    await kezek.worker_pass()
    assert (await offer_of(kezek, later["id"]))["group"]["externalId"] == "MIX"
    assert await status(kezek, baby["id"]) == "QUEUED"
    assert await status(kezek, other["id"]) == "OFFERED"


async def test_a_free_seat_reaches_an_eligible_child_behind_a_full_page_of_ineligible_ones(kezek: Kezek) -> None:
    """Candidates are read page by page (decision 21): the first eligible child is found however many
    children ahead of it are not eligible yet (here more than a page, their start dates not come)."""
    t = today(kezek)
    families = range(52)  # more than a page of candidates (50 today)
    parents = [iin.make(dt.date(1990, 3, 3), False, 20_000 + 7 * n) for n in families]
    children = [iin.make(dt.date(2023, 3, 3), True, 30_000 + 7 * n) for n in families]
    await kezek.sql(
        """INSERT INTO sandbox_persons (iin, full_name, birth_date, sex, alive, district_code, phone)
        SELECT p, 'Родитель', DATE '1990-03-03', 'F', true, $3, NULL FROM unnest($1::text[]) p
        UNION ALL SELECT c, 'Ребёнок', DATE '2023-03-03', 'M', true, $3, NULL FROM unnest($2::text[]) c""",
        parents,
        children,
        data.SHAKHTINSK,
    )
    await kezek.sql("INSERT INTO sandbox_families SELECT * FROM unnest($1::text[], $2::text[])", children, parents)
    later = (t + dt.timedelta(days=30)).isoformat()
    waiting = [
        await queue(kezek, parent, child, ["SHA-1"], desiredStartDate=later)
        for parent, child in zip(parents[:-1], children[:-1], strict=True)
    ]
    eligible = await queue(kezek, parents[-1], children[-1], ["SHA-1"])
    assert (await app(kezek, eligible["id"]))["choices"][0]["position"] == len(waiting) + 1

    await set_capacity(kezek, "SHA-1", 1)
    assert await offered_at(kezek, eligible["id"]) == "SHA-1"
    assert [await status(kezek, a["id"]) for a in waiting[-2:]] == ["QUEUED", "QUEUED"]


async def test_a_child_is_offered_a_seat_from_the_day_it_is_24_months_old(kezek: Kezek) -> None:
    """Guards the national minimum admission age (24 months, PRODUCT §6) at its boundary: a child one day
    short of it is passed over, one who is 24 months old today is offered the seat."""
    t = today(kezek)
    try:
        turned = t.replace(year=t.year - 2)
    except ValueError:  # 29 February
        turned = dt.date(t.year - 2, 2, 28)
    younger = turned + dt.timedelta(days=1)
    not_yet = await add_family(kezek, data.SHAKHTINSK, [younger])
    old_enough = await add_family(kezek, data.SHAKHTINSK, [turned])
    first = await queue(kezek, not_yet.parents[0], not_yet.children[0], ["SHA-1"])
    second = await queue(kezek, old_enough.parents[0], old_enough.children[0], ["SHA-1"])
    year = turned.year

    await set_capacity(kezek, "SHA-1", 1, year=year)
    assert await offered_at(kezek, second["id"]) == "SHA-1"
    assert await status(kezek, first["id"]) == "QUEUED"
    g = await set_capacity(kezek, "SHA-1", 2, year=year)
    assert (g["held"], g["freeSeats"]) == (1, 1)  # nobody else old enough waits

    # The next day the younger one is 24 months old too: the worker's pass offers it the free seat.
    kezek.clock.advance(dt.timedelta(days=1))
    await kezek.worker_pass()
    assert await offered_at(kezek, first["id"]) == "SHA-1"


async def test_a_child_with_a_sibling_enrolled_there_comes_first_within_its_tier(kezek: Kezek) -> None:
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    younger = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    assert (await app(kezek, younger["id"]))["choices"][0]["position"] == 2

    # The elder sibling is enrolled at SHA-1 through the offer flow.
    await set_capacity(kezek, "SHA-1", 1, year=2022)
    elder = await queue(kezek, PLAIN_PARENT, PLAIN_2022, ["SHA-1"])
    await enrol(kezek, PLAIN_PARENT, elder["id"])
    assert await enrolled_at(kezek, PLAIN_2022) == "SHA-1"

    assert (await app(kezek, younger["id"]))["choices"][0]["position"] == 1
    assert (await app(kezek, other["id"]))["choices"][0]["position"] == 2
    await set_capacity(kezek, "SHA-1", 1)
    assert await offered_at(kezek, younger["id"]) == "SHA-1"
    assert await offered_at(kezek, other["id"]) is None


async def test_a_payload_shows_the_offer_the_change_led_to(kezek: Kezek) -> None:
    """A mutation answers with the application as it is once the allocation after its commit ran: the use case's
    own copy when nothing was offered, the application read again when an offer was made (perhaps to it)."""
    await set_capacity(kezek, "SHA-1", 1)  # a seat nobody waits for
    plain = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    assert plain["status"] == "OFFERED"
    assert (await app(kezek, plain["id"]))["status"] == "OFFERED"

    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-2"])
    assert other["status"] == "QUEUED"  # nothing offered: the copy the submission made, the same as a read
    read = (await app(kezek, other["id"], Kezek.citizen(OTHER_PARENT)))["choices"]
    assert [(c["rank"], c["kindergarten"]["externalId"], c["position"]) for c in other["choices"]] == [
        (c["rank"], c["kindergarten"]["externalId"], c["position"]) for c in read
    ]
    await set_capacity(kezek, "SHA-1", 2)
    changed = await mutate(
        kezek,
        """mutation($input: ChangeChoicesInput!) { changeChoices(input: $input) {
            application { id status offer { kindergarten { externalId } } choices { rank } } errors { code } } }""",
        {"applicationId": other["id"], "kindergartenIds": await kezek.kgs("SHA-2", "SHA-1")},
        Kezek.citizen(OTHER_PARENT),
    )
    assert changed["errors"] == []
    assert changed["application"]["status"] == "OFFERED"
    assert changed["application"]["offer"]["kindergarten"]["externalId"] == "SHA-1"
    assert [c["rank"] for c in changed["application"]["choices"]] == [1, 2]


async def test_sibling_priority_applies_from_submission_and_to_an_added_choice(kezek: Kezek) -> None:
    """A child whose sibling is already enrolled at a kindergarten stands ahead there from the moment it applies,
    and from the moment that kindergarten is added to its choices."""
    await set_capacity(kezek, "SHA-1", 1, year=2022)
    elder = await queue(kezek, PLAIN_PARENT, PLAIN_2022, ["SHA-1"])
    await enrol(kezek, PLAIN_PARENT, elder["id"])
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])

    younger = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-2"])
    assert [c["position"] for c in younger["choices"]] == [2]  # no sibling at SHA-2: behind the other child
    changed = await mutate(
        kezek,
        CHANGE,
        {"applicationId": younger["id"], "kindergartenIds": await kezek.kgs("SHA-2", "SHA-1")},
        Kezek.citizen(PLAIN_PARENT),
    )
    assert changed["errors"] == []
    assert [c["position"] for c in (await app(kezek, younger["id"]))["choices"]] == [2, 1]
    assert [c["position"] for c in (await app(kezek, other["id"]))["choices"]] == [2, 1]

    # A sibling applying after the enrolment is ahead at once, too.
    withdrawn = await mutate(kezek, WITHDRAW, {"applicationId": younger["id"]}, Kezek.citizen(PLAIN_PARENT))
    assert withdrawn["errors"] == []
    again = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    assert [c["position"] for c in again["choices"]] == [1]
    await set_capacity(kezek, "SHA-1", 1)
    assert await offered_at(kezek, again["id"]) == "SHA-1"
    assert await offered_at(kezek, other["id"]) is None


async def test_sibling_priority_ends_when_the_sibling_leaves(kezek: Kezek) -> None:
    """Guards the other half of sibling priority: it lasts only while the sibling is enrolled there."""
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    younger = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1, year=2022)
    elder = await queue(kezek, PLAIN_PARENT, PLAIN_2022, ["SHA-1"])
    await enrol(kezek, PLAIN_PARENT, elder["id"])
    assert (await app(kezek, younger["id"]))["choices"][0]["position"] == 1

    left = await mutate(kezek, LEAVE, {"childIin": PLAIN_2022, "reason": "moved"}, staff_token("SHA-1"))
    assert left["errors"] == []
    assert [(await app(kezek, a["id"]))["choices"][0]["position"] for a in (other, younger)] == [1, 2]
    await set_capacity(kezek, "SHA-1", 1)
    assert await offered_at(kezek, other["id"]) == "SHA-1"
    assert await offered_at(kezek, younger["id"]) is None


async def test_a_sibling_who_moves_up_takes_the_priority_to_the_new_kindergarten(kezek: Kezek) -> None:
    """Sibling priority follows the enrolment: after an upgrade it is at the new kindergarten, not the old."""
    await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    younger = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1", "SHA-2"])
    assert [c["position"] for c in younger["choices"]] == [2, 2]
    elder = await queue(kezek, PLAIN_PARENT, PLAIN_2022, ["SHA-1", "SHA-2"])
    await set_capacity(kezek, "SHA-2", 1, year=2022)
    await enrol(kezek, PLAIN_PARENT, elder["id"])
    assert [c["position"] for c in (await app(kezek, younger["id"]))["choices"]] == [2, 1]

    await set_capacity(kezek, "SHA-1", 1, year=2022)
    await enrol(kezek, PLAIN_PARENT, elder["id"])
    assert await enrolled_at(kezek, PLAIN_2022) == "SHA-1"
    assert [c["position"] for c in (await app(kezek, younger["id"]))["choices"]] == [1, 2]


# --- upgrades and supersedes ---------------------------------------------------------------------


async def _enrolled_at_rank_2(kezek: Kezek) -> tuple[Any, Any]:
    """OTHER's child enrolled at SHA-2 (its rank 2) waits for SHA-1; PLAIN's 2023 child waits behind it."""
    upgrading = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    await set_capacity(kezek, "SHA-2", 1)
    await enrol(kezek, OTHER_PARENT, upgrading["id"])
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1", "SHA-2"])
    a = await app(kezek, upgrading["id"])
    assert a["status"] == "ENROLLED"
    assert choices(a) == [(1, "SHA-1", 1), (2, "SHA-2", None)]
    return upgrading, waiting


async def test_an_enrolled_child_waits_for_better_and_declining_the_upgrade_keeps_the_enrolment(
    kezek: Kezek,
) -> None:
    upgrading, waiting = await _enrolled_at_rank_2(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    a = await app(kezek, upgrading["id"])
    assert a["status"] == "ENROLLED"
    assert a["offer"] is not None and a["offer"]["upgrade"] is True
    assert a["offer"]["kindergarten"]["externalId"] == "SHA-1"
    assert await offered_at(kezek, waiting["id"]) is None

    declined = await mutate(kezek, DECLINE, {"offerId": a["offer"]["id"]}, Kezek.citizen(OTHER_PARENT))
    assert declined["errors"] == [] and declined["offer"]["status"] == "DECLINED"
    a = await app(kezek, upgrading["id"])
    assert a["status"] == "ENROLLED" and a["offer"] is None
    assert choices(a) == [(1, "SHA-2", None)]
    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-2"
    assert await offered_at(kezek, waiting["id"]) == "SHA-1"


async def test_declining_an_upgrade_never_costs_the_enrolment_even_where_declining_annuls(kezek: Kezek) -> None:
    """Guards "upgrade offers never cost the enrolment" where the region's decline effect is ANNUL (SKO in
    OFFERS_POLICY): a declined upgrade drops only that choice, while a declined first offer there closes."""
    north_parent, north_child = data.NORTH.parents[0], data.NORTH.children[0]
    sko = Kezek.operator(data.SKO_REGION)
    upgrading = await queue(kezek, north_parent, north_child, ["PET-1", "PET-2"])
    await set_capacity(kezek, "PET-2", 1)
    offer = await offer_of(kezek, upgrading["id"], sko)
    confirmed = await confirm(kezek, north_parent, offer["id"])
    assert (await sign(kezek, north_parent, confirmed["contract"]))["errors"] == []
    await set_capacity(kezek, "PET-1", 1)
    upgrade = await offer_of(kezek, upgrading["id"], sko)
    assert (upgrade["kindergarten"]["externalId"], upgrade["upgrade"]) == ("PET-1", True)

    declined = await mutate(kezek, DECLINE, {"offerId": upgrade["id"]}, Kezek.citizen(north_parent))
    assert declined["errors"] == []
    a = await app(kezek, upgrading["id"], sko)
    assert a["status"] == "ENROLLED" and a["offer"] is None
    assert choices(a) == [(1, "PET-2", None)]
    enrollment = (await kezek.gql(ENROLMENT, {"iin": north_child}, sko))["child"]["enrollment"]
    assert enrollment["kindergarten"]["externalId"] == "PET-2"


async def test_a_lapsed_upgrade_offer_only_drops_that_choice(kezek: Kezek) -> None:
    upgrading, waiting = await _enrolled_at_rank_2(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, upgrading["id"])
    pass_deadline(kezek, offer["respondBy"])
    await kezek.worker_pass()

    assert await offer_status(kezek, offer["id"]) == "LAPSED"
    a = await app(kezek, upgrading["id"])
    assert a["status"] == "ENROLLED" and choices(a) == [(1, "SHA-2", None)]
    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-2"
    assert await offered_at(kezek, waiting["id"]) == "SHA-1"


async def test_signing_an_upgrade_moves_the_child_and_its_old_seat_goes_on(kezek: Kezek) -> None:
    upgrading, waiting = await _enrolled_at_rank_2(kezek)
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, upgrading["id"])
    assert offer["upgrade"] is True

    confirmed = await confirm(kezek, OTHER_PARENT, offer["id"])
    assert await status(kezek, upgrading["id"]) == "ENROLLED"  # an upgrade never leaves ENROLLED
    signed = await sign(kezek, OTHER_PARENT, confirmed["contract"])
    assert signed["errors"] == [] and signed["offer"]["status"] == "ENROLLED"

    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-1"
    a = await app(kezek, upgrading["id"])
    assert a["status"] == "ENROLLED" and choices(a) == [(1, "SHA-1", None)]
    # The SHA-2 seat it left went to the next child in the same transaction.
    assert await offered_at(kezek, waiting["id"]) == "SHA-2"
    sha2 = await group(kezek, "SHA-2")
    assert (sha2["enrolled"], sha2["held"]) == (0, 1)


async def test_a_better_offer_supersedes_a_pending_one_and_its_seat_goes_on(kezek: Kezek) -> None:
    holder = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2", "SHA-3"])
    await set_capacity(kezek, "SHA-3", 1)
    lower = await offer_of(kezek, holder["id"])
    assert lower["kindergarten"]["externalId"] == "SHA-3"
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-3"])

    await set_capacity(kezek, "SHA-1", 1)
    assert await offer_status(kezek, lower["id"]) == "SUPERSEDED"
    better = await offer_of(kezek, holder["id"])
    assert better["kindergarten"]["externalId"] == "SHA-1" and better["status"] == "PENDING"
    assert await status(kezek, holder["id"]) == "OFFERED"
    assert await offered_at(kezek, waiting["id"]) == "SHA-3"
    assert len(await outbox(kezek, holder["id"], MessageKind.OFFER_SUPERSEDED)) == 1
    sha3 = await group(kezek, "SHA-3")
    assert (sha3["held"], sha3["freeSeats"]) == (1, 0)


async def test_a_better_offer_voids_a_confirmed_contract(kezek: Kezek) -> None:
    holder = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    await set_capacity(kezek, "SHA-2", 1)
    lower = await confirm(kezek, OTHER_PARENT, (await offer_of(kezek, holder["id"]))["id"])
    assert await status(kezek, holder["id"]) == "ENROLLING"

    await set_capacity(kezek, "SHA-1", 1)
    assert await offer_status(kezek, lower["id"]) == "SUPERSEDED"
    assert await status(kezek, holder["id"]) == "OFFERED"
    assert await offered_at(kezek, holder["id"]) == "SHA-1"
    void = await sign(kezek, OTHER_PARENT, lower["contract"])
    assert codes(void) == ["INVALID_STATE"]
    assert await enrolled_at(kezek, OTHER_CHILD) is None
    sha2 = await group(kezek, "SHA-2")
    assert (sha2["enrolled"], sha2["held"], sha2["freeSeats"]) == (0, 0, 1)


# --- seats freed by withdrawal, revoked priority and leaving --------------------------------------


async def test_withdrawing_cancels_the_live_offer_and_its_seat_goes_on(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    second = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, first["id"])

    withdrawn = await mutate(kezek, WITHDRAW, {"applicationId": first["id"]}, Kezek.citizen(OTHER_PARENT))
    assert withdrawn["errors"] == [] and withdrawn["application"]["status"] == "WITHDRAWN"
    assert await offer_status(kezek, offer["id"]) == "CANCELLED"
    assert await offered_at(kezek, second["id"]) == "SHA-1"


async def test_revoking_the_priority_an_offer_was_made_on_cancels_it(kezek: Kezek) -> None:
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    large = await queue(kezek, LARGE_PARENT, LARGE_2023, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, large["id"])
    assert offer["tier"] == "PRIMARY"
    [claim] = [c for c in (await app(kezek, large["id"]))["claims"] if c["category"] == "LARGE_FAMILY"]
    assert claim["status"] == "VERIFIED"

    revoked = await mutate(kezek, REVOKE, {"claimId": claim["id"], "note": "not a large family"}, OPERATOR)
    assert revoked["errors"] == [] and revoked["claim"]["status"] == "REVOKED"
    assert await offer_status(kezek, offer["id"]) == "CANCELLED"
    a = await app(kezek, large["id"])
    assert (a["status"], a["tier"], a["offer"]) == ("QUEUED", "GENERAL", None)
    assert await offered_at(kezek, other["id"]) == "SHA-1"
    assert len(await outbox(kezek, large["id"], MessageKind.OFFER_CANCELLED)) == 1


@pytest.mark.parametrize("leaver", ["parent", "staff", "operator"])
async def test_leaving_ends_the_enrolment_and_the_seat_goes_on(kezek: Kezek, leaver: str) -> None:
    enrolled = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    await enrol(kezek, OTHER_PARENT, enrolled["id"])
    waiting = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    assert await offered_at(kezek, waiting["id"]) is None

    # Staff of another kindergarten and strangers are told the enrolment does not exist.
    for outsider in (staff_token("SHA-2"), Kezek.citizen(PLAIN_PARENT)):
        refused = await mutate(kezek, LEAVE, {"childIin": OTHER_CHILD, "reason": "moved"}, outsider)
        assert codes(refused) == ["NOT_FOUND"]
    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-1"

    token = {
        "parent": Kezek.citizen(OTHER_PARENT),
        "staff": staff_token("SHA-1"),
        "operator": Kezek.operator(data.KARAGANDA_REGION, data.SHAKHTINSK),
    }[leaver]
    if leaver != "parent":
        no_reason = await mutate(kezek, LEAVE, {"childIin": OTHER_CHILD}, token)
        assert codes(no_reason) == ["INVALID_INPUT"]
    left = await mutate(kezek, LEAVE, {"childIin": OTHER_CHILD, "reason": "moved to Almaty"}, token)
    assert left["errors"] == []

    assert await enrolled_at(kezek, OTHER_CHILD) is None
    assert await status(kezek, enrolled["id"]) == "CLOSED"
    assert await offered_at(kezek, waiting["id"]) == "SHA-1"
    again = await mutate(kezek, LEAVE, {"childIin": OTHER_CHILD, "reason": "again"}, token)
    assert codes(again) == ["NOT_FOUND"]


async def test_leaving_needs_a_valid_iin(kezek: Kezek) -> None:
    """An IIN that cannot exist is INVALID_IIN, before any enrolment is looked for (one with a right check
    digit but a 13th month included)."""
    enrolled = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    await enrol(kezek, OTHER_PARENT, enrolled["id"])
    month_13 = next(
        f"2313155{s:04d}{d}" for s in range(10_000) if (d := iin.check_digit(f"2313155{s:04d}")) is not None
    )
    for bad in ("12345", OTHER_CHILD[:-1] + str((int(OTHER_CHILD[-1]) + 1) % 10), month_13):
        refused = await mutate(kezek, LEAVE, {"childIin": bad, "reason": "moved"}, staff_token("SHA-1"))
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_IIN", "childIin")], bad
    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-1"


# --- an enrolled child's application --------------------------------------------------------------


async def _enrolled_at_sha_2(kezek: Kezek) -> Any:
    """OTHER's child applied for SHA-1, SHA-2, SHA-3 and signed for SHA-2: it waits for SHA-1 only."""
    a = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2", "SHA-3"])
    await set_capacity(kezek, "SHA-2", 1)
    await enrol(kezek, OTHER_PARENT, a["id"])
    after = await app(kezek, a["id"])
    assert after["status"] == "ENROLLED"
    assert choices(after) == [(1, "SHA-1", 1), (2, "SHA-2", None)]
    return after


async def _change(kezek: Kezek, app_id: str, *kgs: str) -> Any:
    return await mutate(
        kezek, CHANGE, {"applicationId": app_id, "kindergartenIds": await kezek.kgs(*kgs)}, Kezek.citizen(OTHER_PARENT)
    )


async def test_changing_an_enrolled_childs_choices_keeps_the_enrolment_and_never_brings_back_lower_ones(
    kezek: Kezek,
) -> None:
    """Guards decision 23: choices ranked below the enrolment are dropped and cannot be added back, the
    enrolled kindergarten must stay listed, and choices re-ranked below it are dropped too."""
    a = await _enrolled_at_sha_2(kezek)

    # SHA-3, dropped when the contract was signed, cannot come back, at any rank.
    for kgs in (["SHA-1", "SHA-2", "SHA-3"], ["SHA-3", "SHA-2"]):
        refused = await _change(kezek, a["id"], *kgs)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "kindergartenIds")], kgs
    # The enrolled kindergarten must stay listed.
    refused = await _change(kezek, a["id"], "SHA-1", "SHA-4")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "kindergartenIds")]
    assert choices(await app(kezek, a["id"])) == [(1, "SHA-1", 1), (2, "SHA-2", None)]

    # Re-ranked below the enrolment, SHA-1 is dropped as at signing; SHA-4 above it is waited for.
    changed = await _change(kezek, a["id"], "SHA-4", "SHA-2", "SHA-1")
    assert changed["errors"] == []
    after = await app(kezek, a["id"])
    assert after["status"] == "ENROLLED"
    assert choices(after) == [(1, "SHA-4", 1), (2, "SHA-2", None)]
    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-2"
    refused = await _change(kezek, a["id"], "SHA-1", "SHA-2")
    assert codes(refused) == ["INVALID_INPUT"]

    # A seat at SHA-1 is not offered to it any more; one at SHA-4 is, as an upgrade.
    await set_capacity(kezek, "SHA-1", 1)
    assert await offered_at(kezek, a["id"]) is None
    await set_capacity(kezek, "SHA-4", 1)
    offer = await offer_of(kezek, a["id"])
    assert (offer["kindergarten"]["externalId"], offer["upgrade"]) == ("SHA-4", True)


async def test_enrolled_at_its_first_choice_an_application_waits_for_nothing(kezek: Kezek) -> None:
    """Enrolled at the kindergarten it ranked first, the application has nothing better to wait for: its
    choices cannot change and there is nothing to withdraw from."""
    a = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    await set_capacity(kezek, "SHA-1", 1)
    await enrol(kezek, OTHER_PARENT, a["id"])
    after = await app(kezek, a["id"])
    assert after["status"] == "ENROLLED" and choices(after) == [(1, "SHA-1", None)]
    assert codes(await _change(kezek, a["id"], "SHA-1", "SHA-3")) == ["INVALID_STATE"]
    withdrawn = await mutate(kezek, WITHDRAW, {"applicationId": a["id"]}, Kezek.citizen(OTHER_PARENT))
    assert codes(withdrawn) == ["INVALID_STATE"]
    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-1"


async def test_choices_cannot_change_while_an_offer_is_live(kezek: Kezek) -> None:
    """Guards decision 23's last sentence: with a live offer (pending or confirmed), INVALID_STATE; also for an
    upgrade offer, while the application itself is ENROLLED."""
    a = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2", "SHA-3"])
    await set_capacity(kezek, "SHA-2", 1)
    offer = await offer_of(kezek, a["id"])
    refused = await _change(kezek, a["id"], "SHA-4", "SHA-2")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATE", "applicationId")]
    confirmed = await confirm(kezek, OTHER_PARENT, offer["id"])
    refused = await _change(kezek, a["id"], "SHA-4", "SHA-2")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATE", "applicationId")]
    assert (await sign(kezek, OTHER_PARENT, confirmed["contract"]))["errors"] == []
    await set_capacity(kezek, "SHA-1", 1)
    upgrade = await offer_of(kezek, a["id"])
    assert upgrade["upgrade"] is True and (await app(kezek, a["id"]))["status"] == "ENROLLED"
    refused = await _change(kezek, a["id"], "SHA-4", "SHA-2")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATE", "applicationId")]
    assert choices(await app(kezek, a["id"])) == [(1, "SHA-1", None), (2, "SHA-2", None)]


async def test_withdrawing_an_enrolled_application_keeps_the_enrolment_and_stops_the_waiting(kezek: Kezek) -> None:
    """Guards decision 9: the status stays ENROLLED, the enrolment stays, the choices waited for go."""
    a = await _enrolled_at_sha_2(kezek)
    withdrawn = await mutate(kezek, WITHDRAW, {"applicationId": a["id"]}, Kezek.citizen(OTHER_PARENT))
    assert withdrawn["errors"] == [] and withdrawn["application"]["status"] == "ENROLLED"
    after = await app(kezek, a["id"])
    # What is left is ranked from 1, as after a decline.
    assert after["status"] == "ENROLLED" and choices(after) == [(1, "SHA-2", None)]
    assert await enrolled_at(kezek, OTHER_CHILD) == "SHA-2"
    # It waits for nothing: a seat at SHA-1 is not offered to it, and its choices cannot change.
    await set_capacity(kezek, "SHA-1", 1)
    assert await offered_at(kezek, a["id"]) is None
    assert codes(await _change(kezek, a["id"], "SHA-1", "SHA-2")) == ["INVALID_STATE"]
    again = await mutate(kezek, WITHDRAW, {"applicationId": a["id"]}, Kezek.citizen(OTHER_PARENT))
    assert codes(again) == ["INVALID_STATE"]


# --- sibling groups ------------------------------------------------------------------------------


async def _link(kezek: Kezek, parent: str, apps: list[Any]) -> Any:
    return await mutate(kezek, LINK, {"applicationIds": [a["id"] for a in apps]}, Kezek.citizen(parent))


async def test_only_twins_or_larger_families_with_the_same_choices_may_link(kezek: Kezek) -> None:
    t0, t1, t2 = data.TWINS.children
    twins = [
        await queue(kezek, TWINS_PARENT, t0, ["SHA-1", "SHA-2"]),
        await queue(kezek, TWINS_PARENT, t1, ["SHA-1", "SHA-2"]),
        await queue(kezek, TWINS_PARENT, t2, ["SHA-2", "SHA-1"]),
    ]
    assert codes(await _link(kezek, TWINS_PARENT, twins)) == ["SIBLINGS_NOT_LINKABLE"]
    assert codes(await _link(kezek, PLAIN_PARENT, twins)) == ["NOT_FOUND"]  # not the stranger's children

    changed = await mutate(
        kezek,
        CHANGE,
        {"applicationId": twins[2]["id"], "kindergartenIds": await kezek.kgs("SHA-1", "SHA-2")},
        Kezek.citizen(TWINS_PARENT),
    )
    assert changed["errors"] == []
    linked = await _link(kezek, TWINS_PARENT, twins)
    assert linked["errors"] == []
    ids = {a["siblingGroupId"] for a in linked["applications"]}
    assert len(linked["applications"]) == 3 and len(ids) == 1 and None not in ids
    assert {(await app(kezek, a["id"]))["siblingGroupId"] for a in twins} == ids

    # Two children of a family of two, not twins, may not link.
    plain = [
        await queue(kezek, PLAIN_PARENT, PLAIN_2022, ["SHA-1", "SHA-2"]),
        await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1", "SHA-2"]),
    ]
    assert codes(await _link(kezek, PLAIN_PARENT, plain)) == ["SIBLINGS_NOT_LINKABLE"]
    assert (await app(kezek, plain[0]["id"]))["siblingGroupId"] is None

    # A family of four may link two of its children of different ages, once, and not an application to itself.
    large = [
        await queue(kezek, LARGE_PARENT, data.LARGE.children[0], ["SHA-1"]),
        await queue(kezek, LARGE_PARENT, data.LARGE.children[1], ["SHA-1"]),
    ]
    assert codes(await _link(kezek, LARGE_PARENT, [large[0], large[0]])) == ["INVALID_INPUT"]
    assert codes(await _link(kezek, LARGE_PARENT, large[:1])) == ["INVALID_INPUT"]
    assert (await _link(kezek, LARGE_PARENT, large))["errors"] == []
    assert codes(await _link(kezek, LARGE_PARENT, large)) == ["SIBLINGS_NOT_LINKABLE"]  # linked already
    # An application that no longer waits, or one for another language, cannot be linked either.
    eldest = await queue(kezek, LARGE_PARENT, data.LARGE.children[3], ["SHA-1"])
    for language in ("RU", "KK"):
        other_app = await queue(kezek, LARGE_PARENT, data.LARGE.children[2], ["SHA-1"], language=language)
        if language == "RU":
            withdrawn = await mutate(kezek, WITHDRAW, {"applicationId": other_app["id"]}, Kezek.citizen(LARGE_PARENT))
            assert withdrawn["errors"] == []
        assert codes(await _link(kezek, LARGE_PARENT, [other_app, eldest])) == ["SIBLINGS_NOT_LINKABLE"], language
    withdrawn = await mutate(kezek, WITHDRAW, {"applicationId": other_app["id"]}, Kezek.citizen(LARGE_PARENT))
    assert withdrawn["errors"] == []
    russian = await queue(kezek, LARGE_PARENT, data.LARGE.children[2], ["SHA-1"])
    assert (await _link(kezek, LARGE_PARENT, [russian, eldest]))["errors"] == []


async def _linked_twins(kezek: Kezek) -> list[Any]:
    twins = [await queue(kezek, TWINS_PARENT, c, ["SHA-1", "SHA-2"]) for c in data.TWINS.children]
    assert (await _link(kezek, TWINS_PARENT, twins))["errors"] == []
    return twins


async def test_a_sibling_group_is_offered_seats_only_all_together(kezek: Kezek) -> None:
    twins = await _linked_twins(kezek)
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])

    # A single seat is never held back for the group: it goes to the next child.
    await set_capacity(kezek, "SHA-1", 1)
    assert await offered_at(kezek, other["id"]) == "SHA-1"
    # Two free seats are not enough for three.
    g = await set_capacity(kezek, "SHA-1", 3)
    assert (g["held"], g["freeSeats"]) == (1, 2)
    assert [await status(kezek, a["id"]) for a in twins] == ["QUEUED"] * 3

    g = await set_capacity(kezek, "SHA-1", 4)
    assert (g["held"], g["freeSeats"]) == (4, 0)
    group_id = (await app(kezek, twins[0]["id"]))["siblingGroupId"]
    offers = [await offer_of(kezek, a["id"]) for a in twins]
    assert {o["siblingGroupId"] for o in offers} == {group_id}
    assert {o["kindergarten"]["externalId"] for o in offers} == {"SHA-1"}
    assert len({o["id"] for o in offers}) == 3

    # Confirming one confirms all, each with its own contract.
    await confirm(kezek, TWINS_PARENT, offers[1]["id"])
    after = [await app(kezek, a["id"]) for a in twins]
    assert [a["status"] for a in after] == ["ENROLLING"] * 3
    assert [a["offer"]["status"] for a in after] == ["CONFIRMED"] * 3
    contracts = {a["offer"]["contract"]["id"] for a in after}
    assert len(contracts) == 3
    # Each signs its own; an enrolled member leaves the group, the others stay linked.
    assert (await sign(kezek, TWINS_PARENT, after[0]["offer"]["contract"]))["errors"] == []
    assert [(await app(kezek, a["id"]))["siblingGroupId"] for a in twins] == [None, group_id, group_id]


async def test_declining_one_sibling_offer_declines_them_all(kezek: Kezek) -> None:
    twins = await _linked_twins(kezek)
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 3)
    offers = [await offer_of(kezek, a["id"]) for a in twins]

    declined = await mutate(kezek, DECLINE, {"offerId": offers[2]["id"]}, Kezek.citizen(TWINS_PARENT))
    assert declined["errors"] == []
    assert [await offer_status(kezek, o["id"]) for o in offers] == ["DECLINED"] * 3
    after = [await app(kezek, a["id"]) for a in twins]
    assert [a["status"] for a in after] == ["QUEUED"] * 3
    assert [choices(a) for a in after] == [[(1, "SHA-2", n)] for n in (1, 2, 3)]
    assert await offered_at(kezek, other["id"]) == "SHA-1"
    g = await group(kezek, "SHA-1")
    assert (g["held"], g["freeSeats"]) == (1, 2)


# --- the primary-to-general ratio ----------------------------------------------------------------


@pytest.fixture
async def ratio_kezek(db_url: str, tmp_path: Path) -> AsyncIterator[Kezek]:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": {"primaryRatio": [1, 1]}}))
    async with offers_app(db_url, policy) as k:
        yield k


async def test_a_primary_ratio_of_one_to_one_alternates_consecutive_seats(ratio_kezek: Kezek) -> None:
    kezek = ratio_kezek
    other = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    plain = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    large = await queue(kezek, LARGE_PARENT, LARGE_2023, ["SHA-1"])
    disabled = await queue(kezek, DISABLED_PARENT, DISABLED_2023, ["SHA-1"])
    assert [a["tier"] for a in (other, plain, large, disabled)] == ["GENERAL", "GENERAL", "PRIMARY", "PRIMARY"]

    order: list[str] = []
    for seats in range(1, 5):
        await set_capacity(kezek, "SHA-1", seats)
        got = [a["id"] for a in (other, plain, large, disabled) if await offered_at(kezek, a["id"])]
        assert len(got) == seats and set(order) < set(got)
        order += [i for i in got if i not in order]
        if seats == 1:
            # Positions ignore the ratio: the PRIMARY child is still ahead of the one offered next.
            positions = [(await app(kezek, a["id"]))["choices"][0]["position"] for a in (disabled, other, plain)]
            assert positions == [1, 2, 3]
    # Without the ratio both PRIMARY children would come first.
    assert order == [large["id"], other["id"], disabled["id"], plain["id"]]
