"""Queries behind the sandbox adapters of the outside registries (integrations/sandbox.py).

They stand in for other services, so they run on a pool of their own, and are not counted among Kezek's own
statements (persistence/pg.py listeners)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.model import Person
from persistence.pg import Pools, positional
from persistence.rows import person_from


class SandboxStore:
    def __init__(self, pools: Pools) -> None:
        self._pools = pools

    async def _rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        statement, names = positional(sql)
        async with (await self._pools.get("sandbox")).acquire() as conn:
            return [dict(r) for r in await conn.fetch(statement, *[params[n] for n in names])]

    async def person(self, iin: str) -> Person | None:
        rows = await self._rows("SELECT * FROM sandbox_persons WHERE iin = :i", i=iin)
        return person_from(rows[0]) if rows else None

    async def representatives(self, child_iin: str) -> list[str]:
        rows = await self._rows(
            "SELECT representative_iin FROM sandbox_families WHERE child_iin = :c ORDER BY 1", c=child_iin
        )
        return [r["representative_iin"] for r in rows]

    async def children(self, iin: str) -> list[str]:
        rows = await self._rows(
            "SELECT child_iin FROM sandbox_families WHERE representative_iin = :r ORDER BY 1", r=iin
        )
        return [r["child_iin"] for r in rows]

    async def benefits(self, iins: list[str]) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT iin, category, evidence_id FROM sandbox_benefits WHERE iin = ANY(:i) ORDER BY 1, 2, 3",
            i=iins,
        )

    async def health(self, child_iin: str) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT kind, document_id, issued_on FROM sandbox_health WHERE child_iin = :c ORDER BY issued_on",
            c=child_iin,
        )

    async def record_sms(self, message_id: str, to: str, text_: str, language: str, at: dt.datetime) -> None:
        # The message id makes a retried send a no-op, as a real gateway drops duplicates.
        await self._rows(
            """INSERT INTO sandbox_sms (message_id, recipient, text, language, created_at)
            VALUES (:m, :to, :t, :l, :at) ON CONFLICT (message_id) DO NOTHING""",
            m=message_id,
            to=to,
            t=text_,
            l=language,
            at=at,
        )

    async def sent_messages(self, phone: str, limit: int = 100) -> list[dict[str, Any]]:
        return await self._rows(
            """SELECT message_id AS id, recipient AS to, text, language, created_at FROM sandbox_sms
            WHERE recipient = :p ORDER BY sandbox_sms.id DESC LIMIT :n""",
            p=phone,
            n=limit,
        )
