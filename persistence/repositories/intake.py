"""Intake runs (docs/product.md §10): a region's inputs read, and kept in the run, by one statement; the runs
and their per-group results; the region's groups locked while a run is published.

The inputs are built by the database as the run stores them (`json`, the layout domain/intake.py
`inputs_from` reads: decision 100), kept in the run's row by the statement that reads them and returned as
that text: what the matching parses is the text stored, byte for byte, and no large document travels back to
the database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from domain.intake import (
    GroupResult,
    Inputs,
    IntakeRun,
    IntakeRunStatus,
    Totals,
    inputs_from,
)
from domain.queue_order import SIBLING_FIRST
from persistence.repositories.base import Repository
from persistence.rows import group_result_from, run_from
from persistence.sql import (
    ELIGIBLE_APPLICATION,
    GENERAL_RANK,
    HOLDING,
    INTAKE_RUN_COLUMNS,
    NOTHING_BETTER_HELD,
    PRIMARY_RANK,
    STANDING,
)

_REGION_GROUPS = """FROM groups g JOIN kindergartens k ON k.id = g.kindergarten_id
    JOIN districts d ON d.code = k.district_code WHERE d.region_code = :r"""

# The region's groups with a seat free from :day, with the ratio's history in each. A group with none can take
# no one (the matching and the checker pass it by), so neither the inputs nor the run's results hold it.
_GROUPS = f"""region AS (SELECT g.* {_REGION_GROUPS}),
made AS (
    SELECT o.group_id, count(*) FILTER (WHERE o.tier_rank = {PRIMARY_RANK}) AS p,
        count(*) FILTER (WHERE o.tier_rank = {GENERAL_RANK}) AS g
    FROM offers o WHERE o.group_id IN (SELECT id FROM region) GROUP BY o.group_id
),
seated AS (
    SELECT x.id, x.kindergarten_id, x.birth_year_from, x.birth_year_to, x.language, x.group_type, s.free AS seats,
        coalesce(m.p, 0) AS p, coalesce(m.g, 0) AS g
    FROM region x JOIN groups_seats(ARRAY(SELECT id FROM region), :day) s ON s.id = x.id
    LEFT JOIN made m ON m.group_id = x.id
    WHERE s.free > 0
)"""

# Candidates on the day (domain/allocation.py `eligible`, as the allocator's SQL spells it), not of school age
# by then, with their choices of the region's kindergartens ranked above any seat they hold. The region's
# standing choices are read once by kindergarten (`c`); each application among them is then judged once, read
# in id order (`a`: its row, its child's birth date, the seat it holds), and only then met with its choices:
# judged choice by choice, the same application, child and held seat were read again for each of its choices.
_CHILDREN = f"""c AS MATERIALIZED (
    SELECT c.application_id, c.kindergarten_id, c.rank, c.sibling_rank
    FROM choices c JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts d ON d.code = k.district_code
    WHERE d.region_code = :r AND {STANDING.format(a="c")}
),
a AS MATERIALIZED (
    SELECT a.id, a.tier_rank, a.queue_date, a.birth_year, a.language, a.group_type, a.sibling_group_id,
        h.rank AS holding_rank
    FROM applications a
    JOIN persons p ON p.iin = a.child_iin
    {HOLDING}
    WHERE a.id = ANY(ARRAY(SELECT DISTINCT application_id FROM c ORDER BY 1))
      AND a.active AND {ELIGIBLE_APPLICATION.format(born_by=":born_by")} AND a.birth_year > :aged
),
kids AS (
    SELECT a.id, a.tier_rank, a.queue_date, a.birth_year, a.language, a.group_type, a.sibling_group_id,
        a.holding_rank, array_agg(c.kindergarten_id ORDER BY c.rank) AS kgs, array_agg(c.rank ORDER BY c.rank) AS ranks,
        coalesce(array_agg(c.kindergarten_id ORDER BY c.rank) FILTER (WHERE c.sibling_rank = {SIBLING_FIRST}), '{{}}')
            AS sibs
    FROM a JOIN c ON c.application_id = a.id
    WHERE {NOTHING_BETTER_HELD.format(held="a.holding_rank")}
    GROUP BY a.id, a.tier_rank, a.queue_date, a.birth_year, a.language, a.group_type, a.sibling_group_id,
        a.holding_rank
)"""

# The inputs as the run stores them (domain/intake.py `inputs_from` reads them): enough to replay the matching.
_DOCUMENT = """doc AS (
    SELECT json_build_object(
        'regionCode', CAST(:r AS text),
        'schoolYear', CAST(:y AS integer),
        'ratio', CASE WHEN CAST(:rp AS integer) IS NOT NULL
            THEN json_build_array(CAST(:rp AS integer), CAST(:rg AS integer)) END,
        'groups', (SELECT coalesce(json_agg(json_build_array(id, kindergarten_id, birth_year_from, birth_year_to,
            language, group_type, seats, p, g) ORDER BY id), '[]') FROM seated),
        'children', (SELECT coalesce(json_agg(json_build_array(id, tier_rank, queue_date, birth_year, language,
            group_type, kgs, ranks, sibs, holding_rank, sibling_group_id) ORDER BY id), '[]') FROM kids)
    ) AS inputs
)"""

_INPUTS = f"WITH {_GROUPS},\n{_CHILDREN},\n{_DOCUMENT}"

_ADD = f"""{_INPUTS}
INSERT INTO intake_runs (region_code, school_year, status, created_at, created_by, inputs, totals, verdict)
SELECT :r, :y, :s, :at, :by, doc.inputs, '{{}}', '{{}}' FROM doc
RETURNING id, inputs"""

_READ_AGAIN = f"""{_INPUTS}
UPDATE intake_runs r SET inputs = doc.inputs FROM doc WHERE r.id = :id
RETURNING r.inputs"""


def _read(
    region_code: str, school_year: int, day: dt.date, born_by: dt.date, ratio: tuple[int, int] | None
) -> dict[str, Any]:
    """The parameters of the inputs' statement. Aged out on 1 September of the year they turn 6: born in year
    Y - 6 or before."""
    return {
        "r": region_code,
        "y": school_year,
        "day": day,
        "born_by": born_by,
        "aged": school_year - 6,
        "rp": ratio[0] if ratio else None,
        "rg": ratio[1] if ratio else None,
    }


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
    async def _plan_for_values(self) -> None:
        """A region's every group and child: plans that depend on the values pay here, and in what the rest of
        the transaction writes from them (persistence/pg.py PLANS)."""
        await self._execute("SET LOCAL plan_cache_mode = auto")

    async def add(
        self,
        region_code: str,
        school_year: int,
        day: dt.date,
        born_by: dt.date,
        ratio: tuple[int, int] | None,
        *,
        at: dt.datetime,
        by: str,
    ) -> tuple[int, str]:
        await self._plan_for_values()
        read = _read(region_code, school_year, day, born_by, ratio)
        row = await self._one(_ADD, s=IntakeRunStatus.DRAFT.value, at=at, by=by, **read)
        assert row is not None
        return int(row["id"]), str(row["inputs"])

    async def read_again(
        self,
        run_id: int,
        region_code: str,
        school_year: int,
        day: dt.date,
        born_by: dt.date,
        ratio: tuple[int, int] | None,
    ) -> str:
        await self._plan_for_values()
        row = await self._one(_READ_AGAIN, id=run_id, **_read(region_code, school_year, day, born_by, ratio))
        assert row is not None
        return str(row["inputs"])

    async def computed(
        self, run_id: int, totals: Totals, verdict: dict[str, object], groups: Sequence[GroupResult]
    ) -> None:
        await self._execute(
            "UPDATE intake_runs SET totals = CAST(:t AS jsonb), verdict = CAST(:v AS jsonb) WHERE id = :id",
            {"t": _totals_json(totals), "v": json.dumps(verdict), "id": run_id},
        )
        await self._save_groups(run_id, groups)

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
        groups: Sequence[GroupResult],
    ) -> None:
        await self._execute(
            """UPDATE intake_runs SET status = 'PUBLISHED', published_at = :at, totals = CAST(:t AS jsonb),
                verdict = CAST(:v AS jsonb), changes_at_publish = CAST(:c AS jsonb)
            WHERE id = :id""",
            {
                "at": at,
                "t": _totals_json(totals),
                "v": json.dumps(verdict),
                "c": json.dumps(list(changes)),
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
