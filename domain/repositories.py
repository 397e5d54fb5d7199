"""What the use cases need from storage, one repository per aggregate; persistence/ implements these
(cosmicpython's ports). A unit of work is one transaction: nothing is written unless it commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from domain.allocation import Candidate
from domain.commands import NewGroup, NewKindergarten
from domain.feed import FeedEvent
from domain.intake import GroupResult, Inputs, IntakeRun, Totals
from domain.model import (
    Actor,
    Application,
    AuditRecord,
    ClaimStatus,
    Contract,
    District,
    Enrollment,
    Group,
    GroupType,
    Kindergarten,
    Language,
    Offer,
    OutboxMessage,
    Person,
    PriorityClaim,
    PriorityTier,
)
from domain.queue_order import QueueKey, QueueOrder


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """A choice entering (+1) or leaving (-1) a queue; those behind it see their position move."""

    queue: QueueKey
    order: QueueOrder
    delta: int
    reason: str
    own_delta: int | None = None  # the mover's own position change, when known


class PersonRepository(Protocol):
    """Kezek's snapshot of the people it dealt with and their legal representations."""

    async def upsert(self, persons: list[Person], now: dt.datetime) -> None: ...
    async def record_family(self, child: Person, representatives: list[Person], now: dt.datetime) -> None:
        """The child and its representatives, as the registry knows them now, and who represents whom."""
        ...

    async def set_children(self, representative_iin: str, child_iins: list[str]) -> None: ...
    async def representatives(self, child_iin: str) -> list[str]: ...
    async def children_of_all(self, representative_iins: list[str]) -> list[str]: ...
    async def siblings(self, child_iin: str) -> list[str]:
        """Other children of the child's representatives."""
        ...

    async def get(self, iin: str) -> Person | None: ...


class FamilyReads(Protocol):
    """Read outside any unit of work: the status query, which bank apps poll, asks it on every request."""

    async def family(self, iin: str) -> tuple[dt.datetime | None, list[str]]:
        """When the person's children were last read from the registry, and those children."""
        ...


@dataclass(frozen=True, slots=True)
class CandidateAsk:
    """One group's first candidates for a seat free today, of one tier or of all (the batch allocator's)."""

    group: Group
    born_by: dt.date
    tier: PriorityTier | None = None


class PlaceRepository(Protocol):
    async def district(self, code: str) -> District | None: ...
    async def kindergartens(self, ids: list[int]) -> dict[int, Kindergarten]: ...
    async def kindergarten(self, kindergarten_id: int) -> Kindergarten | None: ...
    async def kindergarten_by_external_id(self, external_id: str) -> Kindergarten | None: ...
    async def groups_of(self, kindergarten_ids: list[int]) -> list[Group]: ...
    async def fitting_groups(
        self, kindergarten_ids: list[int], birth_year: int, language: Language, group_type: GroupType
    ) -> dict[int, list[Group]]:
        """Every one of these kindergartens that exists, with its groups a child of that birth year, language
        and group type fits (none, for one without)."""
        ...

    async def group(self, group_id: int, *, for_update: bool = False) -> Group | None: ...
    async def groups(self, group_ids: list[int]) -> dict[int, Group]: ...
    async def groups_and_kindergartens(
        self, group_ids: list[int], *, for_update: bool = False
    ) -> dict[int, tuple[Group, Kindergarten]]:
        """Locked (`for_update`) in id order."""
        ...

    async def group_and_kindergarten(
        self, group_id: int, *, for_update: bool = False
    ) -> tuple[Group, Kindergarten] | None: ...
    async def add_kindergarten(self, k: NewKindergarten) -> int: ...
    async def add_group(self, kindergarten_id: int, g: NewGroup) -> int: ...
    async def set_capacity(self, group_id: int, capacity: int) -> None:
        """Of a group read for update: its seats cannot change meanwhile, and the database refuses a capacity
        below what the group holds on any day all the same."""
        ...

    async def set_capacities(self, capacities: dict[int, int]) -> None:
        """`set_capacity` of many groups (group id → capacity) in one statement."""
        ...

    async def schedule_capacity(self, group_id: int, capacity: int | None, since: dt.date | None) -> None:
        """The capacity from a later date (None, None: no schedule)."""
        ...

    async def peak(self, group_id: int, day: dt.date, until: dt.date | None) -> int:
        """The most seats the group holds on any day in [day, until) (until None: for good)."""
        ...

    async def least_free(self, group_id: int, day: dt.date, until: dt.date | None) -> int:
        """The fewest seats the group has free on any day in [day, until)."""
        ...

    async def seats_from(self, group_ids: list[int], day: dt.date) -> dict[int, int]:
        """Each group's seats free on every day from `day` on."""
        ...

    async def schedules_due(self, today: dt.date, limit: int) -> list[Group]:
        """Groups whose scheduled capacity applies from today or before, locked."""
        ...

    async def apply_schedule(self, group_id: int) -> None: ...
    async def school_day(self) -> dt.date:
        """The last day the groups were counted for, locked until the transaction ends."""
        ...

    async def count_day(self, since: dt.date, today: dt.date) -> list[tuple[int, int, int]]:
        """Counts again the groups whose seats changed on a day in (since, today]; (group, kindergarten, free
        seats) of those whose free seats changed."""
        ...

    async def set_school_day(self, today: dt.date) -> None: ...


