"""GraphQL types: thin adapters over domain objects (API.md §3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from domain import iin as iin_rules
from domain import model
from graph.access import can_see_application, can_see_child
from graph.context import Context

# The domain's enums, registered with Strawberry once; annotations use the domain classes themselves.
Role = model.Role
Language = model.Language
GroupType = model.GroupType
Ownership = model.Ownership
PriorityTier = model.PriorityTier
PriorityCategory = model.PriorityCategory
ClaimStatus = model.ClaimStatus
ApplicationStatus = model.ApplicationStatus
OfferStatus = model.OfferStatus
ErrorCode = model.ErrorCode
for _enum in (
    Role,
    Language,
    GroupType,
    Ownership,
    PriorityTier,
    PriorityCategory,
    ClaimStatus,
    ApplicationStatus,
    OfferStatus,
    ErrorCode,
):
    strawberry.enum(_enum, name=_enum.__name__)

I = Info[Context, None]  # noqa: E741


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: str | None = None


@strawberry.type(name="District")
class DistrictType:
    code: str
    name_kk: str
    name_ru: str

    @staticmethod
    def of(d: model.District) -> DistrictType:
        return DistrictType(code=d.code, name_kk=d.name_kk, name_ru=d.name_ru)


@strawberry.type(name="Region")
class RegionType:
    code: str
    name_kk: str
    name_ru: str
    districts: list[DistrictType]


@strawberry.type(name="Group")
class GroupNode:
    m: strawberry.Private[model.Group]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.m.id))

    @strawberry.field
    def external_id(self) -> str:
        return self.m.external_id

    @strawberry.field
    def birth_year_from(self) -> int:
        return self.m.birth_year_from

    @strawberry.field
    def birth_year_to(self) -> int:
        return self.m.birth_year_to

    @strawberry.field
    def language(self) -> Language:
        return self.m.language

    @strawberry.field
    def group_type(self) -> GroupType:
        return self.m.group_type

    @strawberry.field
    def capacity(self) -> int:
        return self.m.capacity

    @strawberry.field
    def enrolled(self) -> int:
        return self.m.enrolled

    @strawberry.field
    def held(self) -> int:
        return self.m.held

    @strawberry.field
    def free_seats(self) -> int:
        return self.m.free_seats

    @strawberry.field(description="Applications standing in the queues this group serves.")
    async def queue_length(self, info: I) -> int:
        return await info.context.loaders.queue_length_by_group_id.load(self.m.id)

    @strawberry.field
    async def kindergarten(self, info: I) -> Annotated[KindergartenNode, strawberry.lazy("graph.types")] | None:
        kg = await info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id)
        return KindergartenNode(m=kg) if kg else None


@strawberry.type(name="Kindergarten")
class KindergartenNode:
    m: strawberry.Private[model.Kindergarten]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.m.id))

    @strawberry.field
    def external_id(self) -> str:
        return self.m.external_id

    @strawberry.field
    def name_kk(self) -> str:
        return self.m.name_kk

    @strawberry.field
    def name_ru(self) -> str:
        return self.m.name_ru

    @strawberry.field
    def address(self) -> str:
        return self.m.address

    @strawberry.field
    async def district(self, info: I) -> DistrictType | None:
        d = await info.context.loaders.district_by_code.load(self.m.district_code)
        return DistrictType.of(d) if d else None

    @strawberry.field
    def region_code(self) -> str:
        return self.m.region_code

    @strawberry.field
    def ownership(self) -> Ownership:
        return self.m.ownership

    @strawberry.field
    def state_order(self) -> bool:
        return self.m.state_order

    @strawberry.field
    def latitude(self) -> float | None:
        return self.m.latitude

    @strawberry.field
    def longitude(self) -> float | None:
        return self.m.longitude

    @strawberry.field
    async def groups(self, info: I) -> list[GroupNode]:
        return [GroupNode(m=g) for g in await info.context.loaders.groups_by_kindergarten_id.load(self.m.id)]


@strawberry.type
class KindergartenEdge:
    node: KindergartenNode
    cursor: str


@strawberry.type
class KindergartenConnection:
    edges: list[KindergartenEdge]
    page_info: PageInfo


@strawberry.type(name="PriorityClaim")
class PriorityClaimNode:
    m: strawberry.Private[model.PriorityClaim]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.m.id))

    @strawberry.field
    def category(self) -> PriorityCategory:
        return self.m.category

    @strawberry.field
    def tier(self) -> PriorityTier:
        return self.m.tier

    @strawberry.field
    def status(self) -> ClaimStatus:
        return self.m.status

    @strawberry.field
    def evidence_id(self) -> str:
        return self.m.evidence_id

    @strawberry.field(description="Until when an operator may verify it by hand (PENDING_MANUAL claims).")
    def manual_deadline(self) -> dt.datetime | None:
        return self.m.manual_deadline

    @strawberry.field
    async def application(self, info: I) -> Annotated[ApplicationNode, strawberry.lazy("graph.types")] | None:
        app = await info.context.loaders.application_by_id.load(self.m.application_id)
        if app is None or not await can_see_application(info, app):
            return None
        return ApplicationNode(m=app)


@strawberry.type
class PriorityClaimEdge:
    node: PriorityClaimNode
    cursor: str


@strawberry.type
class PriorityClaimConnection:
    edges: list[PriorityClaimEdge]
    page_info: PageInfo


@strawberry.type
class PositionChange:
    at: dt.datetime
    delta: int = strawberry.field(description="Change of the position number: +1 means one place further back.")
    reason: str


@strawberry.type(name="Choice")
class ChoiceNode:
    m: strawberry.Private[model.Choice]

    @strawberry.field
    def rank(self) -> int:
        return self.m.rank

    @strawberry.field
    async def kindergarten(self, info: I) -> KindergartenNode:
        kg = await info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id)
        assert kg is not None  # choices reference kindergartens by foreign key
        return KindergartenNode(m=kg)

    @strawberry.field(description="Null while holding an offer or enrolment at this kindergarten.")
    async def position(self, info: I) -> int | None:
        return await info.context.loaders.position_by_choice.load((self.m.application_id, self.m.kindergarten_id))

    @strawberry.field
    async def position_changes(self, info: I) -> list[PositionChange]:
        changes = await info.context.loaders.position_changes_by_choice.load(
            (self.m.application_id, self.m.kindergarten_id)
        )
        return [PositionChange(at=c.at, delta=c.delta, reason=c.reason) for c in changes]


@strawberry.type
class AuditEvent:
    at: dt.datetime
    action: str
    actor_role: str | None
    channel: str | None
    reason: str | None


@strawberry.type
class HealthDocument:
    kind: str
    document_id: str
    issued_on: dt.date


@strawberry.type(name="Contract")
class ContractNode:
    m: strawberry.Private[model.Contract]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.m.id))

    @strawberry.field
    def text(self) -> str:
        return self.m.text

    @strawberry.field(description="Lowercase hex SHA-256 of the UTF-8 text: what the e-signature covers.")
    def document_hash(self) -> str:
        return self.m.document_hash

    @strawberry.field
    def language(self) -> Language:
        return self.m.language

    @strawberry.field
    def issued_at(self) -> dt.datetime:
        return self.m.issued_at

    @strawberry.field
    def sign_by(self) -> dt.datetime:
        return self.m.sign_by

    @strawberry.field
    def signed_at(self) -> dt.datetime | None:
        return self.m.signed_at

    @strawberry.field
    def extended(self) -> bool:
        return self.m.extended

    @strawberry.field
    def health_documents(self) -> list[HealthDocument]:
        return [
            HealthDocument(kind=d.kind, document_id=d.document_id, issued_on=d.issued_on)
            for d in self.m.health_documents
        ]

    @strawberry.field(description="Kinds of health documents the health registry does not hold for the child.")
    def missing_documents(self) -> list[str]:
        return list(self.m.missing_documents)


@strawberry.type(name="Offer")
class OfferNode:
    m: strawberry.Private[model.Offer]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.m.id))

    @strawberry.field
    def status(self) -> OfferStatus:
        return self.m.status

    @strawberry.field
    async def kindergarten(self, info: I) -> KindergartenNode:
        kg = await info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id)
        assert kg is not None
        return KindergartenNode(m=kg)

    @strawberry.field
    async def group(self, info: I) -> GroupNode:
        g = await info.context.loaders.group_by_id.load(self.m.group_id)
        assert g is not None
        return GroupNode(m=g)

    @strawberry.field
    async def child(self, info: I) -> Annotated[ChildNode, strawberry.lazy("graph.types")] | None:
        person = await info.context.loaders.person_by_iin.load(self.m.child_iin)
        return ChildNode(m=person) if person else None

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.m.created_at

    @strawberry.field(
        description="Deadline of the current step: the answer while PENDING, the signature while CONFIRMED."
    )
    def respond_by(self) -> dt.datetime:
        return self.m.respond_by

    @strawberry.field(description="The tier the offer was made on.")
    def tier(self) -> PriorityTier:
        return self.m.tier

    @strawberry.field(description="Made to a child already enrolled at a kindergarten ranked lower.")
    def upgrade(self) -> bool:
        return self.m.upgrade

    @strawberry.field
    def sibling_group_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.m.sibling_group_id)) if self.m.sibling_group_id else None

    @strawberry.field
    async def contract(self, info: I) -> ContractNode | None:
        c = await info.context.loaders.contract_by_offer_id.load(self.m.id)
        return ContractNode(m=c) if c else None

    @strawberry.field
    async def application(self, info: I) -> Annotated[ApplicationNode, strawberry.lazy("graph.types")] | None:
        app = await info.context.loaders.application_by_id.load(self.m.application_id)
        if app is None or not await can_see_application(info, app):
            return None
        return ApplicationNode(m=app)


@strawberry.type(name="Application")
class ApplicationNode:
    m: strawberry.Private[model.Application]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.m.id))

    @strawberry.field
    def number(self) -> str:
        return self.m.number

    @strawberry.field
    def status(self) -> ApplicationStatus:
        return self.m.status

    @strawberry.field
    def queue_date(self) -> dt.datetime:
        return self.m.queue_date

    @strawberry.field(description="The channel the application was submitted through.")
    def channel(self) -> str:
        return self.m.channel

    @strawberry.field
    def tier(self) -> PriorityTier:
        return self.m.tier

    @strawberry.field
    async def claims(self, info: I) -> list[PriorityClaimNode]:
        return [PriorityClaimNode(m=c) for c in await info.context.loaders.claims_by_application_id.load(self.m.id)]

    @strawberry.field
    def language(self) -> Language:
        return self.m.language

    @strawberry.field
    def group_type(self) -> GroupType:
        return self.m.group_type

    @strawberry.field
    def desired_start_date(self) -> dt.date:
        return self.m.desired_start_date

    @strawberry.field
    def notification_language(self) -> Language:
        return self.m.notification_language

    @strawberry.field
    def choices(self) -> list[ChoiceNode]:
        return [ChoiceNode(m=c) for c in sorted(self.m.choices, key=lambda c: c.rank)]

    @strawberry.field
    def sibling_group_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.m.sibling_group_id)) if self.m.sibling_group_id else None

    @strawberry.field(description="The live offer (PENDING or CONFIRMED), or null.")
    async def offer(self, info: I) -> OfferNode | None:
        o = await info.context.loaders.live_offer_by_application_id.load(self.m.id)
        return OfferNode(m=o) if o else None

    @strawberry.field(description="Audit events, newest first (the latest 50).")
    async def history(self, info: I) -> list[AuditEvent]:
        events = await info.context.loaders.history_by_application_id.load(self.m.id)
        return [
            AuditEvent(at=e.at, action=e.action, actor_role=e.actor_role, channel=e.channel, reason=e.reason)
            for e in events
        ]

    @strawberry.field
    async def child(self, info: I) -> Annotated[ChildNode, strawberry.lazy("graph.types")] | None:
        person = await info.context.loaders.person_by_iin.load(self.m.child_iin)
        return ChildNode(m=person) if person else None


@strawberry.type(name="Enrollment")
class EnrollmentNode:
    m: strawberry.Private[model.Enrollment]

    @strawberry.field
    async def kindergarten(self, info: I) -> KindergartenNode | None:
        kg = await info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id)
        return KindergartenNode(m=kg) if kg else None

    @strawberry.field
    async def group(self, info: I) -> GroupNode | None:
        g = await info.context.loaders.group_by_id.load(self.m.group_id)
        return GroupNode(m=g) if g else None

    @strawberry.field
    def since(self) -> dt.date:
        return self.m.since


@strawberry.type(name="Child")
class ChildNode:
    m: strawberry.Private[model.Person]

    @strawberry.field
    def iin(self) -> str:
        return self.m.iin

    @strawberry.field
    def full_name(self) -> str:
        return self.m.full_name

    @strawberry.field
    def birth_date(self) -> dt.date:
        return self.m.birth_date

    @strawberry.field(description="The active application, else the latest, else null.")
    async def application(self, info: I) -> ApplicationNode | None:
        app = await info.context.loaders.application_by_child_iin.load(self.m.iin)
        if app is None or not await can_see_application(info, app):
            return None
        return ApplicationNode(m=app)

    @strawberry.field
    async def enrollment(self, info: I) -> EnrollmentNode | None:
        e = await info.context.loaders.enrollment_by_child_iin.load(self.m.iin)
        return EnrollmentNode(m=e) if e else None

    @strawberry.field(description="Brothers and sisters: children sharing a legal representative.")
    async def siblings(self, info: I) -> list[ChildNode]:
        loaders = info.context.loaders
        iins = await loaders.siblings_by_child_iin.load(self.m.iin)
        persons = await loaders.person_by_iin.load_many(iins)
        # A sibling is another child: shown only to those who may see that child too.
        visible = await asyncio.gather(*(can_see_child(info, iin) for iin in iins))
        return [ChildNode(m=p) for p, ok in zip(persons, visible, strict=True) if p is not None and ok]


@strawberry.type
class QueueEntry:
    position: int
    application_number: str
    birth_year: int
    tier: PriorityTier
    queue_date: dt.datetime


@strawberry.type
class QueueEntryEdge:
    node: QueueEntry
    cursor: str


@strawberry.type
class QueueEntryConnection:
    edges: list[QueueEntryEdge]
    page_info: PageInfo


@strawberry.type
class WaitingByBirthYear:
    birth_year: int
    tier: PriorityTier
    count: int


@strawberry.type
class AreaStats:
    waiting: int
    waiting_by_birth_year: list[WaitingByBirthYear]
    capacity: int
    enrolled: int
    held: int
    free_seats: int
    live_offers: int
    median_wait_days: float | None


@strawberry.type
class Viewer:
    role: Role | None
    channel: str | None
    subject: str | None
    region_code: str | None
    district_code: str | None
    kindergarten: KindergartenNode | None


@strawberry.type
class SentMessage:
    id: str
    to: str
    text: str
    language: str
    created_at: dt.datetime


def masked(iin: str) -> str:
    return iin_rules.mask(iin)


class OfferEventKind(enum.Enum):
    OFFERED = "OFFERED"
    REMINDER = "REMINDER"
    LAPSED = "LAPSED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"


class ApplicationEventKind(enum.Enum):
    STATUS_CHANGED = "STATUS_CHANGED"
    POSITION_CHANGED = "POSITION_CHANGED"
    CHOICES_CHANGED = "CHOICES_CHANGED"
    CLAIM_CHANGED = "CLAIM_CHANGED"
    OFFER_CHANGED = "OFFER_CHANGED"


class VacancyEventKind(enum.Enum):
    SEAT_FREED = "SEAT_FREED"
    OFFER_MADE = "OFFER_MADE"
    OFFER_CONFIRMED = "OFFER_CONFIRMED"
    OFFER_DECLINED = "OFFER_DECLINED"
    OFFER_LAPSED = "OFFER_LAPSED"
    OFFER_SUPERSEDED = "OFFER_SUPERSEDED"
    OFFER_CANCELLED = "OFFER_CANCELLED"
    CONTRACT_LAPSED = "CONTRACT_LAPSED"
    ENROLLED = "ENROLLED"
    LEFT = "LEFT"
    CAPACITY_CHANGED = "CAPACITY_CHANGED"


for _kind in (OfferEventKind, ApplicationEventKind, VacancyEventKind):
    strawberry.enum(_kind, name=_kind.__name__)


@strawberry.type
class OfferEvent:
    kind: OfferEventKind
    offer: OfferNode


@strawberry.type
class ApplicationEvent:
    kind: ApplicationEventKind
    application: ApplicationNode


@strawberry.type
class VacancyEvent:
    cursor: str
    kind: VacancyEventKind
    kindergarten: KindergartenNode | None
    group: GroupNode | None
    free_seats: int | None
    at: dt.datetime
