"""Kezek's snapshot of persons and their legal representations (docs/product.md §9)."""

from __future__ import annotations

import datetime as dt

from domain.model import Person
from persistence.repositories.base import Repository
from persistence.rows import person_from


class SqlPersonRepository(Repository):
    async def upsert(self, persons: list[Person], now: dt.datetime) -> None:
        if not persons:
            return
        await self._execute(
            """INSERT INTO persons (iin, full_name, birth_date, sex, alive, district_code, phone, refreshed_at)
            VALUES (:iin, :full_name, :birth_date, :sex, :alive, :district_code, :phone, :now)
            ON CONFLICT (iin) DO UPDATE SET full_name = EXCLUDED.full_name, birth_date = EXCLUDED.birth_date,
                sex = EXCLUDED.sex, alive = EXCLUDED.alive, district_code = EXCLUDED.district_code,
                phone = EXCLUDED.phone, refreshed_at = EXCLUDED.refreshed_at""",
            [
                {
                    "iin": p.iin,
                    "full_name": p.full_name,
                    "birth_date": p.birth_date,
                    "sex": p.sex,
                    "alive": p.alive,
                    "district_code": p.district_code,
                    "phone": p.phone,
                    "now": now,
                }
                for p in persons
            ],
        )

    async def set_representatives(self, child_iin: str, representative_iins: list[str]) -> None:
        await self._execute(
            "DELETE FROM representations WHERE child_iin = :c AND NOT (representative_iin = ANY(:r))",
            {"c": child_iin, "r": representative_iins},
        )
        await self._execute(
            """INSERT INTO representations (child_iin, representative_iin)
            SELECT :c, r FROM unnest(CAST(:r AS text[])) AS r
            WHERE EXISTS (SELECT 1 FROM persons WHERE iin = r) ON CONFLICT DO NOTHING""",
            {"c": child_iin, "r": representative_iins},
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
