"""Whole-database invariants of seats and offers (docs/quality.md §4), checked with SQL for tests and benchmarks.

`check_invariants` reads one consistent snapshot and returns one line per violation (an empty list when
everything holds). Lines name groups, offers and application numbers; IINs appear masked only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.age import born_by
from domain.iin import mask
from domain.model import OfferStatus
from persistence.sql import LIVE, STANDING, order_by

STATES = "(" + ",".join(f"'{s.value}'" for s in OfferStatus) + ")"

# Groups over capacity on a day to come, and groups whose counts differ from the rows they count
# (docs/product.md §10: `enrolled` counts enrolments in force today, `held` live offers, `free_seats` the seats
# free on every day from today on, as the database's `group_seats` counts them).
GROUP_COUNTS = f"""
WITH enrolments AS (
    SELECT group_id, count(*) AS n FROM enrollments
    WHERE ended_at IS NULL AND since <= :today AND (leaves_on IS NULL OR leaves_on >= :today) GROUP BY group_id
), live AS (
    SELECT group_id, count(*) AS n FROM offers WHERE status IN {LIVE} GROUP BY group_id
), counted AS (
    SELECT g.id, coalesce(e.n, 0) AS enrolments, coalesce(l.n, 0) AS live, (group_seats(g.id, :today)).free AS seats
    FROM groups g LEFT JOIN enrolments e ON e.group_id = g.id LEFT JOIN live l ON l.group_id = g.id
)
SELECT k.external_id AS kg, g.external_id AS grp, g.id, g.capacity, g.enrolled, g.held, g.free_seats,
    c.enrolments, c.live, c.seats
FROM groups g JOIN counted c ON c.id = g.id JOIN kindergartens k ON k.id = g.kindergarten_id
WHERE c.seats < 0 OR g.free_seats < 0 OR g.enrolled <> c.enrolments OR g.held <> c.live OR g.free_seats <> c.seats
ORDER BY g.id"""

CHILDREN_WITH_TWO_LIVE_OFFERS = f"""
SELECT child_iin, count(*) AS n, string_agg(id::text, ', ' ORDER BY id) AS offers
FROM offers WHERE status IN {LIVE}
GROUP BY child_iin HAVING count(*) > 1 ORDER BY child_iin"""

# A child in two kindergartens on one day (an upgrade's old enrolment ends the day before the new one starts).
CHILDREN_WITH_TWO_ENROLMENTS = """
SELECT a.child_iin, a.group_id AS first, b.group_id AS second
FROM enrollments a JOIN enrollments b ON b.child_iin = a.child_iin AND b.id > a.id
WHERE a.ended_at IS NULL AND b.ended_at IS NULL
  AND daterange(a.since, a.leaves_on, '[]') && daterange(b.since, b.leaves_on, '[]')
ORDER BY a.child_iin, a.id, b.id"""

OFFERS_IN_NO_STATE = f"""
SELECT id, status FROM offers WHERE status IS NULL OR status NOT IN {STATES} ORDER BY id"""

# A live offer's application: OFFERED while PENDING, ENROLLING once CONFIRMED; an upgrade offer's stays
# ENROLLED. Its choice of the offer's kindergarten is marked as held there (out of that queue).
LIVE_OFFER_APPLICATIONS = f"""
SELECT o.id, o.status, o.upgrade, a.number, a.status AS app_status,
    coalesce(c.held_here, false) AS held, c.rank IS NOT NULL AS chosen
FROM offers o
JOIN applications a ON a.id = o.application_id
LEFT JOIN choices c ON c.application_id = a.id AND c.kindergarten_id = o.kindergarten_id
WHERE o.status IN {LIVE}
  AND (CASE WHEN o.upgrade THEN a.status <> 'ENROLLED'
            WHEN o.status = 'PENDING' THEN a.status <> 'OFFERED'
            ELSE a.status <> 'ENROLLING' END
       OR NOT coalesce(c.held_here, false))
ORDER BY o.id"""

# The converse: an OFFERED application has a PENDING offer, an ENROLLING one a CONFIRMED offer.
APPLICATIONS_WITHOUT_THEIR_OFFER = """
SELECT a.number, a.status FROM applications a
WHERE (a.status = 'OFFERED' AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.application_id = a.id
        AND o.status = 'PENDING' AND NOT o.upgrade))
   OR (a.status = 'ENROLLING' AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.application_id = a.id
        AND o.status = 'CONFIRMED' AND NOT o.upgrade))
