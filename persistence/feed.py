"""The subscription feed: rows of `events`, their positions, and a LISTEN connection that wakes on new ones.

Writers insert events without a position, in their own transactions, with no lock in common. `sequence`
gives committed events their positions: one sequencer at a time (it holds `feed_head`'s row), in the order
the events became visible to it, so positions are dense and a reader that has position p has every event
up to p. A subscriber's cursor is a position: replaying `after` it never skips or repeats an event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.db import raw_connect
from persistence.pg import FEED, Pools
from persistence.repositories.journal import FEED_CHANNEL

RETENTION = dt.timedelta(days=7)
BATCH = 5000

_COLUMNS = """position AS id, at, stream, kind, kindergarten_id, group_id, free_seats, region_code, district_code,
    offer_id, application_id, child_iin"""

_SEQUENCE = f"""
WITH todo AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM events WHERE position IS NULL ORDER BY id LIMIT {BATCH}
), done AS (
    UPDATE events e SET position = h.position + t.n FROM todo t, feed_head h
    WHERE e.id = t.id AND h.id = 1 RETURNING 1
)
UPDATE feed_head SET position = position + (SELECT count(*) FROM done) WHERE id = 1
RETURNING (SELECT count(*) FROM done) AS n, position AS head"""


@dataclass(frozen=True, slots=True)
class Sequenced:
    given: int  # events given a position by this call
    head: int  # the feed's head when it committed: every position up to it is committed


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int  # the event's position in the feed: its cursor
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
    def __init__(self, engine: AsyncEngine, pools: Pools) -> None:
        self._engine = engine
        self._pools = pools

    async def sequence(self) -> Sequenced:
        """Positions for the committed events that have none.

        On asyncpg directly, three round trips a pass: every process's broker runs one after the writes of each
        few milliseconds (graph/broker.py), and SQLAlchemy's execution layer cost more than the statements."""
        given = 0
        async with (await self._pools.get(FEED)).acquire() as conn:
            while True:
                # The lock in a statement of its own: the next one then reads with a snapshot taken after the lock
                # was granted, so it never sees as unsequenced what the previous sequencer sequenced. A pass cut
                # short is rolled back by the pool when the connection goes back (persistence/pg.py).
                await conn.execute("BEGIN; SELECT position FROM feed_head WHERE id = 1 FOR UPDATE")
                row = await conn.fetchrow(_SEQUENCE)
                await conn.execute("COMMIT")
                assert row is not None
                given += int(row["n"])
                if row["n"] < BATCH:
                    return Sequenced(given, int(row["head"]))

    async def after(self, position: int, limit: int = 500) -> list[StoredEvent]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(f"SELECT {_COLUMNS} FROM events WHERE position > :p ORDER BY position LIMIT :n"),
                    {"p": position, "n": limit},
                )
            ).mappings()
            return [StoredEvent(**dict(r)) for r in rows.all()]

    async def last_id(self) -> int:
        """The position of the newest sequenced event (0 when there is none)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(text("SELECT position FROM feed_head WHERE id = 1"))).scalar_one())

    async def oldest_kept(self) -> tuple[int, dt.datetime] | None:
        """(position, at) of the oldest event still kept, or None when the feed is empty."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT position, at FROM events WHERE position IS NOT NULL ORDER BY position LIMIT 1")
                )
            ).first()
        return (int(row.position), row.at) if row else None

    async def event(self, position: int) -> StoredEvent | None:
        async with self._engine.connect() as conn:
            row = (
                (await conn.execute(text(f"SELECT {_COLUMNS} FROM events WHERE position = :p"), {"p": position}))
                .mappings()
                .first()
            )
        return StoredEvent(**dict(row)) if row else None

    async def prune(self, now: dt.datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                text("DELETE FROM events WHERE at < :t AND position IS NOT NULL"), {"t": now - RETENTION}
            )
        return int(result.rowcount or 0)


async def listen(url: str, on_notify: Callable[[], None]) -> Any:
    """A dedicated connection that calls on_notify for every NOTIFY on the feed channel."""
    conn = await raw_connect(url)
    await conn.add_listener(FEED_CHANNEL, lambda *_: on_notify())
    # A lost connection wakes the broker too, so it reconnects at once instead of at its next poll.
    conn.add_termination_listener(lambda *_: on_notify())
    return conn
