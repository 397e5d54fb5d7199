"""What the allocator reads: candidates for a group's seat in queue order, the ratio's history, free seats."""

from __future__ import annotations

import datetime as dt

from domain.allocation import Candidate
from domain.model import Group, PriorityTier
from domain.queue_order import SIBLING_FIRST, QueueOrder
from persistence.repositories.base import Repository
from persistence.sql import GENERAL_RANK, PRIMARY_RANK, STANDING, WITHIN_TIER_KEY, WITHIN_TIER_ORDER

_CANDIDATES = f"""
SELECT a.id, a.child_iin, c.sibling_rank, a.queue_date, p.birth_date, a.desired_start_date,
    c.rank AS rank_here, a.sibling_group_id,
    (SELECT min(h.rank) FROM choices h WHERE h.application_id = a.id AND h.held_here) AS holding_rank
FROM choices c
JOIN applications a ON a.id = c.application_id
JOIN persons p ON p.iin = a.child_iin
WHERE c.kindergarten_id = :kg AND c.birth_year BETWEEN :y0 AND :y1 AND c.language = :lang
  AND c.group_type = :gt AND {STANDING.format(a="c")} AND c.tier_rank = :tier AND a.active
  AND (CAST(:has_after AS boolean) IS FALSE OR {WITHIN_TIER_KEY} > (:s, :q, :a))
ORDER BY {WITHIN_TIER_ORDER}
LIMIT :n"""


class SqlCandidateReads(Repository):
    async def candidates(
        self, group: Group, tier: PriorityTier, after: QueueOrder | None, limit: int
    ) -> list[Candidate]:
        rows = await self._rows(
            _CANDIDATES,
            kg=group.kindergarten_id,
            y0=group.birth_year_from,
            y1=group.birth_year_to,
            lang=group.language.value,
            gt=group.group_type.value,
            tier=tier.rank,
            has_after=after is not None,
            s=after.sibling_rank if after else 0,
            q=after.queue_date if after else dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            a=after.application_id if after else 0,
            n=limit,
        )
        return [
            Candidate(
                application_id=r["id"],
                child_iin=r["child_iin"],
                tier=tier,
                sibling_priority=r["sibling_rank"] == SIBLING_FIRST,
                queue_date=r["queue_date"],
                birth_date=r["birth_date"],
                desired_start_date=r["desired_start_date"],
                rank_here=r["rank_here"],
                holding_rank=r["holding_rank"],
                sibling_group_id=r["sibling_group_id"],
            )
            for r in rows
        ]

    async def offers_made(self, group_id: int) -> tuple[int, int]:
        row = await self._one(
            f"""SELECT count(*) FILTER (WHERE tier_rank = {PRIMARY_RANK}) AS p,
                count(*) FILTER (WHERE tier_rank = {GENERAL_RANK}) AS g
            FROM offers WHERE group_id = :g""",
            g=group_id,
        )
        assert row is not None
        return int(row["p"]), int(row["g"])

    async def groups_with_free_seats(self, kindergarten_ids: list[int] | None = None) -> list[int]:
        return await self._ids(
            """SELECT id FROM groups WHERE capacity > enrolled + held
              AND (CAST(:all AS boolean) OR kindergarten_id = ANY(:kgs)) ORDER BY id""",
            all=kindergarten_ids is None,
            kgs=kindergarten_ids or [],
        )
