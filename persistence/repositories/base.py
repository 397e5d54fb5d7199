"""What every repository shares: the unit of work's connection and ways to run `:name`-parameter SQL on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from persistence.pg import Pools, positional
from persistence.rows import Row


class Repository:
    def __init__(self, conn: asyncpg.Connection, pools: Pools) -> None:
        self.conn = conn
        self._pools = pools

    def _compiled(self, sql: str) -> tuple[str, tuple[str, ...]]:
        statement, names = positional(sql)
        self._pools.heard(statement)
        return statement, names

    async def _rows(self, sql: str, **params: Any) -> Sequence[Row]:
        statement, names = self._compiled(sql)
        rows: Sequence[Row] = await self.conn.fetch(statement, *[params[n] for n in names])
        return rows

    async def _one(self, sql: str, **params: Any) -> Row | None:
        statement, names = self._compiled(sql)
        row: Row | None = await self.conn.fetchrow(statement, *[params[n] for n in names])
        return row

    async def _ids(self, sql: str, **params: Any) -> list[int]:
        """The `id` column of every row (worker passes claim their rows this way)."""
        return [int(r["id"]) for r in await self._rows(sql, **params)]

    async def _new_id(self, sql: str, **params: Any) -> int:
        """The id an INSERT … RETURNING id gave the new row."""
        row = await self._one(sql, **params)
        assert row is not None
        return int(row["id"])

    async def _execute(self, sql: str, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> None:
        statement, names = self._compiled(sql)
        if isinstance(params, list):
            await self.conn.executemany(statement, [[p[n] for n in names] for p in params])
        else:
            await self.conn.execute(statement, *[(params or {})[n] for n in names])

    @staticmethod
    def lock(for_update: bool) -> str:
        return " FOR UPDATE" if for_update else ""
