"""Entities and value types of the queue, in the words of docs/product.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    CITIZEN = "citizen"
    KINDERGARTEN_STAFF = "kindergarten_staff"
    AKIMAT_OPERATOR = "akimat_operator"
    MINISTRY = "ministry"


class Language(enum.StrEnum):
    KK = "KK"
    RU = "RU"
    EN = "EN"


class GroupType(enum.StrEnum):
    GENERAL = "GENERAL"
    SPECIAL = "SPECIAL"
    SANATORIUM = "SANATORIUM"


class Ownership(enum.StrEnum):
    STATE = "STATE"
    PRIVATE = "PRIVATE"


class PriorityTier(enum.StrEnum):
    EXTRAORDINARY = "EXTRAORDINARY"
    PRIMARY = "PRIMARY"
    GENERAL = "GENERAL"

    @property
    def rank(self) -> int:
        """Sort key: lower comes first in a queue."""
        return _TIER_RANK[self]

    @staticmethod
    def from_rank(rank: int) -> PriorityTier:
        return _RANK_TIER[rank]


_TIER_RANK = {PriorityTier.EXTRAORDINARY: 0, PriorityTier.PRIMARY: 1, PriorityTier.GENERAL: 2}
_RANK_TIER = {v: k for k, v in _TIER_RANK.items()}


class PriorityCategory(enum.StrEnum):
    MILITARY = "MILITARY"
    SPECIAL_STATE_BODY = "SPECIAL_STATE_BODY"
    DISABLED_PARENT = "DISABLED_PARENT"
    ORPHAN = "ORPHAN"
    LARGE_FAMILY = "LARGE_FAMILY"
    SPECIAL_NEEDS = "SPECIAL_NEEDS"
    DISABLED_CHILD = "DISABLED_CHILD"
    TEACHER_CHILD = "TEACHER_CHILD"

    @property
    def tier(self) -> PriorityTier:
        if self in CLOSED_CATEGORIES:
            return PriorityTier.EXTRAORDINARY
        return PriorityTier.PRIMARY


# Categories whose registries are closed to Kezek: an operator must verify them by hand.
CLOSED_CATEGORIES = frozenset({PriorityCategory.MILITARY, PriorityCategory.SPECIAL_STATE_BODY})


class ClaimStatus(enum.StrEnum):
    VERIFIED = "VERIFIED"
    PENDING_MANUAL = "PENDING_MANUAL"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class ApplicationStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    OFFERED = "OFFERED"
    ENROLLING = "ENROLLING"
    ENROLLED = "ENROLLED"
    INACTIVE = "INACTIVE"
    WITHDRAWN = "WITHDRAWN"
    CLOSED = "CLOSED"
    AGED_OUT = "AGED_OUT"

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({ApplicationStatus.WITHDRAWN, ApplicationStatus.CLOSED, ApplicationStatus.AGED_OUT})
# Statuses that keep choices standing in queues (INACTIVE is active but out of every queue).
QUEUE_STATUSES = frozenset(
    {
        ApplicationStatus.QUEUED,
        ApplicationStatus.OFFERED,
        ApplicationStatus.ENROLLING,
        ApplicationStatus.ENROLLED,
    }
)


class OfferStatus(enum.StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    DECLINED = "DECLINED"
    LAPSED = "LAPSED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"
    ENROLLED = "ENROLLED"


class ErrorCode(enum.StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_IIN = "INVALID_IIN"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE_APPLICATION = "DUPLICATE_APPLICATION"
    NOT_LEGAL_REPRESENTATIVE = "NOT_LEGAL_REPRESENTATIVE"
    AGE_OUT_OF_RANGE = "AGE_OUT_OF_RANGE"
    TOO_MANY_CHOICES = "TOO_MANY_CHOICES"
    DUPLICATE_CHOICE = "DUPLICATE_CHOICE"
    NO_SUITABLE_GROUP = "NO_SUITABLE_GROUP"
    INVALID_STATE = "INVALID_STATE"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    CAPACITY_BELOW_OCCUPIED = "CAPACITY_BELOW_OCCUPIED"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    SIBLINGS_NOT_LINKABLE = "SIBLINGS_NOT_LINKABLE"
    REGISTRY_UNAVAILABLE = "REGISTRY_UNAVAILABLE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: recorded on every audit record."""

    role: Role | None
    subject: str | None
    channel: str | None
    region_code: str | None = None
    district_code: str | None = None
    kindergarten: str | None = None  # the staff member's kindergarten externalId


SYSTEM = Actor(role=None, subject="system", channel="kezek-worker")


@dataclass(frozen=True, slots=True)
class Person:
    iin: str
    full_name: str
    birth_date: dt.date
    sex: str
    alive: bool
    district_code: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class BenefitFinding:
    """One category the benefits registry reports for a child or a representative."""

    subject_iin: str
    category: PriorityCategory
    evidence_id: str
    needs_manual_check: bool


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name_kk: str
    name_ru: str


