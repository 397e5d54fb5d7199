"""The subscription feed: rows of `events`, and a LISTEN connection that wakes on new ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.db import raw_connect

CHANNEL = "kezek_events"
RETENTION = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    at: dt.datetime
    stream: str
    kind: str
    kindergarten_id: int | None
    group_id: int | None
    free_seats: int | None
    region_code: str | None
    district_code: str | None
    offer_id: int | None
    application_id: int | None
    child_iin: str | None


class FeedStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def after(self, last_id: int, limit: int = 500) -> list[StoredEvent]:
        async with self._engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        text("SELECT * FROM events WHERE id > :i ORDER BY id LIMIT :n"), {"i": last_id, "n": limit}
                    )
                )
                .mappings()
                .all()
            )
        return [StoredEvent(**dict(r)) for r in rows]

    async def last_id(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(text("SELECT COALESCE(max(id), 0) FROM events"))).scalar_one())

    async def oldest_kept(self) -> tuple[int, dt.datetime] | None:
        """(id, at) of the oldest event still kept, or None when the feed is empty."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(text("SELECT id, at FROM events ORDER BY id LIMIT 1"))).first()
        return (int(row.id), row.at) if row else None

    async def event(self, event_id: int) -> StoredEvent | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(text("SELECT * FROM events WHERE id = :i"), {"i": event_id})).mappings().first()
        return StoredEvent(**dict(row)) if row else None

    async def prune(self, now: dt.datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(text("DELETE FROM events WHERE at < :t"), {"t": now - RETENTION})
        return int(result.rowcount or 0)


async def listen(url: str, on_notify: Callable[[], None]) -> Any:
    """A dedicated connection that calls on_notify for every NOTIFY on the feed channel."""
    conn = await raw_connect(url)
    await conn.add_listener(CHANNEL, lambda *_: on_notify())
    # A lost connection wakes the broker too, so it reconnects at once instead of at its next poll.
    conn.add_termination_listener(lambda *_: on_notify())
    return conn
