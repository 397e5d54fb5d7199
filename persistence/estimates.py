"""The waiting estimate's facts (docs/product.md §3 "Waiting estimate", domain/estimate.py): the worker counts every
queue's movement once a day into `queue_movement` (migration 0007); the status query reads a choice's standing and
its queue's row in one statement (`Reader.standings`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import age, school_year
from domain.estimate import MONTHS, WINDOW_DAYS, ChoiceStanding, QueueMovement
from domain.model import ApplicationStatus, PriorityTier
from domain.timezone import ALMATY, at_local
from persistence.sql import HOLDING

# Offers of the window by queue, tier and month; the seats planned for each queue; both as one row per queue.
_COUNT = """
WITH made AS (
    SELECT o.kindergarten_id, a.birth_year, a.language, a.group_type, o.tier_rank,
        (CAST(:today AS date) - CAST(o.created_at AT TIME ZONE :tz AS date)) * :months / :window AS month
    FROM offers o JOIN applications a ON a.id = o.application_id
    WHERE o.intake_run_id IS NULL AND o.created_at >= :since AND o.created_at < :until
), counted AS (
    SELECT kindergarten_id, birth_year, language, group_type, tier_rank, month, count(*)::int AS n
    FROM made GROUP BY 1, 2, 3, 4, 5, 6
), planned AS (
    -- Seats from the next 1 September beyond today's can only come from a departure, a scheduled capacity or an
    -- opening before it: other groups are not counted. A group's seats are shared among its birth years still
    -- waiting by then.
    SELECT g.kindergarten_id, y AS birth_year, g.language, g.group_type,
        sum(CAST(s.seats AS real) / (g.birth_year_to - l.first + 1)) AS seats
    FROM groups g
    CROSS JOIN LATERAL (SELECT greatest(g.birth_year_from, :first_year) AS first) l
    CROSS JOIN LATERAL (SELECT (group_seats(g.id, :next_year)).free - g.free_seats AS seats) s
    CROSS JOIN generate_series(l.first, g.birth_year_to) AS y
    WHERE g.birth_year_to >= :first_year
      AND (EXISTS (SELECT 1 FROM enrollments e WHERE e.group_id = g.id AND e.ended_at IS NULL
                   AND e.leaves_on < :next_year)
           OR g.scheduled_from <= :next_year OR (g.opens_on > :today AND g.opens_on <= :next_year))
      AND s.seats > 0
    GROUP BY 1, 2, 3, 4
), queues AS (
    SELECT kindergarten_id, birth_year, language, group_type FROM counted
    UNION SELECT kindergarten_id, birth_year, language, group_type FROM planned
), by_tier AS (
    SELECT q.*, t, array_agg(COALESCE(c.n, 0) ORDER BY m) AS months
    FROM queues q CROSS JOIN generate_series(0, :tiers - 1) AS t CROSS JOIN generate_series(0, :months - 1) AS m
    LEFT JOIN counted c ON c.kindergarten_id = q.kindergarten_id AND c.birth_year = q.birth_year
        AND c.language = q.language AND c.group_type = q.group_type AND c.tier_rank = t AND c.month = m
    GROUP BY 1, 2, 3, 4, 5
)
INSERT INTO queue_movement (kindergarten_id, birth_year, language, group_type, offers, planned_seats)
SELECT r.kindergarten_id, r.birth_year, r.language, r.group_type, array_agg(r.months ORDER BY r.t),
    COALESCE(min(p.seats), 0)
FROM by_tier r LEFT JOIN planned p ON p.kindergarten_id = r.kindergarten_id AND p.birth_year = r.birth_year
    AND p.language = r.language AND p.group_type = r.group_type
GROUP BY 1, 2, 3, 4
"""


async def count_movement(engine: AsyncEngine, today: dt.date) -> int | None:
    """Counts every queue's movement as of `today` (the application's clock), once a day: the number of queues
    counted, or None when the day is counted already (or another worker is counting it)."""
    year = school_year.school_year_of(today) + 1
    async with engine.begin() as conn:
        last = (
            await conn.execute(text("SELECT counted_on FROM queue_movement_day FOR UPDATE SKIP LOCKED"))
        ).scalar_one_or_none()
        if last is None or last >= today:
            return None
        await conn.execute(text("DELETE FROM queue_movement"))
        result = await conn.execute(
            text(_COUNT),
            {
                "today": today,
                "tz": ALMATY.key,
                "since": at_local(today - dt.timedelta(days=WINDOW_DAYS - 1), dt.time()),
                "until": at_local(today + dt.timedelta(days=1), dt.time()),
                "months": MONTHS,
                "window": WINDOW_DAYS,
                "tiers": len(PriorityTier),
                "next_year": school_year.first_day(year),
                "first_year": year - age.SCHOOL_AGE + 1,  # born earlier, a child has reached school age by then
            },
        )
        await conn.execute(text("UPDATE queue_movement_day SET counted_on = :d"), {"d": today})
    return int(result.rowcount or 0)


# Every choice of the given applications: where the application stands, the child's birth date, the region of the
# kindergarten (whose policy sets the minimum admission age) and the queue's movement.
STANDINGS_SQL = f"""
SELECT c.application_id, c.kindergarten_id, a.status, a.tier_rank, a.desired_start_date, a.birth_year, c.held_here,
    COALESCE(h.rank < c.rank, false) AS holds_better, p.birth_date, d.region_code, m.offers, m.planned_seats
FROM choices c JOIN applications a ON a.id = c.application_id
{HOLDING}
LEFT JOIN persons p ON p.iin = a.child_iin
JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts d ON d.code = k.district_code
LEFT JOIN queue_movement m ON m.kindergarten_id = c.kindergarten_id AND m.birth_year = c.birth_year
    AND m.language = c.language AND m.group_type = c.group_type
WHERE c.application_id = ANY(:ids)
"""


def standing_from(r: Any) -> ChoiceStanding:
    offers = r["offers"]
    return ChoiceStanding(
        status=ApplicationStatus(r["status"]),
        tier=PriorityTier.from_rank(r["tier_rank"]),
        held_here=r["held_here"],
        holds_better=r["holds_better"],
        desired_start_date=r["desired_start_date"],
        birth_year=r["birth_year"],
        birth_date=r["birth_date"],
        region_code=r["region_code"],
        movement=QueueMovement(tuple(tuple(m) for m in offers), float(r["planned_seats"])) if offers else None,
    )
