"""asyncpg connections for the hot paths: pools opened at first use, statements written with `:name`
parameters and compiled once to asyncpg's `$n` by SQLAlchemy's own dialect, and listeners that see every
statement (how tests and the bench count statements per request).

Why not SQLAlchemy's execution layer here: on the status query and on every write it cost more CPU than the
statements themselves (bench/README.md). Migrations, imports and the worker's bulk passes stay on the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import lru_cache

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from persistence.db import asyncpg_params

# Generic plans for every prepared statement of these pools. Left to choose, PostgreSQL planned the hot
# statements again on every execution (a custom plan for each `= ANY($1)` array), and planning was most of
# their cost: the status query's statements took 3.5 ms of the server's CPU a request with custom plans and
# 1.7-2.0 ms with generic ones (bench/README.md, "Generic plans"). Their parameters are keys and small arrays
# whose plans do not depend on the values. A transaction of large set-based statements whose best plan does
# depend on them opts out: the summer intake's transactions with `SET LOCAL plan_cache_mode = auto`, the
# fairness report's reads through a pool of their own (REPORTS), where the national audit took 24-26 s with
# custom plans and 55-58 s with generic ones.
PLANS = {"plan_cache_mode": "force_generic_plan"}
REPORTS = "report"
FEED = "feed"  # the sequencer's connection (persistence/feed.py): a transaction of its own, like a write
_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
Listener = Callable[[str], None]


@lru_cache(maxsize=1024)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters as asyncpg's `$n`, compiled once per statement text."""
    compiled = text(sql).compile(dialect=_DIALECT)
    return str(compiled), tuple(compiled.positiontup or ())


async def _keep(_: asyncpg.Connection) -> None:
    """Read connections change no session state (single autocommit SELECTs): the pool's default reset query,
    a round trip on every release, is skipped."""


async def _end_transaction(conn: asyncpg.Connection) -> None:
    """Write connections leave only a transaction behind, and only if their holder was interrupted."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Pools:
    """Pools by purpose, opened at first use: a request holds its read connection until it ends, single reads
    and units of work take theirs from pools of their own, so none waits for connections the others hold."""

    def __init__(self, database_url: str, size: int) -> None:
        self._url = database_url
        self._size = size
        self._pools: dict[str, asyncpg.Pool] = {}
        self._opening: asyncio.Lock | None = None
        self.listeners: list[Listener] = []

    async def get(self, purpose: str) -> asyncpg.Pool:
        pool = self._pools.get(purpose)
        if pool is not None:
            return pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if purpose not in self._pools:
                dsn, host = asyncpg_params(self._url)
                self._pools[purpose] = await asyncpg.create_pool(
                    dsn,
                    host=host,
                    min_size=1,
                    max_size=self._size,
                    reset=_end_transaction if purpose in ("write", FEED) else _keep,
                    server_settings={
                        "application_name": f"kezek-{purpose}",
                        "timezone": "UTC",
                        **({} if purpose == REPORTS else PLANS),
                    },
                )
            return self._pools[purpose]

    def usage(self) -> dict[str, tuple[int, int, int]]:
        """(connections open, of them in use, the most it opens) of each pool opened so far, by purpose."""
        return {
            purpose: (pool.get_size(), pool.get_size() - pool.get_idle_size(), pool.get_max_size())
            for purpose, pool in self._pools.items()
        }

    def heard(self, statement: str) -> None:
        for listener in self.listeners:
            listener(statement)

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()
