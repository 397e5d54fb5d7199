"""Races between separately committed transactions (docs/quality.md §2, §4).

Every concurrent actor goes through its own app instance (own container, engine and connection pool) on
the same database, so each mutation commits on its own; `check_invariants` then reads the whole database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from domain.timezone import ALMATY
from integrations.sandbox import sandbox_signature
from persistence.invariants import check_invariants
from tests import data
from tests.conftest import OFFERS_POLICY, SUBMIT, Kezek, open_kezek

KGS = ["SHA-1", "SHA-2", "SHA-3", "SHA-4", "SHA-5"]
GROUP = "G-2023-RU"  # the group of each of those kindergartens serving the 2023-born RU queue

# (parent, child) of every 2023-born child of these families: 20 children.
CHILDREN: list[tuple[str, str]] = [
    (family.parents[0], child)
    for family in [*data.POOL, data.TWINS, data.PLAIN, data.OTHER, data.LARGE, data.MILITARY, data.DISABLED]
    for child in family.children
    if child[:2] == "23"
]

GROUPS_OF = """query($id: ID!) { kindergarten(id: $id) {
  groups { id externalId capacity enrolled held freeSeats } } }"""

SET_CAPACITY = """mutation($input: SetGroupCapacityInput!) {
  setGroupCapacity(input: $input) { group { id capacity held freeSeats } errors { code message } } }"""

STATE = """query($id: ID!) { application(id: $id) {
  id status choices { rank kindergarten { externalId } }
  offer { id status upgrade group { id } contract { id documentHash } } } }"""

CONFIRM = """mutation($id: ID!) { confirmOffer(input: {offerId: $id}) {
  offer { id status } errors { code message } } }"""
DECLINE = """mutation($id: ID!) { declineOffer(input: {offerId: $id}) {
  offer { id status } errors { code message } } }"""
SIGN = """mutation($id: ID!, $sig: String!) { signContract(input: {contractId: $id, signature: $sig}) {
  offer { id status } errors { code message } } }"""
CHANGE = """mutation($id: ID!, $kgs: [ID!]!) { changeChoices(input: {applicationId: $id, kindergartenIds: $kgs}) {
  application { id status } errors { code message } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawApplication(input: {applicationId: $id, reason: "found another"}) {
  application { id status } errors { code message } } }"""
RESTORE = """mutation($id: ID!) { restoreApplication(input: {applicationId: $id}) {
  application { id status } errors { code message } } }"""

CHILD_SEATS = """query($iin: String!) { child(iin: $iin) {
  application { status offer { id status group { id } } }
  enrollment { group { id } } } }"""

# Errors a parent may meet when the world moved between reading and acting: never internal errors.
RACE_ERRORS = {"INVALID_STATE", "DEADLINE_PASSED"}


@contextlib.asynccontextmanager
async def instances(db_url: str, n: int) -> AsyncIterator[list[Kezek]]:
    """n independent app instances on one database, with the national offer policy."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                open_kezek(db_url, policy_file=OFFERS_POLICY, rate_person_burst=10_000.0, rate_person_per_second=1e4)
            )
            for _ in range(n)
        ]


def today(k: Kezek) -> dt.date:
    return k.clock.now().astimezone(ALMATY).date()


async def groups_2023(k: Kezek) -> dict[str, dict[str, Any]]:
    """The G-2023-RU group of every kindergarten in KGS, as the API shows it."""
    found = {}
    for kg in KGS:
        got = await k.gql(GROUPS_OF, {"id": await k.kg(kg)})
        found[kg] = next(g for g in got["kindergarten"]["groups"] if g["externalId"] == GROUP)
    return found


