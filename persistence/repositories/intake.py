"""Intake runs (docs/product.md §10): a region's inputs read in two statements, the runs and their per-group
results, and the region's groups locked while a run is published."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from domain.intake import (
    GroupResult,
    Inputs,
    IntakeChild,
    IntakeGroup,
    IntakeRun,
    Totals,
)
from domain.model import PriorityTier
from domain.queue_order import SIBLING_FIRST
from persistence.repositories.base import Repository
from persistence.rows import group_result_from, run_from
from persistence.sql import ELIGIBLE, GENERAL_RANK, HOLDING, INTAKE_RUN_COLUMNS, PRIMARY_RANK, STANDING

_REGION_GROUPS = """FROM groups g JOIN kindergartens k ON k.id = g.kindergarten_id
    JOIN districts d ON d.code = k.district_code WHERE d.region_code = :r"""

_GROUPS = f"""
WITH region AS (SELECT g.* {_REGION_GROUPS}),
made AS (
    SELECT o.group_id, count(*) FILTER (WHERE o.tier_rank = {PRIMARY_RANK}) AS p,
        count(*) FILTER (WHERE o.tier_rank = {GENERAL_RANK}) AS g
    FROM offers o WHERE o.group_id IN (SELECT id FROM region) GROUP BY o.group_id
)
SELECT x.id, x.kindergarten_id, x.birth_year_from, x.birth_year_to, x.language, x.group_type,
    greatest(s.free, 0) AS seats, coalesce(m.p, 0) AS p, coalesce(m.g, 0) AS g
FROM region x JOIN groups_seats(ARRAY(SELECT id FROM region), :day) s ON s.id = x.id
LEFT JOIN made m ON m.group_id = x.id ORDER BY x.id"""

# Candidates on the day (domain/allocation.py `eligible`, as the allocator's SQL spells it), not of school age
# by then, with their choices of the region's kindergartens ranked above any seat they hold. The region's
# standing choices are read once by kindergarten and then met with the applications in id order: left to
# itself the planner read them again in each parallel worker, three processes for one query on two cores.
_CHILDREN = f"""
WITH c AS MATERIALIZED (
    SELECT c.application_id, c.kindergarten_id, c.rank, c.sibling_rank
    FROM choices c JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts d ON d.code = k.district_code
    WHERE d.region_code = :r AND {STANDING.format(a="c")}
)
SELECT a.id, a.tier_rank, a.queue_date, a.birth_year, a.language, a.group_type, a.sibling_group_id,
    h.rank AS holding_rank,
    array_agg(c.kindergarten_id ORDER BY c.rank) AS kgs, array_agg(c.rank ORDER BY c.rank) AS ranks,
    array_agg(c.sibling_rank ORDER BY c.rank) AS sibs