class ApplicationRepository(Protocol):
    """Applications with their choices and sibling groups. `save` writes only what changed since the
    application was read; the unit of work saves every application it read for update before it commits."""

    async def reserve(self, child_iin: str) -> int:
        """Serialises submissions for this child until the transaction ends; the next application id."""
        ...

    async def active_for_child(self, child_iin: str) -> Application | None: ...
    async def add(self, application: Application, benefit_check_at: dt.datetime, benefit_failures: int) -> None:
        """The new application with its choices, and when the benefits registry is to be asked again."""
        ...

    async def get(
        self, application_id: int, *, for_update: bool = False, skip_locked: bool = False
    ) -> Application | None:
        """`skip_locked`: None for a row locked elsewhere, instead of waiting for it."""
        ...

    async def get_many(self, application_ids: list[int]) -> list[Application]:
        """These applications, locked for update without waiting (one locked elsewhere raises Contention)."""
        ...

    async def lock_available(self, application_ids: list[int]) -> dict[int, Application]:
        """Those of these applications not locked elsewhere, locked for update; the others are left out."""
        ...

    async def save(self, application: Application) -> None: ...
    async def positions(self, application_id: int) -> dict[int, int | None]:
        """Kindergarten id → position of that choice (None while not standing in that queue)."""
        ...

    async def sibling_kindergartens(self, child_iins: list[str]) -> set[int]:
        """Kindergartens where any of these children is enrolled now."""
        ...

    async def kindergartens_of_siblings(self, child_iin: str) -> set[int]:
        """Kindergartens where a brother or sister of this child (a common representative) is enrolled now."""
        ...

    async def set_sibling_priority(self, child_iins: list[str], kindergarten_id: int, priority: bool) -> None:
        """Marks these children's waiting choices at the kindergarten as having (or not) a sibling there."""
        ...

    async def areas(self, application_id: int) -> list[tuple[str | None, str | None]]:
        """(region, district) of the child and of every chosen or enrolled kindergarten."""
        ...

    async def due_for_aging(self, born_up_to: int, limit: int) -> list[int]: ...
    async def due_for_benefit_check(self, now: dt.datetime, limit: int) -> list[int]: ...
    async def inactive(self, limit: int) -> list[int]: ...
    async def schedule_benefit_check(self, application_id: int, at: dt.datetime, failures: int) -> None: ...
    async def benefit_check_failures(self, application_id: int) -> int: ...
    async def new_sibling_group(self, at: dt.datetime) -> int: ...
    async def sibling_group_members(self, sibling_group_id: int) -> list[int]: ...


class ClaimRepository(Protocol):
    async def for_application(self, application_id: int) -> list[PriorityClaim]: ...
    async def add(self, claim: PriorityClaim) -> int: ...
    async def get(self, claim_id: int, *, for_update: bool = False) -> PriorityClaim | None: ...
    async def set_status(
        self, claim_id: int, status: ClaimStatus, actor: Actor, note: str | None, at: dt.datetime
    ) -> None: ...
    async def due_manual(self, now: dt.datetime, limit: int) -> list[int]: ...


