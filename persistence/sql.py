"""SQL encodings of domain rules, generated from their one definition so that they cannot drift:
the queue order (domain/queue_order.py), the live offer states and the tier ranks (domain/model.py).
tests/test_rule_encodings.py holds the migrations' index and trigger definitions to the same values."""

from __future__ import annotations

from domain import school_year
from domain.model import LIVE_OFFER_STATUSES, OfferStatus, PriorityTier
from domain.queue_order import QueueOrder

# The queue order's columns, in the order of the rule; choices and queue_events carry them all.
ORDER_COLUMNS: tuple[str, ...] = QueueOrder._fields
_WITHIN_TIER = ORDER_COLUMNS[1:]  # candidates are read one tier at a time


def order_key(alias: str, columns: tuple[str, ...] = ORDER_COLUMNS) -> str:
    """`(c.tier_rank, c.sibling_rank, c.queue_date, c.application_id)` for a row comparison."""
    return "(" + ", ".join(f"{alias}.{c}" for c in columns) + ")"


def order_by(alias: str, columns: tuple[str, ...] = ORDER_COLUMNS) -> str:
    return ", ".join(f"{alias}.{c}" for c in columns)


WITHIN_TIER_KEY = order_key("c", _WITHIN_TIER)
WITHIN_TIER_ORDER = order_by("c", _WITHIN_TIER)


def _states(statuses: frozenset[OfferStatus]) -> str:
    """An IN list in the enum's order, as the migrations' partial indexes spell it (the planner matches them)."""
    return "(" + ",".join(f"'{s.value}'" for s in OfferStatus if s in statuses) + ")"


LIVE = _states(LIVE_OFFER_STATUSES)  # ('PENDING','CONFIRMED')
PRIMARY_RANK = PriorityTier.PRIMARY.rank
GENERAL_RANK = PriorityTier.GENERAL.rank

# A choice stands in its queue (counts in positions, may be a candidate) when this holds.
STANDING = "{a}.app_in_queue AND NOT {a}.held_here"

# domain/allocation.py `eligible` for a seat free from :day, over a choice c of application a (child p) and
# the lowest rank h it holds a seat at: start date come, old enough (`age.born_by`), nothing better held. In
# two parts for a statement that judges each application once and then each of its choices (the intake's).
# `born_by` names where the date comes from: a parameter, or a column of the groups a batch reads at once.
ELIGIBLE_APPLICATION = "a.desired_start_date <= :day AND p.birth_date <= {born_by}"
NOTHING_BETTER_HELD = "({held} IS NULL OR {held} > c.rank)"


def eligible(born_by: str = ":born_by") -> str:
    return f"{ELIGIBLE_APPLICATION.format(born_by=born_by)} AND {NOTHING_BETTER_HELD.format(held='h.rank')}"


HOLDING = """LEFT JOIN LATERAL (
        SELECT min(x.rank) AS rank FROM choices x WHERE x.application_id = a.id AND x.held_here
    ) h ON true"""

KINDERGARTEN_COLUMNS = """k.id, k.external_id, k.district_code, d.region_code, k.name_kk, k.name_ru, k.address,
    k.ownership, k.state_order, k.latitude, k.longitude"""

# A kindergarten's columns beside a group's (`rows.kindergarten_of_group` reads them).
KINDERGARTEN_AS_KG = """k.external_id AS kg_external_id, k.district_code, d.region_code, k.name_kk, k.name_ru,
    k.address, k.ownership, k.state_order, k.latitude, k.longitude"""

# Position of each choice of the given applications: 1 + an index-only count of those ahead in its queue.
POSITIONS_SQL = f"""
SELECT c.application_id, c.kindergarten_id,
    CASE WHEN {STANDING.format(a="c")} THEN 1 + (
        SELECT count(*) FROM choices o
        WHERE o.kindergarten_id = c.kindergarten_id AND o.birth_year = c.birth_year
          AND o.language = c.language AND o.group_type = c.group_type
          AND {STANDING.format(a="o")}
          AND {order_key("o")} < {order_key("c")}
    ) END AS position
FROM choices c
WHERE c.application_id = ANY(:ids)
"""

# An application with its choices in one row (`rows.application_with_choices` reads it).
APPLICATIONS = """SELECT a.*, COALESCE((SELECT json_agg(json_build_object(
        'application_id', c.application_id, 'rank', c.rank, 'kindergarten_id', c.kindergarten_id,
        'held_here', c.held_here, 'joined_at', c.joined_at, 'sibling_rank', c.sibling_rank)
        ORDER BY c.rank) FROM choices c WHERE c.application_id = a.id), '[]') AS choice_rows
    FROM applications a"""


def school_year_of(day: str) -> str:
    """domain/school_year.py `school_year_of` of a date expression: school year Y begins on 1 September Y."""
    return f"CAST(extract(year FROM CAST({day} AS date) - interval '{school_year.FIRST_MONTH - 1} months') AS int)"


# A group g (its kindergarten's district d) has a seat to offer now (domain/usecases/allocator.py `_seat_day`):
# free today, or free from a day up to :until, of a school year begun or whose intake run in the region is
# published (the allocator applies each region's own advance window).
OFFERABLE = f"""(g.free_seats > 0 OR (g.free_from <= :until AND (
    {school_year_of("g.free_from")} <= {school_year_of(":today")}
    OR EXISTS (SELECT 1 FROM intake_runs r WHERE r.region_code = d.region_code AND r.status = 'PUBLISHED'
               AND r.school_year = {school_year_of("g.free_from")}))))"""

INTAKE_RUN_COLUMNS = """id, region_code, school_year, status, created_at, created_by, totals, verdict, published_at,
    discarded_at, changes_at_publish"""  # what `rows.run_from` reads (the inputs are read apart: they are large)
