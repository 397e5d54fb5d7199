"""The facts a fairness report reads (docs/product.md §11, domain/fairness.py), in a few bulk statements: the
area's kindergartens and groups with their capacity history, the applications that could have stood in their
queues in the period with their audit history and birth dates, the offers and enrolments of those children,
of their brothers and sisters and of the area's groups, and the intake runs published.

Only recorded facts are read: audit records, offers, enrolments, contracts, persons, representations, and the
rows' own columns as the current end state; never a derived copy (a group's free seats, a choice's flags).
History before the period is read as far as it tells what each child held, ranked and was at its start.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from domain import fairness
from domain.fairness import (
    ApplicationFacts,
    Area,
    EnrolmentFacts,
    Facts,
    GroupFacts,
    KindergartenFacts,
    OfferFacts,
    Period,
)
from domain.model import GroupType, Language, OfferStatus, PriorityTier
from persistence.readers import Reader
from persistence.rows import Row
from persistence.sql import GENERAL_RANK, LIVE, PRIMARY_RANK

AREA = """SELECT (CAST(:r AS text) IS NULL AND CAST(:d AS text) IS NULL)
    OR (EXISTS (SELECT 1 FROM regions WHERE code = :r)
        AND (CAST(:d AS text) IS NULL OR EXISTS (SELECT 1 FROM districts WHERE code = :d AND region_code = :r)))
    AS known"""

KINDERGARTENS = """SELECT k.id, k.external_id, k.name_ru, k.district_code, d.region_code
FROM kindergartens k JOIN districts d ON d.code = k.district_code
WHERE (CAST(:r AS text) IS NULL OR d.region_code = :r) AND (CAST(:d AS text) IS NULL OR k.district_code = :d)"""

GROUPS = """SELECT id, kindergarten_id, birth_year_from, birth_year_to, language, group_type, capacity, opens_on,
    scheduled_capacity, scheduled_from
FROM groups WHERE kindergarten_id = ANY(:kgs)"""

# Capacities as recorded (domain/usecases/places.py, school_days.py); audit records have no index by entity, so
# this is one pass over them. Records after `as_of` are read too: the first one's `before` is the capacity until
# then, so that a report on a later copy of the data is the same (domain/fairness.py reads none past `as_of`).
CAPACITY_RECORDS = """SELECT CAST(entity_id AS bigint) AS group_id, at, action, before, after FROM audit_log
WHERE entity_type = 'group' AND action IN ('GROUP_CREATED', 'CAPACITY_CHANGED')
  AND CAST(entity_id AS bigint) = ANY(:groups)
ORDER BY id"""

# Applications that may have stood in a queue of the area in the period: those ranking one of its kindergartens
# now or, by a record of the period, before a change; and those offered or enrolled there.
APPLICATION_IDS = f"""SELECT c.application_id AS id FROM choices c WHERE c.kindergarten_id = ANY(:kgs)
UNION SELECT o.application_id FROM offers o WHERE o.kindergarten_id = ANY(:kgs) AND o.created_at < :as_of
    AND (o.status IN {LIVE} OR o.decided_at IS NULL OR o.decided_at >= :start)
UNION SELECT e.application_id FROM enrollments e WHERE e.kindergarten_id = ANY(:kgs)
    AND e.application_id IS NOT NULL AND (e.ended_at IS NULL OR e.ended_at >= :start)
UNION SELECT al.application_id FROM audit_log al
WHERE al.entity_type = 'application' AND al.application_id IS NOT NULL AND al.at >= :start AND al.at < :as_of
  AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE(al.before -> 'choices', '[]')) x
              WHERE CAST(x AS bigint) = ANY(:kgs))"""

# Of those, the ones that waited at some time in the period (active now, or changed since it began) or that were
# offered or enrolled there; with the child's birth date, the current state and the first offer ever.
APPLICATIONS = f"""SELECT a.id, a.number, a.child_iin, a.status, a.active, a.tier_rank, a.queue_date, a.language,
    a.group_type, a.desired_start_date, p.birth_date,
    ARRAY(SELECT c.kindergarten_id FROM choices c WHERE c.application_id = a.id ORDER BY c.rank) AS ranking,
    (SELECT min(o.created_at) FROM offers o WHERE o.application_id = a.id) AS first_offer_at