async def set_capacity(k: Kezek, token: str, group_id: str, capacity: int) -> dict[str, Any]:
    body = await k.post(SET_CAPACITY, {"input": {"groupId": group_id, "capacity": capacity}}, token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["setGroupCapacity"]
    return payload


async def test_many_concurrent_changes_keep_every_invariant(db_url: str) -> None:
    rng = random.Random(20261126)
    async with instances(db_url, 5) as apps:
        setup = apps[0]
        groups = await groups_2023(setup)
        for kg, g in groups.items():
            assert (await set_capacity(setup, Kezek.staff(kg), g["id"], 0))["errors"] == []
        parent_of = dict((c, p) for p, c in CHILDREN)
        app_of: dict[str, str] = {}
        for parent, child in CHILDREN:
            choices = rng.sample(KGS, rng.choice([2, 3]))
            payload = await setup.submit(parent, child, choices)
            assert payload["errors"] == [] and payload["application"]["status"] == "QUEUED"
            app_of[child] = payload["application"]["id"]
        assert len(app_of) == 20

        done: Counter[str] = Counter()
        refused: Counter[str] = Counter()

        def act(name: str, query: str, variables: dict[str, Any], token: str) -> Callable[[Kezek], Awaitable[None]]:
            async def run(k: Kezek) -> None:
                body = await k.post(query, variables, token)
                assert "errors" not in body, (name, body)  # no deadlock, no internal error
                codes = [e["code"] for e in next(iter(body["data"].values()))["errors"]]
                assert set(codes) <= RACE_ERRORS, (name, codes)
                (refused if codes else done)[name] += 1

            return run

        async def worker(k: Kezek) -> None:
            await k.worker_pass()
            done["worker"] += 1

        withdrawn = 0
        for round_no in range(5):
            if round_no == 3:
                # Every instance's clock moves together: unanswered offers are now past their deadline,
                # and the worker pass of this round lapses them while parents and staff act.
                for k in apps:
                    k.clock.advance(dt.timedelta(days=7))
            states = await asyncio.gather(
                *(
                    apps[n % len(apps)].gql(STATE, {"id": app_of[child]}, Kezek.citizen(parent_of[child]))
                    for n, child in enumerate(app_of)
                )
            )
            ops: list[Callable[[Kezek], Awaitable[None]]] = [worker]
            capacities = await groups_2023(setup)
            for kg in rng.sample(KGS, 3):
                raised = capacities[kg]["capacity"] + rng.choice([1, 2])
                ops.append(
                    act(
                        "raise",
                        SET_CAPACITY,
                        {"input": {"groupId": groups[kg]["id"], "capacity": raised}},
                        Kezek.staff(kg),
                    )
                )
            confirmed_one = declined_one = False
            for child, state in zip(app_of, states, strict=True):
                app = state["application"]
                token = Kezek.citizen(parent_of[child])
                offer = app["offer"]
                r = rng.random()
                if offer and offer["status"] == "PENDING":
                    if not confirmed_one or r < 0.5:
                        confirmed_one = True
                        ops.append(act("confirm", CONFIRM, {"id": offer["id"]}, token))
                    elif not declined_one or r < 0.7:
                        declined_one = True
                        ops.append(act("decline", DECLINE, {"id": offer["id"]}, token))
                elif offer and offer["status"] == "CONFIRMED" and r < 0.8:
                    contract = offer["contract"]
                    signature = sandbox_signature(parent_of[child], contract["documentHash"])
                    ops.append(act("sign", SIGN, {"id": contract["id"], "sig": signature}, token))
                elif app["status"] == "QUEUED" and withdrawn < round_no and r < 0.15:
                    withdrawn += 1
                    ops.append(act("withdraw", WITHDRAW, {"id": app["id"]}, token))
                elif app["status"] == "QUEUED" and r < 0.5:
                    kgs = await setup.kgs(*rng.sample(KGS, rng.choice([1, 2, 3])))
                    ops.append(act("change", CHANGE, {"id": app["id"], "kgs": kgs}, token))
                elif app["status"] == "INACTIVE":
                    ops.append(act("restore", RESTORE, {"id": app["id"]}, token))
            rng.shuffle(ops)
            await asyncio.gather(*(op(apps[n % len(apps)]) for n, op in enumerate(ops)))

        await apps[1].worker_pass()
        assert await check_invariants(apps[2].container.engine, today(apps[2])) == []

        # Every kind of change happened, several concurrently, and capacity raises were never refused.
        assert refused["raise"] == 0 and done["raise"] == 15
        assert done["confirm"] >= 2 and done["decline"] >= 1 and done["change"] >= 2 and done["worker"] == 5
        assert done["sign"] >= 1 and done["withdraw"] >= 1

        # Seen through the API: no group over capacity, and every held seat is exactly one child's live offer.
        final = await groups_2023(apps[3])
        ministry = Kezek.ministry()
        seats = await asyncio.gather(
            *(apps[n % len(apps)].gql(CHILD_SEATS, {"iin": c}, ministry) for n, c in enumerate(app_of))
        )
        offers = [s["child"]["application"]["offer"] for s in seats if s["child"]["application"]["offer"]]
        enrolled = Counter(s["child"]["enrollment"]["group"]["id"] for s in seats if s["child"]["enrollment"])
        assert len({o["id"] for o in offers}) == len(offers)
        held = Counter(o["group"]["id"] for o in offers)
        for g in final.values():
            assert g["freeSeats"] >= 0 and g["enrolled"] + g["held"] <= g["capacity"], g
            assert g["held"] == held[g["id"]], g
            assert g["enrolled"] == enrolled[g["id"]], g
        live = await setup.sql(
            "SELECT child_iin, count(*) AS n FROM offers WHERE status IN ('PENDING','CONFIRMED') "
            "GROUP BY child_iin HAVING count(*) > 1"
        )
        assert live == []
        assert sum(held.values()) + sum(enrolled.values()) > 0


async def test_two_concurrent_raises_of_one_group_offer_two_seats_to_two_children(db_url: str) -> None:
    """Two staff members each add a seat to a full group at the same moment (one sets 0→1, the other
    1→2): whichever commits first, the group ends with 2 seats offered to 2 different children."""
    pairs = [
        (data.OTHER, data.MILITARY),
        (data.DISABLED, data.PLAIN),
        (data.TWINS, data.LARGE),
    ]
    async with instances(db_url, 2) as (a, b):
        groups = await groups_2023(a)
        for n, (kg, (f1, f2)) in enumerate(zip(["SHA-1", "SHA-2", "SHA-3"], pairs, strict=True)):
            gid = groups[kg]["id"]
            assert (await set_capacity(a, Kezek.staff(kg), gid, 0))["errors"] == []
            kids = {}
            for family in (f1, f2):
                child = next(c for c in family.children if c[:2] == "23")
                payload = await a.submit(family.parents[0], child, [kg])
                assert payload["application"]["status"] == "QUEUED"
                kids[child] = payload["application"]["id"]
            first, second = (a, b) if n % 2 == 0 else (b, a)
            one, two = await asyncio.gather(
                set_capacity(first, Kezek.staff(kg), gid, 1),
                set_capacity(second, Kezek.operator(district=data.SHAKHTINSK), gid, 2),
            )
            assert two["errors"] == [] and two["group"]["capacity"] == 2
            # Raising to 1 after the group already holds 2 offers is refused; before, it succeeds.
            assert [e["code"] for e in one["errors"]] in ([], ["CAPACITY_BELOW_OCCUPIED"])

            rows = await a.sql(
                "SELECT child_iin, status FROM offers o JOIN groups g ON g.id = o.group_id "
                "WHERE g.id = $1 ORDER BY o.id",
                int(gid),
            )
            assert sorted(r["child_iin"] for r in rows) == sorted(kids)
            assert {r["status"] for r in rows} == {"PENDING"}
            after = (await groups_2023(b))[kg]
            assert (after["capacity"], after["held"], after["freeSeats"]) == (2, 2, 0)
            for child, app_id in kids.items():
                state = await b.gql(STATE, {"id": app_id}, Kezek.ministry())
                assert state["application"]["status"] == "OFFERED", child
                assert state["application"]["offer"]["group"]["id"] == gid
        assert await check_invariants(a.container.engine, today(a)) == []


async def test_two_concurrent_submissions_for_one_child_make_one_application(db_url: str) -> None:
    cases = [
        (data.PLAIN.parents[0], "egov", data.PLAIN.parents[1], "kaspi", data.PLAIN.children[1]),
        (data.OTHER.parents[0], "halyk", data.OTHER.parents[1], "egov", data.OTHER.children[0]),
        (data.TWINS.parents[1], "kaspi", data.TWINS.parents[0], "halyk", data.TWINS.children[2]),
    ]
    async with instances(db_url, 2) as (a, b):
        for p1, ch1, p2, ch2, child in cases:
            variables = {
                "input": {"childIin": child, "kindergartenIds": await a.kgs("SHA-1", "SHA-2"), "language": "RU"}
            }
            bodies = await asyncio.gather(
                a.post(SUBMIT, variables, Kezek.citizen(p1, ch1)),
                b.post(SUBMIT, variables, Kezek.citizen(p2, ch2)),
            )
            payloads = []
            for body in bodies:
                assert "errors" not in body, body
                payloads.append(body["data"]["submitApplication"])
            won = [p for p in payloads if p["application"] is not None]
            lost = [p for p in payloads if p["application"] is None]
            assert len(won) == 1 and len(lost) == 1, payloads
            assert won[0]["errors"] == []
            assert [e["code"] for e in lost[0]["errors"]] == ["DUPLICATE_APPLICATION"]
            winner_channel = ch1 if payloads[0] is won[0] else ch2
            assert won[0]["application"]["channel"] == winner_channel

            apps = await a.sql("SELECT id, channel FROM applications WHERE child_iin = $1", child)
            assert [(str(r["id"]), r["channel"]) for r in apps] == [(won[0]["application"]["id"], winner_channel)]
            # The groups have free seats: the one application got the one offer.
            offers = await a.sql("SELECT status FROM offers WHERE child_iin = $1", child)
            assert [r["status"] for r in offers] == ["PENDING"]
        assert await check_invariants(b.container.engine, today(b)) == []


# --- check_invariants itself: it must see corrupted data ------------------------------------------------


async def _queued(k: Kezek, family: data.Family, kgs: list[str]) -> tuple[str, dict[str, Any]]:
    child = next(c for c in family.children if c[:2] == "23")
    payload = await k.submit(family.parents[0], child, kgs)
    assert payload["application"]["status"] == "QUEUED"
    return child, payload["application"]


async def _group_id(k: Kezek, kg: str) -> int:
    rows = await k.sql(
        "SELECT g.id FROM groups g JOIN kindergartens k ON k.id = g.kindergarten_id "
        "WHERE k.external_id = $1 AND g.external_id = $2",
        kg,
        GROUP,
    )
    return int(rows[0]["id"])


async def _insert_offer(k: Kezek, app_id: str, child: str, kg: str, status: str = "PENDING") -> int:
    gid = await _group_id(k, kg)
    rows = await k.sql(
        """INSERT INTO offers (application_id, child_iin, kindergarten_id, group_id, status, tier_rank,
            created_at, respond_by, starts_on)
        SELECT $1, $2, g.kindergarten_id, g.id, $3, 2, now(), now() + interval '2 days', current_date
        FROM groups g WHERE g.id = $4
        RETURNING id""",
        int(app_id),
        child,
        status,
        gid,
    )
    return int(rows[0]["id"])


async def test_invariants_hold_on_a_queue_and_see_a_free_seat_that_is_wanted(kezek: Kezek) -> None:
    # The queue-only policy makes no offers (admission age 120 months): by that rule nothing is wrong...
    child, app = await _queued(kezek, data.OTHER, ["SHA-1", "SHA-2"])
    engine, day = kezek.container.engine, today(kezek)
    assert await check_invariants(engine, day, min_age_months=120) == []
    # ...but at 24 months the same child is a candidate for two free seats nobody offered.
    found = await check_invariants(engine, day, min_age_months=24)
    assert len(found) == 2, found
    for kg, line in zip(["SHA-1", "SHA-2"], found, strict=True):
        assert f"group {kg}/{GROUP}" in line and "20 free seat(s)" in line and app["number"] in line, line
        assert child not in line and child[:2] + "*" * 9 + child[-1] in line  # the IIN only masked
    # A start date still to come, and the child is no candidate.
    await kezek.sql(
        "UPDATE applications SET desired_start_date = $1 WHERE id = $2", day + dt.timedelta(days=1), int(app["id"])
    )
    assert await check_invariants(engine, day, min_age_months=24) == []


async def test_invariants_see_counters_that_drifted(kezek: Kezek) -> None:
    gid = await _group_id(kezek, "SHA-1")
    await kezek.sql("UPDATE groups SET held = 5 WHERE id = $1", gid)
    found = await check_invariants(kezek.container.engine, today(kezek))
    assert found == [f"group SHA-1/{GROUP} (id {gid}): held is 5 but 0 live offers"]

    await kezek.sql("UPDATE groups SET held = 0, enrolled = 3 WHERE id = $1", gid)
    found = await check_invariants(kezek.container.engine, today(kezek))
    assert found == [f"group SHA-1/{GROUP} (id {gid}): enrolled is 3 but 0 enrolments in force"]

    await kezek.sql("UPDATE groups SET enrolled = 0, free_seats = 7 WHERE id = $1", gid)
    found = await check_invariants(kezek.container.engine, today(kezek))
    assert found == [f"group SHA-1/{GROUP} (id {gid}): free seats is 7 but 20 by what it holds"]

    # Over capacity on a day to come: a child enrolled from next month in a group of none, behind the CHECK.
    await kezek.sql("ALTER TABLE groups DROP CONSTRAINT group_not_over_capacity")
    await kezek.sql("UPDATE groups SET capacity = 0 WHERE id = $1", gid)
    await kezek.sql(
        """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, since)
        SELECT 'enrolled-before-kezek', g.id, g.kindergarten_id, current_date + 30 FROM groups g WHERE g.id = $1""",
        gid,
    )
    found = await check_invariants(kezek.container.engine, today(kezek))
    assert found == [f"group SHA-1/{GROUP} (id {gid}): 1 more seat(s) taken than it has on a day to come"]


async def test_invariants_see_an_offer_written_behind_the_triggers(kezek: Kezek) -> None:
    child, app = await _queued(kezek, data.MILITARY, ["SHA-1"])
    await kezek.sql("ALTER TABLE offers DISABLE TRIGGER offers_hold")
    offer_id = await _insert_offer(kezek, app["id"], child, "SHA-1")
    gid = await _group_id(kezek, "SHA-1")
    found = await check_invariants(kezek.container.engine, today(kezek), min_age_months=120)
    assert sorted(found) == sorted(
        [
            f"group SHA-1/{GROUP} (id {gid}): held is 0 but 1 live offers",
            f"group SHA-1/{GROUP} (id {gid}): free seats is 20 but 19 by what it holds",
            f"offer {offer_id} (PENDING): application {app['number']} is QUEUED, not OFFERED",
            f"offer {offer_id} (PENDING): application {app['number']} does not hold its choice of the offer's "
            "kindergarten",
        ]
    )


async def test_invariants_see_two_live_offers_and_two_enrolments_of_one_child(kezek: Kezek) -> None:
    child, app = await _queued(kezek, data.DISABLED, ["SHA-1", "SHA-2"])
    await kezek.sql("DROP INDEX one_live_offer_per_child")
    await kezek.sql("ALTER TABLE enrollments DISABLE TRIGGER enrollments_one_at_a_time")
    first = await _insert_offer(kezek, app["id"], child, "SHA-1")
    second = await _insert_offer(kezek, app["id"], child, "SHA-2", status="CONFIRMED")
    for kg in ("SHA-1", "SHA-2"):
        await kezek.sql(
            """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, application_id, since)
            SELECT $1, g.id, g.kindergarten_id, $2, current_date FROM groups g WHERE g.id = $3""",
            child,
            int(app["id"]),
            await _group_id(kezek, kg),
        )
    found = await check_invariants(kezek.container.engine, today(kezek), min_age_months=120)
    masked = child[:2] + "*" * 9 + child[-1]
    assert f"child {masked}: 2 live offers ({first}, {second})" in found
    assert any(line.startswith(f"child {masked}: enrolled in two groups on the same days") for line in found), found
    assert f"offer {second} (CONFIRMED): application {app['number']} is QUEUED, not ENROLLING" in found
    assert not any(child in line for line in found)
    # The triggers kept the counters: no group line.
    assert not any(line.startswith("group ") for line in found), found


async def test_invariants_see_an_offer_in_no_state_and_a_status_without_its_offer(kezek: Kezek) -> None:
    child, app = await _queued(kezek, data.LARGE, ["SHA-1"])
    await kezek.sql("ALTER TABLE offers DROP CONSTRAINT offers_status_check")
    offer_id = await _insert_offer(kezek, app["id"], child, "SHA-1", status="MISLAID")
    await kezek.sql("UPDATE applications SET status = 'ENROLLING' WHERE id = $1", int(app["id"]))
    found = await check_invariants(kezek.container.engine, today(kezek), min_age_months=120)
    assert sorted(found) == sorted(
        [
            f"offer {offer_id}: status 'MISLAID' is none of the seven offer states",
            f"application {app['number']} is ENROLLING without a CONFIRMED offer",
        ]
    )
