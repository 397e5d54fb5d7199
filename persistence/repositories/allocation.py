"""What the allocator reads and claims: the queue of groups to allocate, a group's candidates in queue order,
the ratio's history; and the locks that keep allocations of one group and new candidates for it apart."""

from __future__ import annotations

import datetime as dt

import asyncpg

from domain.allocation import Candidate
from domain.errors import Contention
from domain.model import Group, Kindergarten, PriorityTier
from domain.queue_order import SIBLING_FIRST, QueueOrder
from domain.repositories import CandidateAsk
from domain.timezone import local_date
from persistence.pg import Pools
from persistence.repositories.base import Repository
from persistence.repositories.places import SqlPlaceRepository
from persistence.rows import Row, group_from, kindergarten_of_group
from persistence.sql import (
    GENERAL_RANK,
    HOLDING,
    KINDERGARTEN_AS_KG,
    OFFERABLE,
    PRIMARY_RANK,
    STANDING,
    eligible,
    order_by,
    order_key,
)

_CANDIDATE_COLUMNS = f"""{order_by("c")}, a.child_iin, p.birth_date, a.desired_start_date, c.rank AS rank_here,
    a.sibling_group_id, h.rank AS holding_rank"""


def _candidates_where(ref: str, tier: str, born_by: str) -> str:
    """Who may take a seat of the group `ref` names (`:kg`… parameters, or a batch's `q.kg`… columns), of one tier
    or of all: one definition for one group's read and a batch's."""
    return f"""FROM choices c
JOIN applications a ON a.id = c.application_id
JOIN persons p ON p.iin = a.child_iin
{HOLDING}
WHERE c.kindergarten_id = {ref}kg AND c.birth_year BETWEEN {ref}y0 AND {ref}y1 AND c.language = {ref}lang
  AND c.group_type = {ref}gt AND {STANDING.format(a="c")} AND a.active
  AND ({tier} IS NULL OR c.tier_rank = {tier})
  AND {eligible(born_by)}"""


_CANDIDATES = f"""
SELECT {_CANDIDATE_COLUMNS}
{_candidates_where(":", "CAST(:tier AS smallint)", ":born_by")}
  AND (CAST(:has_after AS boolean) IS FALSE OR {order_key("c")} > (:t, :s, :q, :a))
ORDER BY {order_by("c")}
LIMIT :n"""

# The same for many groups (and tiers) at once, the first :n of each: the batch allocator's one read.
_FIRST_CANDIDATES = f"""
SELECT q.n AS ask, x.* FROM unnest(CAST(:kg AS bigint[]), CAST(:y0 AS smallint[]), CAST(:y1 AS smallint[]),
    CAST(:lang AS text[]), CAST(:gt AS text[]), CAST(:tier AS smallint[]), CAST(:born_by AS date[]))
    WITH ORDINALITY AS q(kg, y0, y1, lang, gt, tier, born_by, n)
CROSS JOIN LATERAL (
    SELECT {_CANDIDATE_COLUMNS}
    {_candidates_where("q.", "q.tier", "q.born_by")}
    ORDER BY {order_by("c")}
    LIMIT :n
) x
ORDER BY q.n, {order_by("x")}"""

_CLAIM_MANY = f"""
WITH g AS (
    SELECT g.*, {KINDERGARTEN_AS_KG} FROM groups g
    JOIN kindergartens k ON k.id = g.kindergarten_id JOIN districts d ON d.code = k.district_code
    WHERE g.id = ANY(:g) ORDER BY g.id FOR UPDATE OF g SKIP LOCKED
), claimed AS (
    DELETE FROM allocation_queue WHERE group_id IN (
        SELECT q.group_id FROM allocation_queue q WHERE q.group_id IN (SELECT id FROM g) FOR UPDATE SKIP LOCKED)
    RETURNING group_id
)
SELECT g.*, g.id IN (SELECT group_id FROM claimed) AS claimed FROM g ORDER BY g.id"""


