"""Applications: the chosen kindergartens with the child's position at each, the live offer, the history."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable
from typing import TypeGuard, TypeVar

import strawberry

from domain import estimate_texts, model
from domain.estimate import Basis, ChoiceStanding, WaitEstimate
from graph.claims.types import PriorityClaimNode
from graph.common import ApplicationStatus, GroupType, I, Language, PriorityTier, enum_type
from graph.nodes import Node, derived, node_type, ready
from graph.offers.types import OfferNode, offer_node
from graph.people.types import ChildNode
from graph.places.types import KindergartenNode, referenced_kindergarten
from persistence.readers import AuditEvent, PositionChange

T = TypeVar("T")


@node_type("PositionChange", description="A recorded event that moved a choice's position.")
class PositionChangeNode(Node[PositionChange]):
    at: dt.datetime = strawberry.field(description="When it happened.")
    delta: int = strawberry.field(description="Change of the position number: +1 means one place further back.")
    reason: str = strawberry.field(
        description="What moved it: a child ahead got an offer or stopped waiting (OFFERED, LEFT_QUEUE, WITHDRAWN, "
        "…), a child came in ahead (JOINED), or the family's own tier or choices changed (TIER_CHANGED, "
        "CHOICES_CHANGED)."
    )


enum_type(
    Basis,
    "What a waiting estimate rests on, or why there is none: for apps that word it themselves (`basis` gives Kezek's "
    "sentence).",
    {
        "SEAT_HELD": "No estimate needed: the child holds an offer or a seat at this kindergarten.",
        "HOLDS_BETTER": "No estimate: the child holds a seat at a kindergarten ranked higher.",
        "INACTIVE": "No estimate: the application is inactive.",
        "NOT_WAITING": "No estimate: the application no longer waits (final), or the choice stands in no queue.",
        "INSUFFICIENT_HISTORY": "Too little history: fewer than 5 counted offers in 365 days and no planned seats.",
        "BEYOND_PLANNED_SEATS": "Too little history, and the seats planned for the next school year do not reach "
        "the child's place.",
        "QUEUE_PACE": "Dates from the queue's recorded pace.",
        "QUEUE_PACE_AND_INTAKE": "Dates from the queue's pace and the seats planned for the next summer intake.",
        "PLANNED_SEATS": "Too few offers for a pace, but the child's place is within the planned seats: the intake's "
        "day.",
        "BEYOND_SCHOOL_AGE": "The range reaches the day the child starts school: no 90th percentile.",
    },
    name="EstimateBasis",
)


@node_type(
    "WaitEstimate",
    description="When an offer is likely, estimated from the queue's recorded movement (its offers of the last 365 "
    "days by tier and month), the seats planned for the next school year and the children ahead: an estimate, never "
    'a promise (docs/product.md §3 "Waiting estimate").',
)
class WaitEstimateNode(Node[WaitEstimate]):
    earliest: dt.date | None = strawberry.field(
        description="The 10th percentile of the day of the offer: one chance in ten that it comes before. Null when "
        "unknown."
    )
    latest: dt.date | None = strawberry.field(
        description="The 90th percentile: nine chances in ten that the offer has come by this day. Null when unknown, "
        "also when it may not come before the child reaches school age."
    )
    insufficient_history: bool = strawberry.field(
        description="The queue recorded too little movement to estimate (fewer than 5 offers in 365 days to children "
        "of this tier or a lower one, and no planned seats that reach the child's place): the dates are null."
    )

    @strawberry.field(
        description="What the estimate rests on, or why there is none: one sentence in the caller's language "
        "(Accept-Language: kk, ru or en; ru by default)."
    )
    def basis(self, info: I) -> str:
        return estimate_texts.basis(self.m, info.context.language)

    @strawberry.field(description="What the estimate rests on, as a code: the same fact as `basis`, for apps.")
    def basis_code(self) -> Basis:
        return self.m.basis


def _estimate_node(info: I, position: int | None, standing: ChoiceStanding | None, today: dt.date) -> WaitEstimateNode:
    return WaitEstimateNode(m=info.context.services.queue.estimate(standing, position, today))


@node_type("Choice", description="A kindergarten an application ranks, and the child's place in its queue there.")
class ChoiceNode(Node[model.Choice]):
    rank: int = strawberry.field(description="1 for the kindergarten the family wants most, up to 4.")

    @strawberry.field(description="The kindergarten.")
    def kindergarten(self, info: I) -> KindergartenNode:
        return ready(info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id), referenced_kindergarten)

    @strawberry.field(
        description="The queue number: 1 plus the choices ahead in this queue (this kindergarten, the child's birth "
        "year, the application's language and type), by tier, sibling priority, queue date, application number. "
        "Counted on every read, never stored. Null while the child holds a live offer or an enrolment at this "
        "kindergarten (it is then in no queue here), and while the application is INACTIVE or final."
    )
    def position(self, info: I) -> int | None:
        return ready(info.context.loaders.position_by_choice.load((self.m.application_id, self.m.kindergarten_id)))

    @strawberry.field(
        description="When an offer here is likely: the dates of the 10th and the 90th percentile and what they rest "
        "on. Null dates, with the reason in `basis`, while the child holds a seat here or at a kindergarten ranked "
        "higher, and while the application is INACTIVE or final."
    )
    def estimate(self, info: I) -> WaitEstimateNode:
        key = (self.m.application_id, self.m.kindergarten_id)
        today = info.context.services.queue.estimates.today()
        position = info.context.loaders.position_by_choice.load(key)
        standing = info.context.loaders.standing_by_choice_and_date.load((*key, today))
        if _done(position) and _done(standing):  # loaded ahead (graph/applications/load.py): no task, no turn
            return _estimate_node(info, position.result(), standing.result(), today)

        async def later() -> WaitEstimateNode:
            return _estimate_node(info, await position, await standing, today)

        return later()  # type: ignore[return-value]  # graphql-core awaits it

    @strawberry.field(description="The latest five events that moved this position, newest first.")
    async def position_changes(self, info: I) -> list[PositionChangeNode]:
        changes = await info.context.loaders.position_changes_by_choice.load(
            (self.m.application_id, self.m.kindergarten_id)
        )
        return [PositionChangeNode(m=c) for c in changes]


@node_type("AuditEvent", description="An audit record of a change to the application: who, what, when, why.")
class AuditEventNode(Node[AuditEvent]):
    at: dt.datetime = strawberry.field(description="When.")
    action: str = strawberry.field(description="What changed: SUBMITTED, CHOICES_CHANGED, OFFER_MADE, CLAIM_REVOKED, …")
    actor_role: str | None = strawberry.field(
        description="Who acted: a role as tokens write it (citizen, akimat_operator, …), or system for Kezek itself."
    )
    channel: str | None = strawberry.field(description="The channel the change came through.")
    reason: str | None = strawberry.field(description="The reason or note given, if any.")


def _done(loaded: Awaitable[T]) -> TypeGuard[asyncio.Future[T]]:
    return isinstance(loaded, asyncio.Future) and loaded.done()


def _ranked_choices(app: model.Application) -> list[ChoiceNode]:
    return [ChoiceNode(m=c) for c in sorted(app.choices, key=lambda c: c.rank)]


@node_type(
    "Application",
    description="A child's application: up to four ranked kindergartens, waited for in their queues; one active "
    "application per child in the whole country, whatever the channel.",
)
class ApplicationNode(Node[model.Application]):
    id: strawberry.ID = strawberry.field(description="Kezek's id of the application.")
    number: str = strawberry.field(description="The readable number, e.g. KZ-2026-0000123; never changes.")
    status: ApplicationStatus = strawberry.field(description="Where it stands.")
    queue_date: dt.datetime = strawberry.field(
        description="The server's time at the first submission. Nothing moves it: not a change of choices, not "
        "priority gained or lost, not a restore."
    )
    channel: str = strawberry.field(description="The channel the application was submitted through.")
    tier: PriorityTier = strawberry.field(description="The best tier of its VERIFIED claims; GENERAL without one.")

    @strawberry.field(description="Every priority claim found for it, whatever its status.")
    async def claims(self, info: I) -> list[PriorityClaimNode]:
        return [PriorityClaimNode(m=c) for c in await info.context.loaders.claims_by_application_id.load(self.m.id)]

    language: Language = strawberry.field(description="The language of instruction it waits for.")
    group_type: GroupType = strawberry.field(description="The group type it waits for.")
    desired_start_date: dt.date = strawberry.field(
        description="From when the child may start: no offer is made before it (the day of submission by default)."
    )
    notification_language: Language = strawberry.field(description="The language of its SMS and contracts.")

    choices: list[ChoiceNode] = strawberry.field(
        default=derived(_ranked_choices), description="Its chosen kindergartens, by rank."
    )
    sibling_group_id: strawberry.ID | None = strawberry.field(
        description="Set when linked with siblings' applications: the group is offered seats together."
    )

    @strawberry.field(
        description="The live offer (PENDING or CONFIRMED), or null; for an ENROLLED application, a live upgrade "
        "offer from a kindergarten ranked higher."
    )
    def offer(self, info: I) -> OfferNode | None:
        return ready(info.context.loaders.live_offer_by_application_id.load(self.m.id), offer_node)

    @strawberry.field(description="Audit events, newest first (the latest 50).")
    async def history(self, info: I) -> list[AuditEventNode]:
        return [AuditEventNode(m=e) for e in await info.context.loaders.history_by_application_id.load(self.m.id)]

    @strawberry.field(description="The child it is for.")
    async def child(self, info: I) -> ChildNode | None:
        person = await info.context.loaders.person_by_iin.load(self.m.child_iin)
        return ChildNode(m=person) if person else None