class OfferRepository(Protocol):
    """Offers, the contracts issued on them and the enrolments they end in."""

    async def add(self, offer: Offer) -> int: ...
    async def add_many(self, offers: list[Offer]) -> list[int]:
        """In one statement, one offer per application; their ids in the same order."""
        ...

    async def live_for_many(self, application_ids: list[int]) -> dict[int, Offer]:
        """Application id → its live offer, locked without waiting."""
        ...

    async def get(self, offer_id: int, *, for_update: bool = False) -> Offer | None: ...
    async def live_for(self, application_id: int, *, for_update: bool = False) -> Offer | None: ...
    async def try_lock(self, offer_id: int) -> bool:
        """Locks the offer without waiting: False when it is locked elsewhere."""
        ...

    async def live_of_sibling_group(self, sibling_group_id: int) -> list[Offer]: ...
    async def live_above_tier(self, application_id: int, tier: PriorityTier) -> list[Offer]:
        """Live offers made on a better tier than the application now has."""
        ...

    async def save(self, offer: Offer, at: dt.datetime) -> None: ...
    async def due(self, now: dt.datetime, limit: int) -> list[int]: ...
    async def due_reminders(self, now: dt.datetime, limit: int) -> list[int]: ...
    async def mark_reminded(self, offer_id: int, at: dt.datetime) -> None: ...
    async def add_contract(self, c: Contract) -> int: ...
    async def contract_for_offer(self, offer_id: int) -> Contract | None: ...
    async def contract(self, contract_id: int) -> Contract | None: ...
    async def save_contract(self, c: Contract) -> None: ...
    async def enrollment(self, child_iin: str, *, for_update: bool = False) -> Enrollment | None:
        """The child's enrolment in force, else the next to start."""
        ...

    async def enrollments(self, child_iin: str, *, for_update: bool = False) -> list[Enrollment]:
        """The child's enrolments not ended, earliest first (two while an upgrade waits for its start)."""
        ...

    async def enroll(self, e: Enrollment, offer_id: int | None) -> int: ...
    async def end_enrollment(self, enrollment_id: int, at: dt.datetime, reason: str) -> None: ...
    async def set_departure(self, enrollment_id: int, leaves_on: dt.date | None) -> None: ...
    async def departures_due(self, today: dt.date, limit: int) -> list[str]:
        """Children whose enrolment's last day is before today, locked, skipping those locked elsewhere."""
        ...


class AllocationRepository(Protocol):
    """What the allocator reads and claims, and the locks that keep it apart from new candidates."""

    async def candidates(
        self,
        group: Group,
        day: dt.date,
        born_by: dt.date,
        limit: int,
        tier: PriorityTier | None = None,
        after: QueueOrder | None = None,
    ) -> list[Candidate]:
        """Eligible candidates for a seat of this group free from `day` (old enough: born by `born_by`), in
        queue order, of one tier or of all."""
        ...

    async def first_candidates(self, asks: list[CandidateAsk], day: dt.date, limit: int) -> list[list[Candidate]]:
        """For each ask, the first `limit` eligible candidates for a seat of its group free from `day`, in queue
        order: `candidates` for many groups in one read."""
        ...

    async def offers_made(self, group_id: int) -> tuple[int, int]:
        """Offers made in the group to PRIMARY and to GENERAL children (the ratio's history)."""
        ...

    async def offers_made_many(self, group_ids: list[int]) -> dict[int, tuple[int, int]]: ...

    async def lock_for_candidates(
        self,
        kindergarten_ids: list[int],
        birth_year: int,
        language: str,
        group_type: str,
        today: dt.date,
        until: dt.date,
    ) -> list[int]:
        """Share-locks the groups a new candidate fits (no allocation of them runs until this transaction
        ends); returns those with a seat to offer (free today, or from a day up to `until` not waiting for an
        intake run)."""
        ...

    async def intake_published(self, region_code: str, school_year: int) -> bool: ...

    async def claim(self, group_id: int) -> tuple[Group, Kindergarten] | None:
        """Takes a queued group off the queue and locks it, without waiting; None when it is not queued.
        Raises Contention when the group is locked elsewhere (it stays queued)."""
        ...

    async def claim_many(self, group_ids: list[int]) -> tuple[dict[int, tuple[Group, Kindergarten]], list[int]]:
        """`claim` for many groups in one statement: those taken off the queue and locked, and those locked
        elsewhere (they stay queued); a group not queued is in neither."""
        ...

    async def try_lock_group(self, group_id: int) -> bool:
        """Locks another group without waiting: False when it is locked elsewhere."""
        ...

    async def due(self, now: dt.datetime, limit: int) -> list[int]: ...
    async def postpone(self, group_id: int, until: dt.datetime) -> None: ...
    async def enqueue_free(self, now: dt.datetime, until: dt.date) -> int: ...


