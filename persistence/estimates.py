"""The waiting estimate's facts (docs/product.md §3 "Waiting estimate", domain/estimate.py), read for the status
query in one statement for every choice of the request's applications: where each stands, its queue's offers of
the window (from `offers` itself, through migration 0007's index) and the seats planned for its queue from the
next 1 September, both computed at the time of reading: no copy of them is kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from domain import age, school_year
from domain.estimate import MONTHS, WINDOW_DAYS, ChoiceStanding, QueueMovement
from domain.model import ApplicationStatus, PriorityTier
from domain.timezone import ALMATY, at_local
from persistence.sql import HOLDING

# offers: [tier rank, month, offers] of the queue in the window (month 0 the latest twelfth of it), the summer
# intake's apart; the queue of an offer is its application's (whose queue fields never change).
# planned_seats: the seats free from the next 1 September beyond those free today, where a departure, a
# scheduled capacity or an opening before then can make them (other groups are not read); a mixed-age group's
# shared among its birth years that have not reached school age by then.
STANDINGS_SQL = f"""
WITH d AS (SELECT CAST(:today AS date) AS today, CAST(:next_year AS date) AS next_year,
    CAST(:first_year AS integer) AS first_year, CAST(:since AS timestamptz) AS since,
    CAST(:until AS timestamptz) AS until)
SELECT c.application_id, c.kindergarten_id, a.status, a.tier_rank, a.desired_start_date, a.birth_year, c.held_here,
    COALESCE(h.rank < c.rank, false) AS holds_better, p.birth_date, dist.region_code,
    ARRAY(SELECT ARRAY[m.tier_rank, m.month, count(*)] FROM (
            SELECT o.tier_rank, (d.today - CAST(o.created_at AT TIME ZONE '{ALMATY.key}' AS date)) * {MONTHS}
                / {WINDOW_DAYS} AS month
            FROM offers o JOIN applications x ON x.id = o.application_id
            WHERE o.kindergarten_id = c.kindergarten_id AND o.intake_run_id IS NULL
                AND o.created_at >= d.since AND o.created_at < d.until
                AND x.birth_year = c.birth_year AND x.language = c.language AND x.group_type = c.group_type
        ) m GROUP BY m.tier_rank, m.month) AS offers,
    (SELECT COALESCE(sum(CAST(s.free - g.free_seats AS real)
            / (g.birth_year_to - greatest(g.birth_year_from, d.first_year) + 1)), 0)
        FROM groups g CROSS JOIN LATERAL group_seats(g.id, d.next_year) s
        WHERE g.kindergarten_id = c.kindergarten_id AND g.language = c.language AND g.group_type = c.group_type
            AND c.birth_year BETWEEN greatest(g.birth_year_from, d.first_year) AND g.birth_year_to
            AND (g.scheduled_from <= d.next_year OR (g.opens_on > d.today AND g.opens_on <= d.next_year)
                OR EXISTS (SELECT 1 FROM enrollments e WHERE e.group_id = g.id AND e.ended_at IS NULL
                    AND e.leaves_on < d.next_year))
            AND s.free > g.free_seats) AS planned_seats
FROM d CROSS JOIN choices c JOIN applications a ON a.id = c.application_id
{HOLDING}
LEFT JOIN persons p ON p.iin = a.child_iin
JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts dist ON dist.code = k.district_code
WHERE c.application_id = ANY(:ids)
"""


def standings_params(application_ids: Sequence[int], today: dt.date) -> dict[str, Any]:
    """STANDINGS_SQL's parameters for the applications, as of `today` (the application's clock, Asia/Almaty)."""
    year = school_year.school_year_of(today) + 1
    return {
        "ids": list(application_ids),
        "today": today,
        "next_year": school_year.first_day(year),
        "first_year": year - age.SCHOOL_AGE + 1,  # born earlier, a child has reached school age by then
        "since": at_local(today - dt.timedelta(days=WINDOW_DAYS - 1), dt.time()),
        "until": at_local(today + dt.timedelta(days=1), dt.time()),
    }


def standing_from(r: Any) -> ChoiceStanding:
    offers = [[0] * MONTHS for _ in PriorityTier]
    for tier_rank, month, n in r["offers"]:
        offers[tier_rank][month] += n
    seats = float(r["planned_seats"])
    return ChoiceStanding(
        status=ApplicationStatus(r["status"]),
        tier=PriorityTier.from_rank(r["tier_rank"]),
        held_here=r["held_here"],
        holds_better=r["holds_better"],
        desired_start_date=r["desired_start_date"],
        birth_year=r["birth_year"],
        birth_date=r["birth_date"],
        region_code=r["region_code"],
        movement=QueueMovement(tuple(tuple(m) for m in offers), seats) if r["offers"] or seats > 0 else None,
    )
