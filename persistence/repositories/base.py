"""What every repository shares: the transaction's connection and two ways to read rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


class Repository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _rows(self, sql: str, **params: Any) -> Sequence[RowMapping]:
        return (await self.conn.execute(text(sql), params)).mappings().all()

    async def _one(self, sql: str, **params: Any) -> RowMapping | None:
        return (await self.conn.execute(text(sql), params)).mappings().first()

    async def _ids(self, sql: str, **params: Any) -> list[int]:
        """The `id` column of every row (worker passes claim their rows this way)."""
        return [int(r["id"]) for r in await self._rows(sql, **params)]

    async def _new_id(self, sql: str, **params: Any) -> int:
        """The id an INSERT … RETURNING id gave the new row."""
        row = await self._one(sql, **params)
        assert row is not None
        return int(row["id"])

    async def _execute(self, sql: str, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> None:
        await self.conn.execute(text(sql), params or {})

    @staticmethod
    def lock(for_update: bool) -> str:
        return " FOR UPDATE" if for_update else ""