class IntakeRepository(Protocol):
    """Intake runs: a region's inputs on a day, kept in the run that reads them; the runs and their per-group
    results."""

    async def add(
        self,
        region_code: str,
        school_year: int,
        day: dt.date,
        born_by: dt.date,
        ratio: tuple[int, int] | None,
        *,
        at: dt.datetime,
        by: str,
    ) -> tuple[int, str]:
        """A new DRAFT run of the region, keeping its inputs as they are read now: the groups with seats free
        from `day`, and the candidates on that day (old enough: born by `born_by`; not of school age in the
        year). Its id and those inputs as stored (domain/intake.py `inputs_from` reads them); its totals,
        verdict and groups come with `computed`."""
        ...

    async def read_again(
        self,
        run_id: int,
        region_code: str,
        school_year: int,
        day: dt.date,
        born_by: dt.date,
        ratio: tuple[int, int] | None,
    ) -> str:
        """The inputs read again from the data as it is now, kept in the run in place of those it had; as
        stored."""
        ...

    async def computed(
        self, run_id: int, totals: Totals, verdict: dict[str, object], groups: Sequence[GroupResult]
    ) -> None: ...
    async def get(self, run_id: int, *, for_update: bool = False) -> IntakeRun | None: ...
    async def current(self, region_code: str, school_year: int) -> list[IntakeRun]:
        """The region's draft and published runs for the year."""
        ...

    async def group_results(self, run_id: int) -> list[GroupResult]: ...
    async def stored_inputs(self, run_id: int) -> Inputs | None: ...
    async def lock_region(self, region_code: str) -> int:
        """Locks every group of the region, in id order, until the transaction ends."""
        ...

    async def published(
        self,
        run_id: int,
        at: dt.datetime,
        totals: Totals,
        verdict: dict[str, object],
        changes: Sequence[str],
        groups: Sequence[GroupResult],
    ) -> None: ...
    async def discarded(self, run_id: int, at: dt.datetime) -> None: ...
    async def numbers(self, application_ids: Sequence[int]) -> dict[int, str]: ...


class Journal(Protocol):
    """Append-only records written with the change: audit, outbox, queue events and the feed."""

    def audit(self, actor: Actor, record: AuditRecord, at: dt.datetime) -> None: ...
    def message(self, message: OutboxMessage, at: dt.datetime) -> None: ...
    def queue_events(self, application_id: int, events: list[QueueEvent], at: dt.datetime) -> None: ...
    def publish(self, event: FeedEvent, at: dt.datetime) -> None: ...
    def allocate(self, group_ids: list[int], due_at: dt.datetime) -> None:
        """Queues these groups for allocation once this transaction commits."""
        ...


class UnitOfWork(Protocol):
    @property
    def persons(self) -> PersonRepository: ...
    @property
    def places(self) -> PlaceRepository: ...
    @property
    def applications(self) -> ApplicationRepository: ...
    @property
    def claims(self) -> ClaimRepository: ...
    @property
    def offers(self) -> OfferRepository: ...
    @property
    def allocation(self) -> AllocationRepository: ...
    @property
    def intake(self) -> IntakeRepository: ...
    @property
    def journal(self) -> Journal: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def flush(self) -> None:
        """Writes the applications changed so far, so that reads in this transaction see them."""
        ...

    async def commit(self) -> None: ...
