"""The demo database (api/seeding.py, `kezek seed --demo`, `kezek serve --demo`): seeded only when empty, so a
restart keeps every change; `kezek seed --demo --reset` brings the demo back (development only); and the pilot
towns have real queues: hundreds waiting, the demo parent's children at positions in the tens."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from api import demo
from domain.timezone import local_date
from integrations.sandbox import sandbox_signature
from persistence.db import database_name, drop_database, raw_connect, with_database
from persistence.invariants import check_invariants
from tests.conftest import OFFERS_POLICY, Kezek, open_kezek
from tests.served import clean_env, kezek_serve

ROOT = Path(__file__).parent.parent
KEZEK = [sys.executable, "-m", "api.cli"]
SHAKHTINSK_REGION, SKO_REGION = "350000000", "590000000"

# What a restart must keep and a reset must bring back: every row that seeding or the API writes, without times.
SNAPSHOT = {
    "groups": "SELECT id, capacity, enrolled, held FROM groups ORDER BY id",
    "offers": "SELECT id, status, group_id, application_id FROM offers ORDER BY id",
    "enrollments": "SELECT id, child_iin, group_id, ended_at IS NULL AS current FROM enrollments ORDER BY id",
    "applications": "SELECT id, number, child_iin, status, tier_rank, active FROM applications ORDER BY id",
    "choices": "SELECT application_id, kindergarten_id, rank FROM choices ORDER BY application_id, rank",
    "claims": "SELECT id, application_id, category, status FROM priority_claims ORDER BY id",
    "contracts": "SELECT count(*) FROM contracts",
    "audit": "SELECT count(*) FROM audit_log",
    "outbox": "SELECT count(*) FROM outbox",
    "places": "SELECT (SELECT count(*) FROM regions), (SELECT count(*) FROM districts), count(*) FROM kindergartens",
    "sandbox": "SELECT (SELECT count(*) FROM sandbox_families), (SELECT count(*) FROM sandbox_benefits), count(*) "
    "FROM sandbox_persons",
}


async def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = await raw_connect(url)
    try:
        return {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in SNAPSHOT.items()}
    finally:
        await conn.close()


def kezek(url: str, *args: str, profile: str = "development", check: bool = True) -> subprocess.CompletedProcess[str]:
    env = clean_env(KEZEK_PROFILE=profile, KEZEK_DATABASE_URL=url, KEZEK_LOG_LEVEL="WARNING")
    done = subprocess.run([*KEZEK, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def seeded(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(counts, dict)
    return counts


@pytest.fixture(scope="module")
def demo_template(pg_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """A database seeded once by `kezek seed --demo`, cloned for each test; its seeding's counts."""
    name = f"demo_{uuid.uuid4().hex[:12]}"
    url = with_database(pg_url, name)
    asyncio.run(_create(pg_url, f'CREATE DATABASE "{name}"'))
    try:
        yield url, seeded(kezek(url, "seed", "--demo"))
    finally:
        asyncio.run(drop_database(pg_url, name))