FROM applications a JOIN persons p ON p.iin = a.child_iin
WHERE a.id = ANY(:ids) AND a.queue_date < :as_of AND (
    a.active
    OR EXISTS (SELECT 1 FROM audit_log al WHERE al.application_id = a.id AND al.at >= :start)
    OR EXISTS (SELECT 1 FROM offers o WHERE o.application_id = a.id AND o.kindergarten_id = ANY(:kgs)
               AND o.created_at < :as_of AND (o.status IN {LIVE} OR o.decided_at IS NULL OR o.decided_at >= :start))
    OR EXISTS (SELECT 1 FROM enrollments e WHERE e.application_id = a.id AND e.kindergarten_id = ANY(:kgs)
               AND (e.ended_at IS NULL OR e.ended_at >= :start)))"""

# All of them, for the reason capacities are (a first record after `as_of` tells the state until then).
APPLICATION_RECORDS = """SELECT application_id, at, before, after FROM audit_log
WHERE entity_type = 'application' AND application_id = ANY(:ids)
ORDER BY application_id, id"""

# A sibling group is created in the transaction that links its members (domain/usecases/siblings.py), at the
# instant of their SIBLINGS_LINKED records; members linked now are read from the application too.
SIBLING_LINKS = """SELECT al.application_id, sg.id AS sibling_group_id, al.at FROM audit_log al
JOIN sibling_groups sg ON sg.created_at = al.at
WHERE al.entity_type = 'application' AND al.action = 'SIBLINGS_LINKED' AND al.application_id = ANY(:ids)
  AND al.at < :as_of
UNION SELECT a.id, sg.id, sg.created_at FROM applications a JOIN sibling_groups sg ON sg.id = a.sibling_group_id
WHERE a.id = ANY(:ids) AND sg.created_at < :as_of"""

SIBLINGS = """SELECT DISTINCT a.child_iin AS child, b.child_iin AS sibling
FROM representations a JOIN representations b ON b.representative_iin = a.representative_iin
    AND b.child_iin <> a.child_iin
WHERE a.child_iin = ANY(:children)"""

# Live at some time in the period (or made in it), in the area's groups or held by the children read.
OFFERS = f"""SELECT o.id, o.application_id, o.child_iin, o.kindergarten_id, o.group_id, o.status, o.tier_rank,
    o.created_at, o.starts_on, o.decided_at, o.sibling_group_id, c.issued_at
FROM offers o LEFT JOIN contracts c ON c.offer_id = o.id
WHERE o.created_at < :as_of AND (o.status IN {LIVE} OR o.decided_at IS NULL OR o.decided_at >= :start)
  AND (o.group_id = ANY(:groups) OR o.child_iin IN (SELECT unnest(CAST(:children AS text[]))))"""

ENROLMENTS = """SELECT e.id, e.child_iin, e.application_id, e.kindergarten_id, e.group_id, e.since, e.leaves_on,
    e.ended_at, e.offer_id, c.signed_at
