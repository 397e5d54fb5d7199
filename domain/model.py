"""Entities and value types of the queue, in the words of PRODUCT.md."""

from __future__ import annotations

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

    @property
    def is_public(self) -> bool:
        return self.role is None


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
    enrolled: int
    held: int

    @property
    def occupied(self) -> int:
        return self.enrolled + self.held

    @property
    def free_seats(self) -> int:
        return self.capacity - self.occupied

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


@dataclass(slots=True)
class Application:
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


@dataclass(frozen=True, slots=True)
class QueueKey:
    """A queue: PRODUCT.md §3 — (kindergarten, birth year, language, group type)."""

    kindergarten_id: int
    birth_year: int
    language: Language
    group_type: GroupType


@dataclass(frozen=True, slots=True, order=True)
class QueueOrder:
    """Sort key of a choice within its queue (PRODUCT.md §3 queue order); lower is ahead."""

    tier_rank: int
    sibling_rank: int  # 0 when a sibling is enrolled in the kindergarten
    queue_date: dt.datetime
    application_id: int  # application numbers are issued in id order: the final tie-break


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


class EventStream(enum.StrEnum):
    VACANCY = "vacancy"
    OFFER = "offer"
    APPLICATION = "application"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One row of the subscription feed, written in the same transaction as the change."""

    stream: EventStream
    kind: str
    kindergarten_id: int | None = None
    group_id: int | None = None
    free_seats: int | None = None
    offer_id: int | None = None
    application_id: int | None = None
    child_iin: str | None = None
