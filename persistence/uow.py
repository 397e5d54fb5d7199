"""Unit of work: one connection, one transaction; rolls back unless told to commit (cosmicpython).

Runs on asyncpg directly (persistence/pg.py). A transaction that lost a lock conflict (deadlock, a NOWAIT
lock held elsewhere, a serialization failure) ends with `Contention`, which the use cases retry.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import asyncpg

from domain.errors import Contention
from domain.ports import Clock
from domain.timezone import local_date
from persistence.pg import Pools
from persistence.repositories.allocation import SqlAllocationRepository
from persistence.repositories.applications import SqlApplicationRepository
from persistence.repositories.claims import SqlClaimRepository
from persistence.repositories.intake import SqlIntakeRepository
from persistence.repositories.journal import SqlJournal
from persistence.repositories.offers import SqlOfferRepository
from persistence.repositories.persons import SqlPersonRepository
from persistence.repositories.places import SqlPlaceRepository

CONTENTION = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.SerializationError,
)


class SqlUnitOfWork:
    persons: SqlPersonRepository
    places: SqlPlaceRepository
    applications: SqlApplicationRepository
    claims: SqlClaimRepository
    offers: SqlOfferRepository
    allocation: SqlAllocationRepository
    intake: SqlIntakeRepository
    journal: SqlJournal

    def __init__(self, pools: Pools, clock: Clock) -> None:
        self._pools = pools
        self._clock = clock
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Self:
        pool = await self._pools.get("write")
        self._conn = conn = await pool.acquire()
        try:
            # The transaction's "today" for the seat functions (kezek_today(), migration 0006), in the same
            # round trip as BEGIN (a simple query: the date is ours, not a parameter).
            today = local_date(self._clock.now()).isoformat()
            await conn.execute(f"BEGIN; SELECT set_config('kezek.today', '{today}', true)")
        except BaseException:
            await pool.release(conn)
            raise
        p = self._pools
        self.persons = SqlPersonRepository(conn, p)
        self.places = SqlPlaceRepository(conn, p)
        self.applications = SqlApplicationRepository(conn, p)
        self.claims = SqlClaimRepository(conn, p)
        self.offers = SqlOfferRepository(conn, p)
        self.allocation = SqlAllocationRepository(conn, p, self.places)
        self.intake = SqlIntakeRepository(conn, p)
        self.journal = SqlJournal(conn, p)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        finally:
            await (await self._pools.get("write")).release(conn)
        if isinstance(exc, CONTENTION):
            raise Contention(str(exc)) from exc

    async def flush(self) -> None:
        await self.applications.save_all()

    async def commit(self) -> None:
        await self.flush()
        await self.journal.write()
        assert self._conn is not None
        await self._conn.execute("COMMIT")