FROM enrollments e LEFT JOIN contracts c ON c.offer_id = e.offer_id
WHERE (e.ended_at IS NULL OR e.ended_at >= :start)
  -- signed in the period for a first day after it (the summer intake's seats): held from the signature on
  AND (e.since < :end OR c.signed_at < :as_of)
  AND (e.group_id = ANY(:groups) OR e.child_iin IN (SELECT unnest(CAST(:children AS text[]))))"""

# The primary ratio's turn counts a group's offers ever made (domain/usecases/allocator.py `_pick`).
OFFERS_BEFORE = f"""SELECT group_id, count(*) FILTER (WHERE tier_rank = {PRIMARY_RANK}) AS primary_made,
    count(*) FILTER (WHERE tier_rank = {GENERAL_RANK}) AS general_made
FROM offers WHERE group_id = ANY(:groups) AND created_at < :start GROUP BY group_id"""

PUBLISHED = """SELECT region_code, school_year, published_at FROM intake_runs
WHERE status = 'PUBLISHED' AND published_at < :as_of"""


def _json(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


class FairnessRecords:
    """Reads on connections of their own (`Reader.for_reports`), statement by statement: an area's year of
    facts, planned for the values asked."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader.for_reports()

    async def _rows(self, sql: str, **params: Any) -> Sequence[Row]:
        return await self._reader._rows(sql, **params)

    async def known(self, area: Area) -> bool:
        """The region exists, and the district is one of its own (the whole country always does)."""
        rows = await self._rows(AREA, r=area.region_code, d=area.district_code)
        return bool(rows[0]["known"])

    async def facts(self, area: Area, period: Period, now: dt.datetime) -> Facts:
        as_of = min(now, period.end_at)
        start, end = period.start_at, period.end
        kindergartens = {
            r["id"]: KindergartenFacts(r["id"], r["external_id"], r["name_ru"], r["region_code"], r["district_code"])
            for r in await self._rows(KINDERGARTENS, r=area.region_code, d=area.district_code)
        }
        kgs = sorted(kindergartens)
        groups = await self._groups(kgs)
        group_ids = sorted(groups)

        ids = [r["id"] for r in await self._rows(APPLICATION_IDS, kgs=kgs, start=start, as_of=as_of)]
        app_rows = await self._rows(APPLICATIONS, ids=ids, kgs=kgs, start=start, as_of=as_of)
        ids = [r["id"] for r in app_rows]
        records: dict[int, list[tuple[dt.datetime, Any, Any]]] = defaultdict(list)
        for r in await self._rows(APPLICATION_RECORDS, ids=ids):
            records[r["application_id"]].append((r["at"], _json(r["before"]), _json(r["after"])))
        links: dict[int, set[tuple[int, dt.datetime]]] = defaultdict(set)
        for r in await self._rows(SIBLING_LINKS, ids=ids, as_of=as_of):
            links[r["application_id"]].add((r["sibling_group_id"], r["at"]))
        applications = {r["id"]: _application(r, records.get(r["id"], []), links.get(r["id"], set())) for r in app_rows}

        children = sorted({a.child_iin for a in applications.values()})
        siblings: dict[str, list[str]] = defaultdict(list)
        for r in await self._rows(SIBLINGS, children=children):
            siblings[r["child"]].append(r["sibling"])
        everyone = sorted(set(children) | {s for found in siblings.values() for s in found})

        offers = [
            _offer(r) for r in await self._rows(OFFERS, groups=group_ids, children=children, start=start, as_of=as_of)
        ]
        enrolments = [
            _enrolment(r)
            for r in await self._rows(
                ENROLMENTS, groups=group_ids, children=everyone, start=start, end=end, as_of=as_of
            )
        ]
        before = {
            r["group_id"]: (int(r["primary_made"]), int(r["general_made"]))
            for r in await self._rows(OFFERS_BEFORE, groups=group_ids, start=start)
        }
        published = {
            (r["region_code"], r["school_year"]): r["published_at"] for r in await self._rows(PUBLISHED, as_of=as_of)
        }
        return Facts(
            area=area,
            period=period,
            as_of=as_of,
            kindergartens=kindergartens,
            groups=groups,
            applications=applications,
            offers=offers,
            enrolments=enrolments,
            siblings=siblings,
            offers_before=before,
            published=published,
        )

    async def _groups(self, kgs: list[int]) -> dict[int, GroupFacts]:
        rows = await self._rows(GROUPS, kgs=kgs)
        history: dict[int, list[tuple[dt.datetime, str, Any, Any]]] = defaultdict(list)
        for r in await self._rows(CAPACITY_RECORDS, groups=sorted(r["id"] for r in rows)):
            history[r["group_id"]].append((r["at"], r["action"], _json(r["before"]), _json(r["after"])))
        return {
            r["id"]: GroupFacts(
                id=r["id"],
                kindergarten_id=r["kindergarten_id"],
                birth_year_from=r["birth_year_from"],
                birth_year_to=r["birth_year_to"],
                language=Language(r["language"]),
                group_type=GroupType(r["group_type"]),
                capacities=fairness.capacities_of(history.get(r["id"], []), r["capacity"]),
                opens_on=r["opens_on"],
                scheduled=(r["scheduled_capacity"], r["scheduled_from"]) if r["scheduled_from"] else None,
            )
            for r in rows
        }


def _application(
    r: Row, records: list[tuple[dt.datetime, Any, Any]], links: set[tuple[int, dt.datetime]]
) -> ApplicationFacts:
    now = {
        "status": r["status"],
        "active": r["active"],
        "tier": PriorityTier.from_rank(r["tier_rank"]).value,
        "choices": list(r["ranking"]),
    }
    return ApplicationFacts(
        id=r["id"],
        number=r["number"],
        child_iin=r["child_iin"],
        queue_date=r["queue_date"],
        birth_date=r["birth_date"],
        language=Language(r["language"]),
        group_type=GroupType(r["group_type"]),
        desired_start_date=r["desired_start_date"],
        states=fairness.states_of(r["queue_date"], records, now, r["first_offer_at"]),
        sibling_links=tuple(sorted(links, key=lambda link: link[1])),
        first_offer_at=r["first_offer_at"],
    )


def _offer(r: Row) -> OfferFacts:
    status = OfferStatus(r["status"])
    live = status in (OfferStatus.PENDING, OfferStatus.CONFIRMED)
    return OfferFacts(
        id=r["id"],
        application_id=r["application_id"],
        child_iin=r["child_iin"],
        kindergarten_id=r["kindergarten_id"],
        group_id=r["group_id"],
        status=status,
        tier=PriorityTier.from_rank(r["tier_rank"]),
        created_at=r["created_at"],
        starts_on=r["starts_on"],
        # An ended offer with no decision time (a row written by hand) was never live.
        ended_at=None if live else (r["decided_at"] or r["created_at"]),
        confirmed_at=r["issued_at"],
        sibling_group_id=r["sibling_group_id"],
    )


def _enrolment(r: Row) -> EnrolmentFacts:
    return EnrolmentFacts(
        id=r["id"],
        child_iin=r["child_iin"],
        application_id=r["application_id"],
        kindergarten_id=r["kindergarten_id"],
        group_id=r["group_id"],
        since=r["since"],
        leaves_on=r["leaves_on"],
        held_from=fairness.enrolment_held_from(r["signed_at"], r["since"]),
        ended_at=r["ended_at"],
        offer_id=r["offer_id"],
    )
