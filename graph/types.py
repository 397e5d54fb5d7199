"""GraphQL types: thin adapters over domain objects (API.md §3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast

import strawberry
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
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
T = TypeVar("T")
R = TypeVar("R")


def _same(value: T) -> T:
    return value


def ready(loaded: Awaitable[T], wrap: Callable[[T], R] = _same) -> R:  # type: ignore[assignment]
    """The loaded value at once when its batch has already arrived, else an awaitable of it.

    graphql-core awaits whatever a resolver returns that is awaitable; a value it gets at once costs no
    task and no event-loop turn, which for the status query is most of the cost of a field.
    """
    if isinstance(loaded, asyncio.Future) and loaded.done():
        return wrap(loaded.result())

    async def later() -> R:
        return wrap(await loaded)

    return cast(R, later())


def _selects(selection: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], *path: str) -> bool:
    """Whether the selection asks for this path of fields (through fragments too). Walks graphql-core's AST:
    Strawberry's `info.selected_fields` converts the whole subtree first, 5% of a status query's CPU."""
    if selection is None:
        return False
    for node in selection.selections:
        if isinstance(node, FieldNode):
            if node.name.value == path[0] and (len(path) == 1 or _selects(node.selection_set, fragments, *path[1:])):
                return True
        elif isinstance(node, InlineFragmentNode):
            if _selects(node.selection_set, fragments, *path):
                return True
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is not None and _selects(fragment.selection_set, fragments, *path):
                return True
    return False


async def application_node(info: I, app: model.Application) -> ApplicationNode:
    """The node, with the batches its selection needs below it already loaded (one statement each for all
    the applications of the request), so that those fields resolve at once."""
    loaders = info.context.loaders
    raw = info._raw_info  # graphql-core's resolve info: the field's AST nodes and the document's fragments

    def wants(*path: str) -> bool:
        return any(_selects(node.selection_set, raw.fragments, *path) for node in raw.field_nodes)

    pending: list[Awaitable[Any]] = []
    if wants("choices", "kindergarten"):
        pending += [loaders.kindergarten_by_id.load(c.kindergarten_id) for c in app.choices]
    if wants("choices", "position"):
        pending += [loaders.position_by_choice.load((app.id, c.kindergarten_id)) for c in app.choices]
    if wants("offer"):
        pending.append(loaders.live_offer_by_application_id.load(app.id))
    for loaded in pending:  # all scheduled already: their batches run together; no gather needed
        await loaded
    return ApplicationNode(m=app)


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
    id: strawberry.ID
    external_id: str
    birth_year_from: int
    birth_year_to: int
    language: Language
    group_type: GroupType
    capacity: int
    enrolled: int
    held: int
    free_seats: int

    @strawberry.field(description="Applications standing in the queues this group serves.")
    async def queue_length(self, info: I) -> int:
        return await info.context.loaders.queue_length_by_group_id.load(self.m.id)

    @strawberry.field
    async def kindergarten(self, info: I) -> Annotated[KindergartenNode, strawberry.lazy("graph.types")] | None:
        kg = await info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id)
        return KindergartenNode(m=kg) if kg else None

    def __init__(self, m: model.Group) -> None:
        self.m = m
        self.id = strawberry.ID(str(m.id))
        self.external_id = m.external_id
        self.birth_year_from = m.birth_year_from
        self.birth_year_to = m.birth_year_to
        self.language = m.language
        self.group_type = m.group_type
        self.capacity = m.capacity
        self.enrolled = m.enrolled
        self.held = m.held
        self.free_seats = m.free_seats


@strawberry.type(name="Kindergarten")
class KindergartenNode:
    m: strawberry.Private[model.Kindergarten]
    id: strawberry.ID
    external_id: str
    name_kk: str
    name_ru: str
    address: str

    @strawberry.field
    async def district(self, info: I) -> DistrictType | None:
        d = await info.context.loaders.district_by_code.load(self.m.district_code)
        return DistrictType.of(d) if d else None

    region_code: str
    ownership: Ownership
    state_order: bool
    latitude: float | None
    longitude: float | None

    @strawberry.field
    async def groups(self, info: I) -> list[GroupNode]:
        return [GroupNode(m=g) for g in await info.context.loaders.groups_by_kindergarten_id.load(self.m.id)]

    def __init__(self, m: model.Kindergarten) -> None:
        self.m = m
        self.id = strawberry.ID(str(m.id))
        self.external_id = m.external_id
        self.name_kk = m.name_kk
        self.name_ru = m.name_ru
        self.address = m.address
        self.region_code = m.region_code
        self.ownership = m.ownership
        self.state_order = m.state_order
        self.latitude = m.latitude
        self.longitude = m.longitude


async def visible_application(info: I, application_id: int) -> ApplicationNode | None:
    """The application when the caller may see it, else null (a hidden one looks like a missing one)."""
    app = await info.context.loaders.application_by_id.load(application_id)
    if app is None or not await can_see_application(info, app):
        return None
    return await application_node(info, app)


def _kindergarten(kg: model.Kindergarten | None) -> KindergartenNode:
    assert kg is not None  # choices and offers reference kindergartens by foreign key
    return KindergartenNode(m=kg)


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
    id: strawberry.ID
    category: PriorityCategory
    tier: PriorityTier
    status: ClaimStatus
    evidence_id: str
    manual_deadline: dt.datetime | None = strawberry.field(
        description="Until when an operator may verify it by hand (PENDING_MANUAL claims)."
    )

    @strawberry.field
    async def application(self, info: I) -> Annotated[ApplicationNode, strawberry.lazy("graph.types")] | None:
        return await visible_application(info, self.m.application_id)

    def __init__(self, m: model.PriorityClaim) -> None:
        self.m = m
        self.id = strawberry.ID(str(m.id))
        self.category = m.category
        self.tier = m.tier
        self.status = m.status
        self.evidence_id = m.evidence_id
        self.manual_deadline = m.manual_deadline


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
    rank: int

    @strawberry.field
    def kindergarten(self, info: I) -> KindergartenNode:
        return ready(info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id), _kindergarten)

    @strawberry.field(description="Null while holding an offer or enrolment at this kindergarten.")
    def position(self, info: I) -> int | None:
        return ready(info.context.loaders.position_by_choice.load((self.m.application_id, self.m.kindergarten_id)))

    @strawberry.field
    async def position_changes(self, info: I) -> list[PositionChange]:
        changes = await info.context.loaders.position_changes_by_choice.load(
            (self.m.application_id, self.m.kindergarten_id)
        )
        return [PositionChange(at=c.at, delta=c.delta, reason=c.reason) for c in changes]

    def __init__(self, m: model.Choice) -> None:
        self.m = m
        self.rank = m.rank


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
    id: strawberry.ID
    text: str
    document_hash: str = strawberry.field(
        description="Lowercase hex SHA-256 of the UTF-8 text: what the e-signature covers."
    )

    language: Language
    issued_at: dt.datetime
    sign_by: dt.datetime
    signed_at: dt.datetime | None
    extended: bool

    @strawberry.field
    def health_documents(self) -> list[HealthDocument]:
        return [
            HealthDocument(kind=d.kind, document_id=d.document_id, issued_on=d.issued_on)
            for d in self.m.health_documents
        ]

    missing_documents: list[str] = strawberry.field(
        description="Kinds of health documents the health registry does not hold for the child."
    )

    def __init__(self, m: model.Contract) -> None:
        self.m = m
        self.id = strawberry.ID(str(m.id))
        self.text = m.text
        self.document_hash = m.document_hash
        self.language = m.language
        self.issued_at = m.issued_at
        self.sign_by = m.sign_by
        self.signed_at = m.signed_at
        self.extended = m.extended
        self.missing_documents = list(m.missing_documents)


@strawberry.type(name="Offer")
class OfferNode:
    m: strawberry.Private[model.Offer]
    id: strawberry.ID
    status: OfferStatus

    @strawberry.field
    def kindergarten(self, info: I) -> KindergartenNode:
        return ready(info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id), _kindergarten)

    @strawberry.field
    async def group(self, info: I) -> GroupNode:
        g = await info.context.loaders.group_by_id.load(self.m.group_id)
        assert g is not None
        return GroupNode(m=g)

    @strawberry.field
    async def child(self, info: I) -> Annotated[ChildNode, strawberry.lazy("graph.types")] | None:
        person = await info.context.loaders.person_by_iin.load(self.m.child_iin)
        return ChildNode(m=person) if person else None

    created_at: dt.datetime

    respond_by: dt.datetime = strawberry.field(
        description="Deadline of the current step: the answer while PENDING, the signature while CONFIRMED."
    )

    tier: PriorityTier = strawberry.field(description="The tier the offer was made on.")
    upgrade: bool = strawberry.field(description="Made to a child already enrolled at a kindergarten ranked lower.")
    sibling_group_id: strawberry.ID | None

    @strawberry.field
    async def contract(self, info: I) -> ContractNode | None:
        c = await info.context.loaders.contract_by_offer_id.load(self.m.id)
        return ContractNode(m=c) if c else None

    @strawberry.field
    async def application(self, info: I) -> Annotated[ApplicationNode, strawberry.lazy("graph.types")] | None:
        return await visible_application(info, self.m.application_id)

    def __init__(self, m: model.Offer) -> None:
        self.m = m
        self.id = strawberry.ID(str(m.id))
        self.status = m.status
        self.created_at = m.created_at
        self.respond_by = m.respond_by
        self.tier = m.tier
        self.upgrade = m.upgrade
        self.sibling_group_id = strawberry.ID(str(m.sibling_group_id)) if m.sibling_group_id else None


def _offer(offer: model.Offer | None) -> OfferNode | None:
    return OfferNode(m=offer) if offer else None


@strawberry.type(name="Application")
class ApplicationNode:
    m: strawberry.Private[model.Application]
    id: strawberry.ID
    number: str
    status: ApplicationStatus
    queue_date: dt.datetime
    channel: str = strawberry.field(description="The channel the application was submitted through.")
    tier: PriorityTier

    @strawberry.field
    async def claims(self, info: I) -> list[PriorityClaimNode]:
        return [PriorityClaimNode(m=c) for c in await info.context.loaders.claims_by_application_id.load(self.m.id)]

    language: Language
    group_type: GroupType
    desired_start_date: dt.date
    notification_language: Language
    choices: list[ChoiceNode]
    sibling_group_id: strawberry.ID | None

    @strawberry.field(description="The live offer (PENDING or CONFIRMED), or null.")
    def offer(self, info: I) -> OfferNode | None:
        return ready(info.context.loaders.live_offer_by_application_id.load(self.m.id), _offer)

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

    def __init__(self, m: model.Application) -> None:
        self.m = m
        self.id = strawberry.ID(str(m.id))
        self.number = m.number
        self.status = m.status
        self.queue_date = m.queue_date
        self.channel = m.channel
        self.tier = m.tier
        self.language = m.language
        self.group_type = m.group_type
        self.desired_start_date = m.desired_start_date
        self.notification_language = m.notification_language
        self.choices = [ChoiceNode(m=c) for c in sorted(m.choices, key=lambda c: c.rank)]
        self.sibling_group_id = strawberry.ID(str(m.sibling_group_id)) if m.sibling_group_id else None


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

    since: dt.date

    def __init__(self, m: model.Enrollment) -> None:
        self.m = m
        self.since = m.since


@strawberry.type(name="Child")
class ChildNode:
    m: strawberry.Private[model.Person]
    # Read from the caller's own family snapshot (myChildren): the caller is this child's representative.
    own: strawberry.Private[bool]
    iin: str
    full_name: str
    birth_date: dt.date

    @strawberry.field(description="The active application, else the latest, else null.")
    async def application(self, info: I) -> ApplicationNode | None:
        app = await info.context.loaders.application_by_child_iin.load(self.m.iin)
        # The owner check would read the representations the family snapshot was just read from.
        if app is None or not (self.own or await can_see_application(info, app)):
            return None
        return await application_node(info, app)

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

    def __init__(self, m: model.Person, own: bool = False) -> None:
        self.m = m
        self.own = own
        self.iin = m.iin
        self.full_name = m.full_name
        self.birth_date = m.birth_date


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
