"""Applications: the chosen kindergartens with the child's position at each, the live offer, the history."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain import model
from graph.claims.types import PriorityClaimNode
from graph.common import ApplicationStatus, GroupType, I, Language, PriorityTier
from graph.nodes import Node, derived, node_type, ready
from graph.offers.types import OfferNode, offer_node
from graph.people.types import ChildNode
from graph.places.types import KindergartenNode, referenced_kindergarten
from persistence.readers import AuditEvent, PositionChange


@node_type("PositionChange")
class PositionChangeNode(Node[PositionChange]):
    at: dt.datetime
    delta: int = strawberry.field(description="Change of the position number: +1 means one place further back.")
    reason: str


@node_type("Choice")
class ChoiceNode(Node[model.Choice]):
    rank: int

    @strawberry.field
    def kindergarten(self, info: I) -> KindergartenNode:
        return ready(info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id), referenced_kindergarten)

    @strawberry.field(description="Null while holding an offer or enrolment at this kindergarten.")
    def position(self, info: I) -> int | None:
        return ready(info.context.loaders.position_by_choice.load((self.m.application_id, self.m.kindergarten_id)))

    @strawberry.field
    async def position_changes(self, info: I) -> list[PositionChangeNode]:
        changes = await info.context.loaders.position_changes_by_choice.load(
            (self.m.application_id, self.m.kindergarten_id)
        )
        return [PositionChangeNode(m=c) for c in changes]


@node_type("AuditEvent")
class AuditEventNode(Node[AuditEvent]):
    at: dt.datetime
    action: str
    actor_role: str | None
    channel: str | None
    reason: str | None


def _ranked_choices(app: model.Application) -> list[ChoiceNode]:
    return [ChoiceNode(m=c) for c in sorted(app.choices, key=lambda c: c.rank)]


@node_type("Application")
class ApplicationNode(Node[model.Application]):
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

    choices: list[ChoiceNode] = derived(_ranked_choices)
    sibling_group_id: strawberry.ID | None

    @strawberry.field(description="The live offer (PENDING or CONFIRMED), or null.")
    def offer(self, info: I) -> OfferNode | None:
        return ready(info.context.loaders.live_offer_by_application_id.load(self.m.id), offer_node)

    @strawberry.field(description="Audit events, newest first (the latest 50).")
    async def history(self, info: I) -> list[AuditEventNode]:
        return [AuditEventNode(m=e) for e in await info.context.loaders.history_by_application_id.load(self.m.id)]

    @strawberry.field
    async def child(self, info: I) -> ChildNode | None:
        person = await info.context.loaders.person_by_iin.load(self.m.child_iin)
        return ChildNode(m=person) if person else None