@dataclass(frozen=True, slots=True)
class District:
    code: str
    region_code: str
    name_kk: str
    name_ru: str


@dataclass(frozen=True, slots=True)
class Kindergarten:
    id: int
    external_id: str
    district_code: str
    region_code: str
    name_kk: str
    name_ru: str
    address: str
    ownership: Ownership
    state_order: bool
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    kindergarten_id: int
    external_id: str
    birth_year_from: int
    birth_year_to: int
    language: Language
    group_type: GroupType
    capacity: int
    enrolled: int  # enrolments in force today
    held: int  # live offers, whatever day their seat is free from
    free_seats: int  # free on every day from today on (domain/seats_over_time.py)
    free_from: dt.date | None = None  # the first day from today on with a seat free from it
    opens_on: dt.date | None = None
    scheduled_capacity: int | None = None
    scheduled_from: dt.date | None = None

    def fits(self, birth_year: int, language: Language, group_type: GroupType) -> bool:
        return (
            self.birth_year_from <= birth_year <= self.birth_year_to
            and self.language == language
            and self.group_type == group_type
        )


@dataclass(slots=True)
class PriorityClaim:
    id: int
    application_id: int
    category: PriorityCategory
    status: ClaimStatus
    subject_iin: str
    evidence_id: str
    source: str
    manual_deadline: dt.datetime | None = None

    @property
    def tier(self) -> PriorityTier:
        return self.category.tier


@dataclass(slots=True)
class Choice:
    application_id: int
    rank: int
    kindergarten_id: int
    held_here: bool = False  # a live offer or an enrolment of this application is at this kindergarten
    joined_at: dt.datetime | None = None
    sibling_priority: bool = False  # a brother or sister is enrolled at this kindergarten


def application_number(year: int, n: int) -> str:
    """Human-readable and stable (docs/product.md §3): the year of submission and the id, e.g. KZ-2026-0000123."""
    return f"KZ-{year}-{n:07d}"