async def _create(pg_url: str, statement: str) -> None:
    conn = await raw_connect(pg_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
async def demo_db(pg_url: str, demo_template: tuple[str, dict[str, Any]]) -> AsyncIterator[str]:
    template = database_name(demo_template[0])
    name = f"demo_{uuid.uuid4().hex[:12]}"
    await _create(pg_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield with_database(pg_url, name)
    finally:
        await drop_database(pg_url, name)


GROUPS = "{ viewer { kindergarten { groups { id birthYearFrom birthYearTo language groupType capacity freeSeats } } } }"
SET_CAPACITY = """mutation($g: ID!, $c: Int!) {
  setGroupCapacity(input: {groupId: $g, capacity: $c, reason: "new room"}) { group { capacity held freeSeats }
  errors { code } } }"""
OFFER = "{ myChildren { iin application { offer { id status contract { id documentHash } } } } }"
CONFIRM = """mutation($o: ID!) { confirmOffer(input: {offerId: $o}) { offer { contract { id documentHash } }
  errors { code } } }"""
SIGN = """mutation($c: ID!, $s: String!) { signContract(input: {contractId: $c, signature: $s}) { offer { status }
  errors { code } } }"""
SUITABLE = """query($d: String!, $y: Int!) {
  kindergartens(first: 4, filter: {districtCode: $d, birthYear: $y, language: RU, groupType: GENERAL}) {
    edges { node { id } } } }"""
SUBMIT = """mutation($i: SubmitApplicationInput!) { submitApplication(input: $i) { application { choices { position } }
  errors { code } } }"""
STATS = "query($r: String!, $d: String) { areaStats(regionCode: $r, districtCode: $d) { waiting freeSeats } }"


async def raise_capacity_and_sign(k: Kezek, kindergarten: str, year: int) -> str:
    """Staff raise a capacity by one: the seat is offered to a waiting child, whose parent confirms and signs.
    The child's IIN."""
    staff = k.staff(kindergarten)
    groups = (await k.gql(GROUPS, token=staff))["viewer"]["kindergarten"]["groups"]
    group = next(g for g in groups if g["birthYearFrom"] <= year <= g["birthYearTo"] and g["language"] == "RU")
    raised = (await k.gql(SET_CAPACITY, {"g": group["id"], "c": group["capacity"] + 1}, staff))["setGroupCapacity"]
    assert raised["errors"] == [] and raised["group"]["held"] == 1 and raised["group"]["freeSeats"] == 0, raised
    [offered] = await k.sql(
        "SELECT a.child_iin, f.representative_iin FROM offers o JOIN applications a ON a.id = o.application_id "
        "JOIN sandbox_families f ON f.child_iin = a.child_iin WHERE o.group_id = $1 AND o.status = 'PENDING' "
        "ORDER BY f.representative_iin LIMIT 1",
        int(group["id"]),
    )
    parent = k.citizen(offered["representative_iin"])
    children = (await k.gql(OFFER, token=parent))["myChildren"]
    offer = next(c["application"]["offer"] for c in children if c["iin"] == offered["child_iin"])
    confirmed = (await k.gql(CONFIRM, {"o": offer["id"]}, parent))["confirmOffer"]
    contract = confirmed["offer"]["contract"]
    signature = sandbox_signature(offered["representative_iin"], contract["documentHash"])
    signed = (await k.gql(SIGN, {"c": contract["id"], "s": signature}, parent))["signContract"]
    assert signed["errors"] == [] and signed["offer"]["status"] == "ENROLLED", signed
    return str(offered["child_iin"])


async def test_seeding_fills_only_an_empty_database_and_reset_brings_the_demo_back(
    demo_db: str, demo_template: tuple[str, dict[str, Any]]
) -> None:
    counts = demo_template[1]
    assert counts["seeded"] is True and counts["applications"]["refused"] == 0, counts
    assert counts["applications"]["submitted"] == len(demo.demo_applications()), counts
    fresh = await snapshot(demo_db)

    async with open_kezek(demo_db, policy_file=OFFERS_POLICY) as k:
        enrolled = await raise_capacity_and_sign(k, "KZ-SHA-DS-002", 2022)
        other = k.staff("KZ-PET-DS-036", channel="akimat-sko")
        group = (await k.gql(GROUPS, token=other))["viewer"]["kindergarten"]["groups"][0]
        assert (await k.gql(SET_CAPACITY, {"g": group["id"], "c": group["capacity"] + 3}, other))["setGroupCapacity"][
            "errors"
        ] == []
        assert await check_invariants(k.container.engine, local_date(k.clock.now())) == []
    changed = await snapshot(demo_db)
    assert changed != fresh

    # Seeding again, and serving with --demo again, leave every change as it is.
    again = kezek(demo_db, "seed", "--demo")
    assert seeded(again) == {"seeded": False} and "--reset" in again.stderr
    env = clean_env(KEZEK_PROFILE="development", KEZEK_DATABASE_URL=demo_db, KEZEK_LOG_LEVEL="WARNING")
    with kezek_serve(KEZEK, env, ROOT, args=["--demo"]) as base:
        assert base
    assert await snapshot(demo_db) == changed

    # The reset drops the database and seeds the demo afresh: as it was, the signed child waiting again.
    reset = kezek(demo_db, "seed", "--demo", "--reset")
    assert seeded(reset)["seeded"] is True
    assert await snapshot(demo_db) == fresh
    conn = await raw_connect(demo_db)
    try:
        assert await conn.fetchval("SELECT status FROM applications WHERE child_iin = $1", enrolled) == "QUEUED"
    finally:
        await conn.close()


async def test_reset_is_refused_in_production_and_while_a_server_holds_the_database(demo_db: str) -> None:
    async with open_kezek(demo_db, policy_file=OFFERS_POLICY) as k:
        staff = k.staff("KZ-SHA-DS-002")
        group = (await k.gql(GROUPS, token=staff))["viewer"]["kindergarten"]["groups"][0]
        await k.gql(SET_CAPACITY, {"g": group["id"], "c": group["capacity"] + 1}, staff)
    changed = await snapshot(demo_db)

    refused = kezek(demo_db, "seed", "--demo", "--reset", profile="production", check=False)
    assert refused.returncode == 2 and "development profile only" in refused.stderr, refused.stderr
    assert await snapshot(demo_db) == changed

    holder = await raw_connect(demo_db)  # as a running server holds it
    try:
        busy = kezek(demo_db, "seed", "--demo", "--reset", check=False)
    finally:
        await holder.close()
    assert busy.returncode == 2 and "in use" in busy.stderr, busy.stderr
    assert await snapshot(demo_db) == changed


async def test_the_pilot_towns_have_real_queues(demo_db: str) -> None:
    """Hundreds wait in each town, and the demo parent's children, applying as the README does (the first four
    kindergartens that suit them), stand in the tens everywhere; claims wait for the operators."""
    async with open_kezek(demo_db, policy_file=OFFERS_POLICY) as k:
        for region, district in ((SHAKHTINSK_REGION, demo.SHAKHTINSK), (SKO_REGION, demo.PETROPAVLOVSK)):
            stats = (await k.gql(STATS, {"r": region, "d": district}, k.operator(region)))["areaStats"]
            assert stats["waiting"] >= 500 and stats["freeSeats"] == 0, stats
        claims = await k.gql("{ priorityClaimsToVerify { edges { node { id } } } }", token=k.operator(SKO_REGION))
        assert claims["priorityClaimsToVerify"]["edges"]

        parent = k.citizen(demo.DEMO_PARENT_IIN)
        positions = []
        for child in demo.DEMO_PARENT_CHILD_IINS:
            year = int(f"20{child[:2]}")
            found = (await k.gql(SUITABLE, {"d": demo.SHAKHTINSK, "y": year}))["kindergartens"]["edges"]
            variables = {
                "i": {"childIin": child, "kindergartenIds": [e["node"]["id"] for e in found], "language": "RU"}
            }
            submitted = (await k.gql(SUBMIT, variables, parent))["submitApplication"]
            assert submitted["errors"] == [], submitted
            positions += [c["position"] for c in submitted["application"]["choices"]]
        assert len(positions) == 8 and all(10 <= p <= 99 for p in positions), positions


CREATE_RUN = """mutation($r: String!, $y: Int!) { createIntakeRun(input: {regionCode: $r, schoolYear: $y}) {
  intakeRun { status seats offers seatsLeftFree verdict { stable envyPairs waste } } errors { code } } }"""


async def test_the_demo_has_a_coming_school_year_to_run(
    demo_db: str, demo_template: tuple[str, dict[str, Any]]
) -> None:
    """A leaving cohort, groups growing and opening on 1 September: the pilot towns' operators can draft the
    intake (docs/product.md §10) and read a run that offers seats."""
    planned = demo_template[1]["next_school_year"]
    assert planned["leaving"] > 100 and planned["capacities_from_september"] > 0 and planned["groups_opening"] == 2
    async with open_kezek(demo_db, policy_file=OFFERS_POLICY) as k:
        year = int((await k.sql("SELECT extract(year FROM min(scheduled_from))::int AS y FROM groups"))[0]["y"])
        for region in (SHAKHTINSK_REGION, SKO_REGION):
            run = (await k.gql(CREATE_RUN, {"r": region, "y": year}, k.operator(region)))["createIntakeRun"]
            assert run["errors"] == [], run
            drafted = run["intakeRun"]
            assert drafted["status"] == "DRAFT" and drafted["seats"] > 50 and drafted["offers"] > 50, drafted
            assert drafted["verdict"] == {"stable": True, "envyPairs": 0, "waste": 0}
