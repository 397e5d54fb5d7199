"""Each rule has one definition; where the database spells it too (SQL, indexes, triggers, constraints), these
tests hold the spelling to the definition, so that it cannot drift. And the one leave-the-queue path
announces every way out, ageing out included, to subscribers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from api.container import build_container
from domain import age
from domain.model import LIVE_OFFER_STATUSES, OfferStatus, PriorityTier
from persistence.db import raw_connect
from persistence.sql import LIVE, ORDER_COLUMNS, POSITIONS_SQL, order_by
from tests import data
from tests.conftest import Kezek, make_settings
from tests.test_subscriptions import (
    APP_UPDATES,
    application_probe,
    place,
    policy_file,
    serve,
    settle,
    submit,
    subscribe,
)

ROOT = Path(__file__).parent.parent


async def _fetch(db_url: str, sql: str) -> list[dict[str, object]]:
    conn = await raw_connect(db_url)
    try:
        return [dict(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def test_the_queue_order_is_its_dataclass_fields_in_order() -> None:
    assert ORDER_COLUMNS == ("tier_rank", "sibling_rank", "queue_date", "application_id")
    assert "(o.tier_rank, o.sibling_rank, o.queue_date, o.application_id)" in POSITIONS_SQL
    assert order_by("c") == "c.tier_rank, c.sibling_rank, c.queue_date, c.application_id"


async def test_the_position_index_sorts_by_the_queue_order(db_url: str) -> None:
    """The index the position count runs on (one queue, then the order) must sort exactly as QueueOrder."""
    rows = await _fetch(db_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'choices_queue_order'")
    columns = re.search(r"\((.*)\) WHERE", str(rows[0]["indexdef"]))
    assert columns is not None
    names = [c.strip() for c in columns.group(1).split(",")]
    assert names == ["kindergarten_id", "birth_year", "language", "group_type", *ORDER_COLUMNS]


async def test_live_offer_states_in_indexes_and_triggers_are_the_domains(db_url: str) -> None:
    live = {s.value for s in LIVE_OFFER_STATUSES}
    assert set(re.findall(r"'(\w+)'", LIVE)) == live
    indexes = await _fetch(
        db_url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'offers' AND indexdef LIKE '%status%'"
    )
    assert {r["indexname"] for r in indexes} >= {"one_live_offer_per_child", "offers_group_live", "offers_deadline"}
    for r in indexes:
        assert set(re.findall(r"'(\w+)'::text", str(r["indexdef"]))) == live, r
    trigger = await _fetch(db_url, "SELECT prosrc FROM pg_proc WHERE proname = 'offers_hold'")
    named = set(re.findall(r"'(\w+)'", str(trigger[0]["prosrc"]))) & {s.value for s in OfferStatus}
    assert named == live
    states = await _fetch(
        db_url, "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = 'offers_status_check'"
    )
    assert set(re.findall(r"'(\w+)'::text", str(states[0]["d"]))) == {s.value for s in OfferStatus}


async def test_tier_ranks_are_the_databases(db_url: str) -> None:
    checks = await _fetch(
        db_url,
        """SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint
        WHERE conname IN ('applications_tier_rank_check', 'offers_tier_rank_check')""",
    )
    ranks = sorted(t.rank for t in PriorityTier)
    assert ranks == list(range(len(PriorityTier)))
    for c in checks:
        assert f"tier_rank >= {ranks[0]}" in str(c["d"]) and f"tier_rank <= {ranks[-1]}" in str(c["d"]), c


def test_no_sql_outside_persistence_sql_spells_the_queue_order_or_the_live_states() -> None:
    """Hand-written copies are how the eight spellings of the queue order came about: only persistence/sql.py
    writes them; migrations define the tables (held to the rule by the tests above)."""
    order = re.compile(r"tier_rank\s*,\s*\w*\.?sibling_rank")
    live = re.compile(r"'PENDING'\s*,\s*'CONFIRMED'|'CONFIRMED'\s*,\s*'PENDING'")
    offenders = []
    for folder in ("persistence", "domain", "graph", "api"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "sql.py" or "migrations" in path.parts:
                continue
            text = path.read_text()
            if order.search(text) or live.search(text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_aged_out_cutoff_is_the_day_each_child_ages_out() -> None:
    """`latest_aged_out_birth_year` (what the worker's query uses) agrees with `aged_out_on` for every day."""
    day = dt.date(2025, 1, 1)
    while day < dt.date(2027, 12, 31):
        cutoff = age.latest_aged_out_birth_year(day)
        for year in range(cutoff - 2, cutoff + 3):
            born = dt.date(year, 6, 15)
            assert (year <= cutoff) == (age.aged_out_on(born) <= day), (day, year)
        day += dt.timedelta(days=1)


@pytest.mark.parametrize("months", [0, 1, 24, 36, 59])
def test_born_by_is_old_enough_for_sql(months: int) -> None:
    """`born_by` (birth dates for SQL) agrees with `old_enough` (the allocator's rule) on every pair of days."""
    first = dt.date(2020, 1, 1)
    for offset in range(0, 1200, 7):
        day = first + dt.timedelta(days=offset + 1000)
        for back in range(0, 1900, 3):
            born = day - dt.timedelta(days=back)
            assert age.old_enough(born, day, months) == (born <= age.born_by(day, months)), (born, day)


async def test_ageing_out_is_announced_to_the_applications_subscribers(db_url: str, tmp_path: Path) -> None:
    """The worker's ageing out goes the one leave-the-queue way: AGED_OUT, audited, told by SMS, and pushed
    as STATUS_CHANGED over the WebSocket to the owner."""
    family = data.OTHER
    parent, child = family.parents[0], family.children[0]
    async with serve(db_url, policy_file(tmp_path, minAdmissionAgeMonths=120)) as (a,):
        sha = await place(a, "SHA-1")
        app_id = await submit(a, parent, child, sha.kg)
        # The child's cohort reached school age: born in a year whose 1 September has passed.
        cohort = age.latest_aged_out_birth_year(dt.datetime.now(dt.UTC).date())
        conn = await raw_connect(db_url)
        try:
            await conn.execute("UPDATE applications SET birth_year = $1 WHERE id = $2", cohort, int(app_id))
        finally:
            await conn.close()
        async with subscribe(a, Kezek.citizen(parent), APP_UPDATES, {"id": app_id}) as owner:
            await settle(db_url, (owner, application_probe(app_id)))
            container = build_container(make_settings(), db_url)
            try:
                assert await container.queue.age_out() == 1
            finally:
                await container.aclose()
            event = await owner.event()
            assert event["kind"] == "STATUS_CHANGED" and event["application"]["status"] == "AGED_OUT"
    rows = await _fetch(
        db_url, f"SELECT action FROM audit_log WHERE application_id = {int(app_id)} ORDER BY id DESC LIMIT 1"
    )
    assert rows[0]["action"] == "AGED_OUT"
    kinds = await _fetch(db_url, f"SELECT kind FROM outbox WHERE application_id = {int(app_id)} ORDER BY id")
    assert kinds[-1]["kind"] == "APPLICATION_AGED_OUT"