class SqlAllocationRepository(Repository):
    def __init__(self, conn: asyncpg.Connection, pools: Pools, places: SqlPlaceRepository) -> None:
        super().__init__(conn, pools)
        self._places = places  # the groups it claims bring their kindergartens: kept for the unit of work

    async def candidates(
        self,
        group: Group,
        day: dt.date,
        born_by: dt.date,
        limit: int,
        tier: PriorityTier | None = None,
        after: QueueOrder | None = None,
    ) -> list[Candidate]:
        rows = await self._rows(
            _CANDIDATES,
            kg=group.kindergarten_id,
            y0=group.birth_year_from,
            y1=group.birth_year_to,
            lang=group.language.value,
            gt=group.group_type.value,
            tier=tier.rank if tier else None,
            day=day,
            born_by=born_by,
            has_after=after is not None,
            t=after.tier_rank if after else 0,
            s=after.sibling_rank if after else 0,
            q=after.queue_date if after else dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            a=after.application_id if after else 0,
            n=limit,
        )
        return [_candidate(r) for r in rows]

    async def first_candidates(self, asks: list[CandidateAsk], day: dt.date, limit: int) -> list[list[Candidate]]:
        rows = await self._rows(
            _FIRST_CANDIDATES,
            kg=[a.group.kindergarten_id for a in asks],
            y0=[a.group.birth_year_from for a in asks],
            y1=[a.group.birth_year_to for a in asks],
            lang=[a.group.language.value for a in asks],
            gt=[a.group.group_type.value for a in asks],
            tier=[a.tier.rank if a.tier else None for a in asks],
            born_by=[a.born_by for a in asks],
            day=day,
            n=limit,
        )
        out: list[list[Candidate]] = [[] for _ in asks]
        for r in rows:
            out[r["ask"] - 1].append(_candidate(r))
        return out

    async def offers_made(self, group_id: int) -> tuple[int, int]:
        return (await self.offers_made_many([group_id]))[group_id]

    async def offers_made_many(self, group_ids: list[int]) -> dict[int, tuple[int, int]]:
        rows = await self._rows(
            f"""SELECT g.id, count(o.id) FILTER (WHERE o.tier_rank = {PRIMARY_RANK}) AS p,
                count(o.id) FILTER (WHERE o.tier_rank = {GENERAL_RANK}) AS g
            FROM unnest(CAST(:g AS bigint[])) AS g(id) LEFT JOIN offers o ON o.group_id = g.id GROUP BY g.id""",
            g=group_ids,
        )
        return {int(r["id"]): (int(r["p"]), int(r["g"])) for r in rows}

    async def lock_for_candidates(
        self,
        kindergarten_ids: list[int],
        birth_year: int,
        language: str,
        group_type: str,
        today: dt.date,
        until: dt.date,
    ) -> list[int]:
        """The groups of these kindergartens a new candidate fits, share-locked in id order so that no
        allocation of them runs until this transaction ends; those with a seat to offer."""
        rows = await self._rows(
            f"""SELECT g.id, {OFFERABLE} AS offerable FROM groups g
            JOIN kindergartens k ON k.id = g.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE g.kindergarten_id = ANY(:kgs) AND :y BETWEEN g.birth_year_from AND g.birth_year_to
              AND g.language = :l AND g.group_type = :t
            ORDER BY g.id FOR SHARE OF g""",
            kgs=kindergarten_ids,
            y=birth_year,
            l=language,
            t=group_type,
            today=today,
            until=until,
        )
        return [int(r["id"]) for r in rows if r["offerable"]]

    async def intake_published(self, region_code: str, school_year: int) -> bool:
        return (
            await self._one(
                """SELECT 1 FROM intake_runs WHERE region_code = :r AND school_year = :y AND status = 'PUBLISHED'""",
                r=region_code,
                y=school_year,
            )
            is not None
        )

    async def claim(self, group_id: int) -> tuple[Group, Kindergarten] | None:
        claimed, busy = await self.claim_many([group_id])
        if busy:
            raise Contention(f"group {group_id} is being changed")
        return claimed.get(group_id)  # None when not queued: another allocation has it, or had it

    async def claim_many(self, group_ids: list[int]) -> tuple[dict[int, tuple[Group, Kindergarten]], list[int]]:
        rows = await self._rows(_CLAIM_MANY, g=group_ids)
        locked = {int(r["id"]) for r in rows}
        claimed = {
            int(r["id"]): (group_from(r), self._places.keep(kindergarten_of_group(r))) for r in rows if r["claimed"]
        }
        return claimed, [g for g in group_ids if g not in locked]

    async def try_lock_group(self, group_id: int) -> bool:
        return await self._one("SELECT 1 FROM groups WHERE id = :g FOR UPDATE SKIP LOCKED", g=group_id) is not None

    async def due(self, now: dt.datetime, limit: int) -> list[int]:
        return await self._ids(
            "SELECT group_id AS id FROM allocation_queue WHERE due_at <= :now ORDER BY due_at LIMIT :n",
            now=now,
            n=limit,
        )

    async def postpone(self, group_id: int, until: dt.datetime) -> None:
        await self._execute(
            "UPDATE allocation_queue SET due_at = GREATEST(due_at, :u) WHERE group_id = :g", {"u": until, "g": group_id}
        )

    async def enqueue_free(self, now: dt.datetime, until: dt.date) -> int:
        """Every group with a seat to offer, queued (the worker's sweep: start dates and birthdays come)."""
        rows = await self._rows(
            f"""INSERT INTO allocation_queue (group_id, due_at)
            SELECT g.id, :now FROM groups g
            JOIN kindergartens k ON k.id = g.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE (g.free_seats > 0 OR g.free_from <= :until) AND {OFFERABLE}
            ON CONFLICT (group_id) DO UPDATE SET due_at = LEAST(allocation_queue.due_at, EXCLUDED.due_at)
            RETURNING group_id""",
            now=now,
            today=local_date(now),
            until=until,
        )
        return len(rows)


def _candidate(r: Row) -> Candidate:
    return Candidate(
        application_id=r["application_id"],
        child_iin=r["child_iin"],
        tier=PriorityTier.from_rank(r["tier_rank"]),
        sibling_priority=r["sibling_rank"] == SIBLING_FIRST,
        queue_date=r["queue_date"],
        birth_date=r["birth_date"],
        desired_start_date=r["desired_start_date"],
        rank_here=r["rank_here"],
        holding_rank=r["holding_rank"],
        sibling_group_id=r["sibling_group_id"],
    )
