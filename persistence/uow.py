"""Unit of work: one connection, one transaction; rolls back unless told to commit (cosmicpython)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from persistence.repositories.applications import SqlApplicationRepository
from persistence.repositories.candidates import SqlCandidateReads
from persistence.repositories.claims import SqlClaimRepository
from persistence.repositories.journal import SqlJournal
from persistence.repositories.offers import SqlOfferRepository
from persistence.repositories.persons import SqlPersonRepository
from persistence.repositories.places import SqlPlaceRepository


class SqlUnitOfWork:
    persons: SqlPersonRepository
    places: SqlPlaceRepository
    applications: SqlApplicationRepository
    claims: SqlClaimRepository
    offers: SqlOfferRepository
    candidates: SqlCandidateReads
    journal: SqlJournal

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        conn = self._conn
        self.persons = SqlPersonRepository(conn)
        self.places = SqlPlaceRepository(conn)
        self.applications = SqlApplicationRepository(conn)
        self.claims = SqlClaimRepository(conn)
        self.offers = SqlOfferRepository(conn)
        self.candidates = SqlCandidateReads(conn)
        self.journal = SqlJournal(conn)
        await self.journal.take_allocation_lock()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None

    async def flush(self) -> None:
        await self.applications.save_all()

    async def commit(self) -> None:
        assert self._conn is not None
        await self.flush()
        await self.journal.write()
        await self._conn.commit()