ORDER BY a.id"""

# A free seat and a candidate for it at once (docs/product.md §4): an active application standing in a queue the
# group serves, holding no seat or only one at a kindergarten it ranked lower, whose start date has come
# and whose child is old enough. Members of sibling groups are left out (they wait for seats together).
# One line per group, naming its first waiting application in queue order.
FREE_AND_WANTED = f"""
WITH wanted AS (
    SELECT g.id AS group_id, k.external_id AS kg, g.external_id AS grp,
        g.free_seats AS free, a.id AS application_id, a.number, a.child_iin,
        a.status AS app_status, c.rank,
        count(*) OVER (PARTITION BY g.id) AS waiting,
        row_number() OVER (PARTITION BY g.id ORDER BY {order_by("c")}) AS nth
    FROM groups g
    JOIN kindergartens k ON k.id = g.kindergarten_id
    JOIN choices c ON c.kindergarten_id = g.kindergarten_id
        AND c.birth_year BETWEEN g.birth_year_from AND g.birth_year_to
        AND c.language = g.language AND c.group_type = g.group_type
        AND {STANDING.format(a="c")}
    JOIN applications a ON a.id = c.application_id
    JOIN persons p ON p.iin = a.child_iin
    LEFT JOIN LATERAL (
        SELECT min(h.rank) AS rank FROM choices h WHERE h.application_id = a.id AND h.held_here
    ) holding ON true
    WHERE g.free_seats > 0
      AND a.active AND a.sibling_group_id IS NULL
      AND a.status IN ('QUEUED','OFFERED','ENROLLING','ENROLLED')
      AND (holding.rank IS NULL OR holding.rank > c.rank)
      AND a.desired_start_date <= :today
      AND p.birth_date <= :born_by
)
SELECT * FROM wanted WHERE nth = 1 ORDER BY group_id"""


async def _rows(conn: AsyncConnection, sql: str, **params: Any) -> Sequence[RowMapping]:
    return (await conn.execute(text(sql), params)).mappings().all()


def _group(r: RowMapping) -> str:
    return f"group {r['kg']}/{r['grp']} (id {r['id']})"


async def check_invariants(engine: AsyncEngine, today: dt.date, min_age_months: int = 24) -> list[str]:
    """Violations of the seat and offer invariants; an empty list when all hold.

    `today` (Asia/Almaty) and `min_age_months` decide who could take a free seat now; run it once
    allocation has settled (after a worker pass), since a seat may be free and wanted mid-change.
    """
    found: list[str] = []
    async with engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        for r in await _rows(conn, GROUP_COUNTS, today=today):
            if r["seats"] < 0:
                found.append(f"{_group(r)}: {-r['seats']} more seat(s) taken than it has on a day to come")
            if r["enrolled"] != r["enrolments"]:
                found.append(f"{_group(r)}: enrolled is {r['enrolled']} but {r['enrolments']} enrolments in force")
            if r["held"] != r["live"]:
                found.append(f"{_group(r)}: held is {r['held']} but {r['live']} live offers")
            if r["free_seats"] != r["seats"]:
                found.append(f"{_group(r)}: free seats is {r['free_seats']} but {r['seats']} by what it holds")
        for r in await _rows(conn, CHILDREN_WITH_TWO_LIVE_OFFERS):
            found.append(f"child {mask(r['child_iin'])}: {r['n']} live offers ({r['offers']})")
        for r in await _rows(conn, CHILDREN_WITH_TWO_ENROLMENTS):
            found.append(
                f"child {mask(r['child_iin'])}: enrolled in two groups on the same days ({r['first']}, {r['second']})"
            )
        for r in await _rows(conn, OFFERS_IN_NO_STATE):
            found.append(f"offer {r['id']}: status {r['status']!r} is none of the seven offer states")
        for r in await _rows(conn, LIVE_OFFER_APPLICATIONS):
            kind = f"{r['status']}{' upgrade' if r['upgrade'] else ''}"
            expected = "ENROLLED" if r["upgrade"] else "OFFERED" if r["status"] == "PENDING" else "ENROLLING"
            if r["app_status"] != expected:
                found.append(
                    f"offer {r['id']} ({kind}): application {r['number']} is {r['app_status']}, not {expected}"
                )
            if not r["held"]:
                what = "does not hold its choice of" if r["chosen"] else "has no choice of"
                found.append(f"offer {r['id']} ({kind}): application {r['number']} {what} the offer's kindergarten")
        for r in await _rows(conn, APPLICATIONS_WITHOUT_THEIR_OFFER):
            wanted = "PENDING" if r["status"] == "OFFERED" else "CONFIRMED"
            found.append(f"application {r['number']} is {r['status']} without a {wanted} offer")
        for r in await _rows(
            conn,
            FREE_AND_WANTED,
            today=today,
            born_by=born_by(today, min_age_months),
        ):
            found.append(
                f"group {r['kg']}/{r['grp']} (id {r['group_id']}): {r['free']} free seat(s) while "
                f"{r['waiting']} application(s) wait in a queue it serves, first {r['number']} "
                f"(child {mask(r['child_iin'])}, {r['app_status']}, choice {r['rank']})"
            )
        await conn.rollback()
    return found
