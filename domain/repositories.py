"""What the use cases need from storage; persistence/ implements these (cosmicpython's ports)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from domain.model import (
    Actor,
    Application,
    AuditRecord,
    ClaimStatus,
    District,
    Group,
    GroupType,
    Kindergarten,
    Language,
    Ownership,
    OutboxMessage,
    Person,
    PriorityClaim,
    QueueKey,
    QueueOrder,
)


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """A choice entering (+1) or leaving (-1) a queue; those behind it see their position move."""

    at: dt.datetime
    queue: QueueKey
    order: QueueOrder
    delta: int
    reason: str
    own_delta: int | None = None  # the mover's own position change, when known


class PersonRepository(Protocol):
    async def upsert(self, persons: list[Person], now: dt.datetime) -> None: ...
    async def set_representatives(self, child_iin: str, representative_iins: list[str]) -> None: ...
    async def set_children(self, representative_iin: str, child_iins: list[str]) -> None: ...
    async def representatives(self, child_iin: str) -> list[str]: ...
    async def children(self, representative_iin: str) -> list[str]: ...
    async def children_of_all(self, representative_iins: list[str]) -> list[str]: ...
    async def get(self, iin: str) -> Person | None: ...
    async def refreshed_at(self, iin: str) -> dt.datetime | None: ...


class PlaceRepository(Protocol):
    async def district(self, code: str) -> District | None: ...
    async def kindergartens(self, ids: list[int]) -> dict[int, Kindergarten]: ...
    async def kindergarten_by_external_id(self, external_id: str) -> Kindergarten | None: ...
    async def groups_of(self, kindergarten_ids: list[int]) -> list[Group]: ...
    async def group(self, group_id: int, *, for_update: bool = False) -> Group | None: ...
    async def add_kindergarten(
        self,
        external_id: str,
        district_code: str,
        name_kk: str,
        name_ru: str,
        address: str,
        ownership: Ownership,
        state_order: bool,
    ) -> int: ...
    async def add_group(
        self,
        kindergarten_id: int,
        external_id: str,
        birth_year_from: int,
        birth_year_to: int,
        language: Language,
        group_type: GroupType,
        capacity: int,
    ) -> int: ...
    async def set_capacity(self, group_id: int, capacity: int) -> bool:
        """False when the database refuses it (capacity below enrolled + held)."""
        ...


class ApplicationRepository(Protocol):
    async def lock_child(self, child_iin: str) -> None: ...
    async def active_for_child(self, child_iin: str) -> Application | None: ...
    async def next_id_and_number(self, year: int) -> tuple[int, str]: ...
    async def add(self, application: Application) -> None: ...
    async def get(self, application_id: int, *, for_update: bool = False) -> Application | None: ...
    async def save(self, application: Application) -> None:
        """Writes status, flags, tier and the choices (which follow the application's queue fields)."""
        ...
    async def positions(self, application_id: int) -> dict[int, int | None]:
        """Kindergarten id → position of that choice (None while not standing in that queue)."""
        ...
    async def sibling_kindergartens(self, child_iins: list[str]) -> set[int]:
        """Kindergartens where any of these children is enrolled now."""
        ...
    async def areas(self, application_id: int) -> list[tuple[str | None, str | None]]:
        """(region, district) of the child and of every chosen or enrolled kindergarten."""
        ...
    async def due_for_aging(self, today: dt.date, limit: int) -> list[int]: ...
    async def due_for_benefit_check(self, now: dt.datetime, limit: int) -> list[int]: ...
    async def schedule_benefit_check(self, application_id: int, at: dt.datetime, failures: int) -> None: ...
    async def benefit_check_failures(self, application_id: int) -> int: ...


class ClaimRepository(Protocol):
    async def for_application(self, application_id: int) -> list[PriorityClaim]: ...
    async def add(self, claim: PriorityClaim) -> int: ...
    async def get(self, claim_id: int, *, for_update: bool = False) -> PriorityClaim | None: ...
    async def set_status(
        self, claim_id: int, status: ClaimStatus, actor: Actor, note: str | None, at: dt.datetime
    ) -> None: ...
    async def due_manual(self, now: dt.datetime, limit: int) -> list[int]: ...


class JournalRepository(Protocol):
    """Append-only records: audit, outbox, queue events."""

    async def audit(self, actor: Actor, record: AuditRecord, at: dt.datetime) -> None: ...
    async def message(self, message: OutboxMessage, at: dt.datetime) -> None: ...
    async def queue_events(self, application_id: int, events: list[QueueEvent]) -> None: ...


class UnitOfWork(Protocol):
    persons: PersonRepository
    places: PlaceRepository
    applications: ApplicationRepository
    claims: ClaimRepository
    journal: JournalRepository

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...