@dataclass(slots=True)
class Application:
    """The aggregate of stage 1 and 2: its status, its ranked choices and which of them holds a seat.

    Its methods are the state changes docs/product.md §3–§4 allow (docs/product.md); use cases call them and record
    what follows from them in one place (domain/usecases/effects.py)."""

    id: int
    number: str
    child_iin: str
    status: ApplicationStatus
    queue_date: dt.datetime
    channel: str
    tier: PriorityTier
    language: Language
    group_type: GroupType
    desired_start_date: dt.date
    phone: str | None
    notification_language: Language
    birth_year: int
    district_code: str | None
    region_code: str | None
    active: bool
    restored: bool = False
    inactive_since: dt.datetime | None = None
    sibling_group_id: int | None = None
    created_at: dt.datetime | None = None
    choices: list[Choice] = field(default_factory=list)
    dropped_kindergartens: list[int] = field(default_factory=list)  # ranked below an enrolment: never again

    @property
    def in_queue(self) -> bool:
        return self.status in QUEUE_STATUSES

    @property
    def ranking(self) -> list[int]:
        return [c.kindergarten_id for c in sorted(self.choices, key=lambda c: c.rank)]

    def rank_of(self, kindergarten_id: int) -> int | None:
        return next((c.rank for c in self.choices if c.kindergarten_id == kindergarten_id), None)

    def held(self) -> set[int]:
        """Kindergartens where this application holds a live offer or an enrolment."""
        return {c.kindergarten_id for c in self.choices if c.held_here}

    # --- state changes ------------------------------------------------------------------------

    def rechoose(self, kindergarten_ids: list[int], now: dt.datetime, sibling_kindergartens: set[int]) -> None:
        """A new ranking; kept choices keep their place in their queue (joined_at, sibling flag, hold)."""
        old = {c.kindergarten_id: c for c in self.choices}
        self.choices = [
            dataclasses.replace(old[kg], rank=rank)
            if kg in old
            else Choice(self.id, rank, kg, joined_at=now, sibling_priority=kg in sibling_kindergartens)
            for rank, kg in enumerate(kindergarten_ids, start=1)
        ]

    def drop(self, kindergarten_ids: set[int]) -> None:
        """These choices leave the ranking; the rest close up. An ENROLLED application stays active only while
        it waits for a choice ranked above its enrolment."""
        kept = [c for c in sorted(self.choices, key=lambda c: c.rank) if c.kindergarten_id not in kindergarten_ids]
        self.choices = [dataclasses.replace(c, rank=n) for n, c in enumerate(kept, start=1)]
        if self.status == ApplicationStatus.ENROLLED:
            held = [c.rank for c in self.choices if c.held_here]
            self.active = (bool(held) and min(held) > 1) or (not held and bool(self.choices))

    def drop_below(self, kindergarten_id: int, also: int | None = None) -> None:
        """Choices ranked below an enrolment (and `also`, the kindergarten it is leaving) are dropped for good:
        they can never be added back (docs/product.md §4)."""
        rank = self.rank_of(kindergarten_id)
        below = {c.kindergarten_id for c in self.choices if rank is not None and c.rank > rank}
        if also is not None:
            below.add(also)
        self.dropped_kindergartens = sorted(set(self.dropped_kindergartens) | below)
        self.drop(below)

    def hold(self, kindergarten_id: int, upgrade: bool) -> None:
        """An offer at this kindergarten: the choice leaves its queue; an upgrade keeps the status ENROLLED."""
        self._set_held(kindergarten_id, True)
        if not upgrade:
            self.status = ApplicationStatus.OFFERED

    def confirm(self, upgrade: bool) -> None:
        if not upgrade:
            self.status = ApplicationStatus.ENROLLING

    def release(self, kindergarten_id: int, enrolled_through_it: bool) -> None:
        """An offer here ended: the choice stands in its queue again."""
        self._set_held(kindergarten_id, False)
        if self.status in (ApplicationStatus.OFFERED, ApplicationStatus.ENROLLING):
            self.status = ApplicationStatus.ENROLLED if enrolled_through_it else ApplicationStatus.QUEUED

    def enroll(self, kindergarten_id: int, leaving: int | None) -> None:
        """Signed: enrolled here. Choices ranked below, and the kindergarten it leaves, are dropped for good; an
        enrolled member leaves its sibling group."""
        self.status = ApplicationStatus.ENROLLED
        self.drop_below(kindergarten_id, leaving)
        self.choices = [dataclasses.replace(c, held_here=c.kindergarten_id == kindergarten_id) for c in self.choices]
        self.drop(set())  # whether it still waits for better follows the new hold
        self.sibling_group_id = None

    def stop_waiting(self, status: ApplicationStatus, now: dt.datetime) -> None:
        """The one way out of the queues: WITHDRAWN, CLOSED, AGED_OUT or INACTIVE.

        Stopping to wait (WITHDRAWN, AGED_OUT) on an ENROLLED application keeps the enrolment and drops the
        choices still waited for; INACTIVE stays active: out of every queue, restorable."""
        if self.status == ApplicationStatus.ENROLLED and status in (
            ApplicationStatus.WITHDRAWN,
            ApplicationStatus.AGED_OUT,
        ):
            self.drop({c.kindergarten_id for c in self.choices if not c.held_here})
            self.active = False
            return
        self.status = status
        self.active = status == ApplicationStatus.INACTIVE
        if status == ApplicationStatus.INACTIVE:
            self.inactive_since = now

    def restore(self) -> None:
        self.status = ApplicationStatus.QUEUED
        self.restored = True
        self.inactive_since = None

    def _set_held(self, kindergarten_id: int, held: bool) -> None:
        self.choices = [
            dataclasses.replace(c, held_here=held) if c.kindergarten_id == kindergarten_id else c for c in self.choices
        ]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    phone: str
    text: str
    language: Language
    kind: str
    application_id: int | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    entity_type: str
    entity_id: str
    action: str
    before: Mapping[str, object] | None
    after: Mapping[str, object] | None
    reason: str | None
    application_id: int | None = None


LIVE_OFFER_STATUSES = frozenset({OfferStatus.PENDING, OfferStatus.CONFIRMED})


@dataclass(slots=True)
class Offer:
    id: int
    application_id: int
    child_iin: str
    kindergarten_id: int
    group_id: int
    status: OfferStatus
    tier: PriorityTier
    upgrade: bool  # made to a child already enrolled at a kindergarten ranked lower
    created_at: dt.datetime
    respond_by: dt.datetime
    sibling_group_id: int | None = None
    remind_at: dt.datetime | None = None
    starts_on: dt.date | None = None  # the day its seat is free from (docs/product.md §10)
    intake_run_id: int | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE_OFFER_STATUSES


@dataclass(frozen=True, slots=True)
class HealthDocumentRecord:
    kind: str
    document_id: str
    issued_on: dt.date


@dataclass(slots=True)
class Contract:
    id: int
    offer_id: int
    text: str
    document_hash: str
    language: Language
    issued_at: dt.datetime
    sign_by: dt.datetime
    signed_at: dt.datetime | None
    extended: bool
    health_documents: list[HealthDocumentRecord]
    missing_documents: list[str]


@dataclass(frozen=True, slots=True)
class Enrollment:
    id: int
    child_iin: str
    group_id: int
    kindergarten_id: int
    application_id: int | None
    since: dt.date
    leaves_on: dt.date | None = None  # the last day (docs/product.md §10); None: no departure planned
