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

    async def persons(self, iins: list[str]) -> dict[str, Person]:
        rows = await self._rows("SELECT * FROM sandbox_persons WHERE iin = ANY(:i)", i=iins)
        return {r["iin"]: person_from(r) for r in rows}

    async def representatives(self, child_iins: list[str]) -> dict[str, list[str]]:
        """Each child's representatives, in IIN order."""
        return await self._related("child_iin", "representative_iin", child_iins)

    async def children(self, iins: list[str]) -> dict[str, list[str]]:
        """Each representative's children, in IIN order."""
        return await self._related("representative_iin", "child_iin", iins)

    async def _related(self, by: str, other: str, iins: list[str]) -> dict[str, list[str]]:
        # The column names are this module's own constants, never input.
        rows = await self._rows(
            f"SELECT {by} AS key, {other} AS iin FROM sandbox_families WHERE {by} = ANY(:i) ORDER BY {other}", i=iins
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r["key"], []).append(r["iin"])
        return out

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
