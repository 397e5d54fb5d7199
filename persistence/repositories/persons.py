"""Kezek's snapshot of persons and their legal representations (docs/product.md §9)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.model import Person
from persistence.repositories.base import Repository
from persistence.rows import person_from

_UPSERT = """INSERT INTO persons (iin, full_name, birth_date, sex, alive, district_code, phone, refreshed_at)
    SELECT u.*, :now FROM unnest(CAST(:p_iin AS text[]), CAST(:p_name AS text[]), CAST(:p_born AS date[]),
        CAST(:p_sex AS text[]), CAST(:p_alive AS boolean[]), CAST(:p_district AS text[]), CAST(:p_phone AS text[]))
        AS u(iin, full_name, birth_date, sex, alive, district_code, phone)
    ON CONFLICT (iin) DO UPDATE SET full_name = EXCLUDED.full_name, birth_date = EXCLUDED.birth_date,
        sex = EXCLUDED.sex, alive = EXCLUDED.alive, district_code = EXCLUDED.district_code,
        phone = EXCLUDED.phone, refreshed_at = EXCLUDED.refreshed_at"""


def _person_columns(persons: list[Person], now: dt.datetime) -> dict[str, Any]:
    return {
        "now": now,
        "p_iin": [p.iin for p in persons],
        "p_name": [p.full_name for p in persons],
        "p_born": [p.birth_date for p in persons],
        "p_sex": [p.sex for p in persons],
        "p_alive": [p.alive for p in persons],
        "p_district": [p.district_code for p in persons],
        "p_phone": [p.phone for p in persons],
    }


class SqlPersonRepository(Repository):
    async def upsert(self, persons: list[Person], now: dt.datetime) -> None:
        if persons:
            await self._execute(_UPSERT, _person_columns(persons, now))

    async def record_family(self, child: Person, representatives: list[Person], now: dt.datetime) -> None:
        persons = [child, *representatives]
        await self._execute(
            f"""WITH p AS ({_UPSERT} RETURNING 1), gone AS (
                DELETE FROM representations WHERE child_iin = :child AND NOT (representative_iin = ANY(:reps))
            )
            INSERT INTO representations (child_iin, representative_iin)
            SELECT :child, r FROM unnest(CAST(:reps AS text[])) AS r ON CONFLICT DO NOTHING""",
            {**_person_columns(persons, now), "child": child.iin, "reps": [r.iin for r in representatives]},
        )

    async def set_children(self, representative_iin: str, child_iins: list[str]) -> None:
        await self._execute(
            "DELETE FROM representations WHERE representative_iin = :r AND NOT (child_iin = ANY(:c))",
            {"r": representative_iin, "c": child_iins},
        )
        await self._execute(
            """INSERT INTO representations (child_iin, representative_iin)
            SELECT c, :r FROM unnest(CAST(:c AS text[])) AS c ON CONFLICT DO NOTHING""",
            {"r": representative_iin, "c": child_iins},
        )
        await self._execute(
            "UPDATE persons SET children_refreshed_at = now() WHERE iin = :r", {"r": representative_iin}
        )

    async def representatives(self, child_iin: str) -> list[str]:
        rows = await self._rows(
            "SELECT representative_iin FROM representations WHERE child_iin = :c ORDER BY 1", c=child_iin
        )
        return [r["representative_iin"] for r in rows]

    async def children_of_all(self, representative_iins: list[str]) -> list[str]:
        rows = await self._rows(
            "SELECT DISTINCT child_iin FROM representations WHERE representative_iin = ANY(:r) ORDER BY 1",
            r=representative_iins,
        )
        return [r["child_iin"] for r in rows]

    async def siblings(self, child_iin: str) -> list[str]:
        rows = await self._rows(
            """SELECT DISTINCT b.child_iin FROM representations a
            JOIN representations b ON b.representative_iin = a.representative_iin AND b.child_iin <> a.child_iin
            WHERE a.child_iin = :c ORDER BY 1""",
            c=child_iin,
        )
        return [r["child_iin"] for r in rows]

    async def get(self, iin: str) -> Person | None:
        row = await self._one("SELECT * FROM persons WHERE iin = :i", i=iin)
        return person_from(row) if row else None
