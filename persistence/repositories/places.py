"""Regions, districts, kindergartens and groups (docs/product.md §2)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from domain.commands import NewGroup, NewKindergarten
from domain.model import District, Group, GroupType, Kindergarten, Language
from persistence.pg import Pools
from persistence.repositories.base import Repository
from persistence.rows import group_from, kindergarten_from, kindergarten_of_group
from persistence.sql import KINDERGARTEN_AS_KG as _KINDERGARTEN_AS_KG
from persistence.sql import KINDERGARTEN_COLUMNS, LIVE

_KINDERGARTENS = f"SELECT {KINDERGARTEN_COLUMNS} FROM kindergartens k JOIN districts d ON d.code = k.district_code"


class SqlPlaceRepository(Repository):
    """Kindergartens are read once per unit of work (their names and area do not change within one)."""

    def __init__(self, conn: asyncpg.Connection, pools: Pools) -> None:
        super().__init__(conn, pools)
        self._kindergartens: dict[int, Kindergarten] = {}

    def keep(self, kindergarten: Kindergarten) -> Kindergarten:
        """A kindergarten another read of this unit of work brought (a claimed group's): not read again."""
        self._kindergartens[kindergarten.id] = kindergarten
        return kindergarten

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

    async def groups(self, group_ids: list[int]) -> dict[int, Group]:
        rows = await self._rows("SELECT * FROM groups WHERE id = ANY(:ids) ORDER BY id", ids=group_ids)
        return {int(r["id"]): group_from(r) for r in rows}

    async def group_and_kindergarten(
        self, group_id: int, *, for_update: bool = False
    ) -> tuple[Group, Kindergarten] | None:
        return (await self.groups_and_kindergartens([group_id], for_update=for_update)).get(group_id)

    async def groups_and_kindergartens(
        self, group_ids: list[int], *, for_update: bool = False
    ) -> dict[int, tuple[Group, Kindergarten]]:
        rows = await self._rows(
            f"""SELECT g.*, {_KINDERGARTEN_AS_KG} FROM groups g
            JOIN kindergartens k ON k.id = g.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE g.id = ANY(:ids) ORDER BY g.id{" FOR UPDATE OF g" if for_update else ""}""",
            ids=group_ids,
        )
        return {int(r["id"]): (group_from(r), self.keep(kindergarten_of_group(r))) for r in rows}

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
                group_type, capacity, opens_on) VALUES (:k, :e, :f, :t, :l, :g, :c, :o) RETURNING id""",
            k=kindergarten_id,
            e=g.external_id,
            f=g.birth_year_from,
            t=g.birth_year_to,
            l=g.language.value,
            g=g.group_type.value,
            c=g.capacity,
            o=g.opens_on,
        )

    async def set_capacity(self, group_id: int, capacity: int) -> None:
        await self.set_capacities({group_id: capacity})

    async def set_capacities(self, capacities: dict[int, int]) -> None:
        await self._execute(
            """UPDATE groups g SET capacity = u.c
            FROM unnest(CAST(:g AS bigint[]), CAST(:c AS int[])) AS u(g, c) WHERE g.id = u.g""",
            {"g": list(capacities), "c": list(capacities.values())},
        )

    async def schedule_capacity(self, group_id: int, capacity: int | None, since: dt.date | None) -> None:
        await self._execute(
            "UPDATE groups SET scheduled_capacity = :c, scheduled_from = :f WHERE id = :g",
            {"c": capacity, "f": since, "g": group_id},
        )

    async def peak(self, group_id: int, day: dt.date, until: dt.date | None) -> int:
        row = await self._one("SELECT group_peak(:g, :d, :u) AS n", g=group_id, d=day, u=until)
        assert row is not None
        return int(row["n"])

    async def least_free(self, group_id: int, day: dt.date, until: dt.date | None) -> int:
        row = await self._one("SELECT group_least_free(:g, :d, :u) AS n", g=group_id, d=day, u=until)
        assert row is not None
        return int(row["n"])

    async def seats_from(self, group_ids: list[int], day: dt.date) -> dict[int, int]:
        rows = await self._rows(
            "SELECT g AS id, (group_seats(g, :d)).free FROM unnest(CAST(:ids AS bigint[])) AS g", ids=group_ids, d=day
        )
        return {int(r["id"]): int(r["free"]) for r in rows}

    async def schedules_due(self, today: dt.date, limit: int) -> list[Group]:
        rows = await self._rows(
            """SELECT * FROM groups WHERE scheduled_from <= :d ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED""",
            d=today,
            n=limit,
        )
        return [group_from(r) for r in rows]

    async def apply_schedule(self, group_id: int) -> None:
        await self._execute(
            """UPDATE groups SET capacity = scheduled_capacity, scheduled_capacity = NULL, scheduled_from = NULL
            WHERE id = :g""",
            {"g": group_id},
        )

    async def school_day(self) -> dt.date:
        """The last day the daily pass counted the groups for, locked until this transaction ends."""
        row = await self._one("SELECT refreshed_on FROM school_days FOR UPDATE")
        assert row is not None
        return row["refreshed_on"]  # type: ignore[no-any-return]

    async def count_day(self, since: dt.date, today: dt.date) -> list[tuple[int, int, int]]:
        """Counts again, for `today`, the groups something started or ended for in (since, today]: enrolments
        starting or past their last day, offers' seats, schedules, openings. (group, kindergarten, free seats)
        of those whose free seats changed."""
        before = await self._rows(
            f"""SELECT id, free_seats FROM groups WHERE id IN (
                SELECT group_id FROM enrollments WHERE ended_at IS NULL AND since > :s AND since <= :t
                UNION SELECT group_id FROM enrollments
                    WHERE ended_at IS NULL AND leaves_on >= :s AND leaves_on < :t
                UNION SELECT group_id FROM offers WHERE status IN {LIVE}
                    AND starts_on > :s AND starts_on <= :t
                UNION SELECT id FROM groups WHERE opens_on > :s AND opens_on <= :t
                UNION SELECT id FROM groups WHERE free_from <= :t AND free_seats = 0
            ) ORDER BY id FOR UPDATE""",
            s=since,
            t=today,
        )
        if not before:
            return []
        ids = [int(r["id"]) for r in before]
        await self._rows("SELECT groups_refresh(g) FROM unnest(CAST(:ids AS bigint[])) AS g", ids=ids)
        after = await self._rows("SELECT id, kindergarten_id, free_seats FROM groups WHERE id = ANY(:ids)", ids=ids)
        old = {int(r["id"]): r["free_seats"] for r in before}
        return [
            (int(r["id"]), int(r["kindergarten_id"]), int(r["free_seats"]))
            for r in after
            if r["free_seats"] != old[int(r["id"])]
        ]

    async def set_school_day(self, today: dt.date) -> None:
        await self._execute("UPDATE school_days SET refreshed_on = :d", {"d": today})
