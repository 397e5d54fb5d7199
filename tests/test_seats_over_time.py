"""The one rule of seats over time (domain/seats_over_time.py) and its SQL spelling (migration 0006:
`group_seats`, `group_peak`, `group_least_free`) agree on random groups: capacities from a date, openings,
enrolments with and without a last day, live and ended offers."""

from __future__ import annotations

import datetime as dt
import random

from domain.seats_over_time import Hold, Timeline
from persistence.db import raw_connect

BASE = dt.date(2027, 6, 1)


def _day(rng: random.Random) -> dt.date:
    return BASE + dt.timedelta(days=rng.randint(0, 200))


async def test_the_sql_counts_seats_over_time_as_the_domain_does(db_url: str) -> None:
    rng = random.Random(20261201)
    conn = await raw_connect(db_url)
    try:
        group = await conn.fetchval("SELECT id FROM groups ORDER BY id LIMIT 1")
        kindergarten = await conn.fetchval("SELECT kindergarten_id FROM groups WHERE id = $1", group)
        for case in range(150):
            tx = conn.transaction()
            await tx.start()
            # Set-up rows written behind the triggers and foreign keys: only the functions are under test.
            await conn.execute("SET LOCAL session_replication_role = replica")
            capacity = rng.randint(0, 4)
            opens = _day(rng) if rng.random() < 0.3 else None
            scheduled = (rng.randint(0, 5), _day(rng)) if rng.random() < 0.4 else None
            await conn.execute(
                """UPDATE groups SET capacity = $2, opens_on = $3, scheduled_capacity = $4, scheduled_from = $5
                WHERE id = $1""",
                group,
                capacity,
                opens,
                scheduled[0] if scheduled else None,
                scheduled[1] if scheduled else None,
            )
            await conn.execute("DELETE FROM enrollments WHERE group_id = $1", group)
            await conn.execute("DELETE FROM offers WHERE group_id = $1", group)
            holds = []
            for n in range(rng.randint(0, 6)):
                since = _day(rng) - dt.timedelta(days=100)
                last = since + dt.timedelta(days=rng.randint(0, 250)) if rng.random() < 0.6 else None
                ended = rng.random() < 0.15
                await conn.execute(
                    """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, since, leaves_on, ended_at)
                    VALUES ($1, $2, $3, $4, $5, $6)""",
                    f"case-{case}-{n}",
                    group,
                    kindergarten,
                    since,
                    last,
                    dt.datetime.now(dt.UTC) if ended else None,
                )
                if not ended:
                    holds.append(Hold(since, last))
            for n in range(rng.randint(0, 3)):
                starts = _day(rng)
                status = rng.choice(["PENDING", "CONFIRMED", "DECLINED", "LAPSED"])
                await conn.execute(
                    """INSERT INTO offers (application_id, child_iin, kindergarten_id, group_id, status, tier_rank,
                        created_at, respond_by, starts_on)
                    VALUES (0, $1, $2, $3, $4, 2, now(), now(), $5)""",
                    f"offer-{case}-{n}",
                    kindergarten,
                    group,
                    status,
                    starts,
                )
                if status in ("PENDING", "CONFIRMED"):
                    holds.append(Hold(starts))
            timeline = Timeline(capacity, tuple(holds), opens, scheduled)
            for _ in range(4):
                day, until = _day(rng), _day(rng) if rng.random() < 0.5 else None
                free, free_from = await conn.fetchrow("SELECT * FROM group_seats($1, $2)", group, day)
                peak = await conn.fetchval("SELECT group_peak($1, $2, $3)", group, day, until)
                least = await conn.fetchval("SELECT group_least_free($1, $2, $3)", group, day, until)
                expected_least = timeline.least_free(day, until) if until is None or until > day else None
                assert (free, free_from, peak) == (
                    timeline.seats_from(day),
                    timeline.free_from(day),
                    timeline.peak(day, until),
                ), (case, day, until, timeline)
                if expected_least is not None:
                    assert least == expected_least, (case, day, until, timeline)
            await tx.rollback()
    finally:
        await conn.close()