FROM c
JOIN applications a ON a.id = c.application_id
JOIN persons p ON p.iin = a.child_iin
{HOLDING}
WHERE a.active AND {ELIGIBLE} AND a.birth_year > :aged
GROUP BY a.id, h.rank
ORDER BY a.id"""


def inputs_json(inputs: Inputs) -> str:
    """The inputs as the run stores them: compact arrays, enough to replay the matching."""
    return json.dumps(
        {
            "regionCode": inputs.region_code,
            "schoolYear": inputs.school_year,
            "ratio": list(inputs.ratio) if inputs.ratio else None,
            "groups": [
                [
                    g.id,
                    g.kindergarten_id,
                    g.birth_year_from,
                    g.birth_year_to,
                    g.language,
                    g.group_type,
                    g.seats,
                    g.primary_made,
                    g.general_made,
                ]
                for g in inputs.groups
            ],
            "children": [
                [
                    c.application_id,
                    c.tier.rank,
                    c.queue_date.isoformat(),
                    c.birth_year,
                    c.language,
                    c.group_type,
                    list(c.choices),
                    list(c.ranks),
                    list(c.sibling_first),
                    c.holding_rank,
                    c.sibling_group_id,
                ]
                for c in inputs.children
            ],
        },
        separators=(",", ":"),
    )


def inputs_from(raw: Any) -> Inputs:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return Inputs(
        region_code=data["regionCode"],
        school_year=data["schoolYear"],
        ratio=(data["ratio"][0], data["ratio"][1]) if data["ratio"] else None,
        groups=tuple(IntakeGroup(*g) for g in data["groups"]),
        children=tuple(
            IntakeChild(
                application_id=c[0],
                tier=PriorityTier.from_rank(c[1]),
                queue_date=dt.datetime.fromisoformat(c[2]),
                birth_year=c[3],
                language=c[4],
                group_type=c[5],
                choices=tuple(c[6]),
                ranks=tuple(c[7]),
                sibling_first=tuple(c[8]),
                holding_rank=c[9],
                sibling_group_id=c[10],
            )
            for c in data["children"]
        ),
    )


def _totals_json(t: Totals) -> str:
    return json.dumps(
        {
            "seats": t.seats,
            "offers": t.offers,
            "upgrades": t.upgrades,
            "firstChoiceShare": t.first_choice_share,
            "waitingByTier": {tier.value: n for tier, n in t.waiting_by_tier.items()},
            "seatsLeftFree": t.seats_left_free,
        }
    )


class SqlIntakeRepository(Repository):
    async def inputs(
        self, region_code: str, school_year: int, day: dt.date, born_by: dt.date, ratio: tuple[int, int] | None
    ) -> Inputs:
        # A region's every group and child: plans that depend on the values pay here, and in what this
        # transaction writes from them (persistence/pg.py PLANS).
        await self._execute("SET LOCAL plan_cache_mode = auto")
        groups = await self._rows(_GROUPS, r=region_code, day=day)
        # Aged out on 1 September of the year they turn 6: born in year Y - 6 or before.
        children = await self._rows(_CHILDREN, r=region_code, day=day, born_by=born_by, aged=school_year - 6)
        return Inputs(
            region_code=region_code,
            school_year=school_year,
            ratio=ratio,
            groups=tuple(
                IntakeGroup(
                    r["id"],
                    r["kindergarten_id"],
                    r["birth_year_from"],
                    r["birth_year_to"],
                    r["language"],
                    r["group_type"],
                    int(r["seats"]),
                    int(r["p"]),
                    int(r["g"]),
                )
                for r in groups
            ),
            children=tuple(
                IntakeChild(
                    application_id=r["id"],
                    tier=PriorityTier.from_rank(r["tier_rank"]),
                    queue_date=r["queue_date"],
                    birth_year=r["birth_year"],
                    language=r["language"],
                    group_type=r["group_type"],
                    choices=tuple(r["kgs"]),
                    ranks=tuple(r["ranks"]),
                    sibling_first=tuple(k for k, s in zip(r["kgs"], r["sibs"], strict=True) if s == SIBLING_FIRST),
                    holding_rank=r["holding_rank"],
                    sibling_group_id=r["sibling_group_id"],
                )
                for r in children
            ),
        )

    async def add(self, run: IntakeRun, inputs: Inputs, groups: Sequence[GroupResult]) -> int:
        run_id = await self._new_id(
            """INSERT INTO intake_runs (region_code, school_year, status, created_at, created_by, inputs, totals,
                verdict)
            VALUES (:r, :y, :s, :at, :by, CAST(:inputs AS jsonb), CAST(:totals AS jsonb), CAST(:verdict AS jsonb))
            RETURNING id""",
            r=run.region_code,
            y=run.school_year,
            s=run.status.value,
            at=run.created_at,
            by=run.created_by,
            inputs=inputs_json(inputs),
            totals=_totals_json(run.totals),
            verdict=json.dumps(run.verdict),
        )
        await self._save_groups(run_id, groups)
        return run_id

    async def _save_groups(self, run_id: int, groups: Sequence[GroupResult]) -> None:
        await self._execute("DELETE FROM intake_run_groups WHERE run_id = :r", {"r": run_id})
        await self._execute(
            """INSERT INTO intake_run_groups (run_id, group_id, seats, offered, left_free, left_free_reason)
            SELECT :r, u.g, u.s, CAST(u.o AS bigint[]), u.l, u.why
            FROM unnest(CAST(:g AS bigint[]), CAST(:s AS int[]), CAST(:o AS text[]), CAST(:l AS int[]),
                CAST(:why AS text[])) AS u(g, s, o, l, why)""",
            {
                "r": run_id,
                "g": [x.group_id for x in groups],
                "s": [x.seats for x in groups],
                # Arrays of unequal length do not nest: each group's list travels as its array literal.
                "o": ["{" + ",".join(map(str, x.offered)) + "}" for x in groups],
                "l": [x.left_free for x in groups],
                "why": [x.left_free_reason.value if x.left_free_reason else None for x in groups],
            },
        )

    async def get(self, run_id: int, *, for_update: bool = False) -> IntakeRun | None:
        row = await self._one(
            f"SELECT {INTAKE_RUN_COLUMNS} FROM intake_runs WHERE id = :i{self.lock(for_update)}", i=run_id
        )
        return run_from(row) if row else None

    async def current(self, region_code: str, school_year: int) -> list[IntakeRun]:
        """The region's draft and published run for the year, if any."""
        rows = await self._rows(
            f"""SELECT {INTAKE_RUN_COLUMNS} FROM intake_runs WHERE region_code = :r AND school_year = :y
            AND status IN ('DRAFT','PUBLISHED') ORDER BY id""",
            r=region_code,
            y=school_year,
        )
        return [run_from(r) for r in rows]

    async def group_results(self, run_id: int) -> list[GroupResult]:
        rows = await self._rows("SELECT * FROM intake_run_groups WHERE run_id = :r ORDER BY group_id", r=run_id)
        return [group_result_from(r) for r in rows]

    async def stored_inputs(self, run_id: int) -> Inputs | None:
        row = await self._one("SELECT inputs FROM intake_runs WHERE id = :i", i=run_id)
        return inputs_from(row["inputs"]) if row else None

    async def lock_region(self, region_code: str) -> int:
        """Every group of the region, locked in id order (allocations give way; changes finishing meanwhile
        are waited for); how many."""
        rows = await self._rows(f"SELECT g.id {_REGION_GROUPS} ORDER BY g.id FOR UPDATE OF g", r=region_code)
        return len(rows)

    async def published(
        self,
        run_id: int,
        at: dt.datetime,
        totals: Totals,
        verdict: dict[str, object],
        changes: Sequence[str],
        inputs: Inputs,
        groups: Sequence[GroupResult],
    ) -> None:
        await self._execute(
            """UPDATE intake_runs SET status = 'PUBLISHED', published_at = :at, totals = CAST(:t AS jsonb),
                verdict = CAST(:v AS jsonb), changes_at_publish = CAST(:c AS jsonb), inputs = CAST(:i AS jsonb)
            WHERE id = :id""",
            {
                "at": at,
                "t": _totals_json(totals),
                "v": json.dumps(verdict),
                "c": json.dumps(list(changes)),
                "i": inputs_json(inputs),
                "id": run_id,
            },
        )
        await self._save_groups(run_id, groups)

    async def discarded(self, run_id: int, at: dt.datetime) -> None:
        await self._execute(
            "UPDATE intake_runs SET status = 'DISCARDED', discarded_at = :at WHERE id = :id", {"at": at, "id": run_id}
        )

    async def numbers(self, application_ids: Sequence[int]) -> dict[int, str]:
        rows = await self._rows("SELECT id, number FROM applications WHERE id = ANY(:i)", i=list(application_ids))
        return {int(r["id"]): r["number"] for r in rows}
