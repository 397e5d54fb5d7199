"""Regions, districts, kindergartens and groups (docs/product.md §2)."""

from __future__ import annotations

import asyncpg

from domain.commands import NewGroup, NewKindergarten
from domain.model import District, Group, GroupType, Kindergarten, Language
from persistence.pg import Pools
from persistence.repositories.base import Repository
from persistence.rows import group_from, kindergarten_from, kindergarten_of_group
from persistence.sql import KINDERGARTEN_AS_KG as _KINDERGARTEN_AS_KG
from persistence.sql import KINDERGARTEN_COLUMNS

_KINDERGARTENS = f"SELECT {KINDERGARTEN_COLUMNS} FROM kindergartens k JOIN districts d ON d.code = k.district_code"


class SqlPlaceRepository(Repository):
    """Kindergartens are read once per unit of work (their names and area do not change within one)."""

    def __init__(self, conn: asyncpg.Connection, pools: Pools) -> None:
        super().__init__(conn, pools)
        self._kindergartens: dict[int, Kindergarten] = {}

    async def district(self, code: str) -> District | None:
        row = await self._one("SELECT * FROM districts WHERE code = :c", c=code)
        if row is None:
            return None
        return District(row["code"], row["region_code"], row["name_kk"], row["name_ru"])

    async def kindergartens(self, ids: list[int]) -> dict[int, Kindergarten]:
        missing = [i for i in ids if i not in self._kindergartens]
        if missing:
            rows = await self._rows(f"{_KINDERGARTENS} WHERE k.id = ANY(:ids)", ids=missing)
            self._kindergartens.update({r["id"]: kindergarten_from(r) for r in rows})
        return {i: self._kindergartens[i] for i in ids if i in self._kindergartens}

    async def kindergarten(self, kindergarten_id: int) -> Kindergarten | None:
        return (await self.kindergartens([kindergarten_id])).get(kindergarten_id)

    async def kindergarten_by_external_id(self, external_id: str) -> Kindergarten | None:
        row = await self._one(f"{_KINDERGARTENS} WHERE k.external_id = :e", e=external_id)
        return kindergarten_from(row) if row else None

    async def groups_of(self, kindergarten_ids: list[int]) -> list[Group]:
        rows = await self._rows(
            "SELECT * FROM groups WHERE kindergarten_id = ANY(:ids) ORDER BY kindergarten_id, id", ids=kindergarten_ids
        )
        return [group_from(r) for r in rows]

    async def fitting_groups(
        self, kindergarten_ids: list[int], birth_year: int, language: Language, group_type: GroupType
    ) -> dict[int, list[Group]]:
        rows = await self._rows(
            """SELECT k.id AS kg, g.* FROM kindergartens k
            LEFT JOIN groups g ON g.kindergarten_id = k.id AND :y BETWEEN g.birth_year_from AND g.birth_year_to
                AND g.language = :l AND g.group_type = :t
            WHERE k.id = ANY(:ids) ORDER BY k.id, g.id""",
            ids=kindergarten_ids,
            y=birth_year,
            l=language.value,
            t=group_type.value,
        )
        out: dict[int, list[Group]] = {}
        for r in rows:
            groups = out.setdefault(int(r["kg"]), [])
            if r["id"] is not None:
                groups.append(group_from(r))
        return out

    async def group(self, group_id: int, *, for_update: bool = False) -> Group | None:
        row = await self._one(f"SELECT * FROM groups WHERE id = :g{self.lock(for_update)}", g=group_id)
        return group_from(row) if row else None

    async def group_and_kindergarten(
        self, group_id: int, *, for_update: bool = False
    ) -> tuple[Group, Kindergarten] | None:
        row = await self._one(
            f"""SELECT g.*, {_KINDERGARTEN_AS_KG} FROM groups g
            JOIN kindergartens k ON k.id = g.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE g.id = :g{" FOR UPDATE OF g" if for_update else ""}""",
            g=group_id,
        )
        if row is None:
            return None
        kindergarten = kindergarten_of_group(row)
        self._kindergartens[kindergarten.id] = kindergarten
        return group_from(row), kindergarten

    async def add_kindergarten(self, k: NewKindergarten) -> int:
        return await self._new_id(
            """INSERT INTO kindergartens (external_id, district_code, name_kk, name_ru, address, ownership, state_order)
            VALUES (:e, :d, :kk, :ru, :a, :o, :s) RETURNING id""",
            e=k.external_id,
            d=k.district_code,
            kk=k.name_kk,
            ru=k.name_ru,
            a=k.address,
            o=k.ownership.value,
            s=k.state_order,
        )

    async def add_group(self, kindergarten_id: int, g: NewGroup) -> int:
        return await self._new_id(
            """INSERT INTO groups (kindergarten_id, external_id, birth_year_from, birth_year_to, language,
                group_type, capacity) VALUES (:k, :e, :f, :t, :l, :g, :c) RETURNING id""",
            k=kindergarten_id,
            e=g.external_id,
            f=g.birth_year_from,
            t=g.birth_year_to,
            l=g.language.value,
            g=g.group_type.value,
            c=g.capacity,
        )

    async def set_capacity(self, group_id: int, capacity: int) -> None:
        await self._execute("UPDATE groups SET capacity = :c WHERE id = :g", {"c": capacity, "g": group_id})
