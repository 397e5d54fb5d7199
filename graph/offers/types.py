"""Seat offers, their contracts and the enrolments they end in."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain import model
from graph.applications.load import APPLICATION, visible_application
from graph.common import I, Language, OfferStatus, PriorityTier
from graph.nodes import Deferred, Node, node_type, ready
from graph.places.types import GroupNode, KindergartenNode, load_group, load_kindergarten, referenced_kindergarten

CHILD = Deferred[model.Person]("ChildNode", "graph.people.types")


@node_type("HealthDocument", description="A child's document in the health registry, as the contract lists it.")
class HealthDocumentNode(Node[model.HealthDocumentRecord]):
    kind: str = strawberry.field(description="VACCINATION_CARD, MEDICAL_RECORD or SPECIAL_NEEDS_CONCLUSION.")
    document_id: str = strawberry.field(description="The registry's id of the document.")
    issued_on: dt.date = strawberry.field(description="When it was issued.")


@node_type("Contract", description="The contract a confirmed offer issues: the parent signs it to enrol the child.")
class ContractNode(Node[model.Contract]):
    id: strawberry.ID = strawberry.field(description="Kezek's id of the contract: what signContract names.")
    text: str = strawberry.field(
        description="The contract: the child, the kindergarten, the group, the start date, the signing deadline."
    )
    document_hash: str = strawberry.field(
        description="Lowercase hex SHA-256 of the UTF-8 text: what the e-signature covers."
    )

    language: Language = strawberry.field(description="The language of the text: the parent's notification language.")
    issued_at: dt.datetime = strawberry.field(description="When the offer's confirmation issued it.")
    sign_by: dt.datetime = strawberry.field(
        description="The signing deadline: the contract window after issue, or 30 days after issue once extended."
    )
    signed_at: dt.datetime | None = strawberry.field(description="When it was signed; null until then.")
    extended: bool = strawberry.field(description="Whether the one extension (extendContract) was used.")

    @strawberry.field(description="The child's documents the health registry holds.")
    def health_documents(self) -> list[HealthDocumentNode]:
        return [HealthDocumentNode(m=d) for d in self.m.health_documents]

    missing_documents: list[str] = strawberry.field(
        description="Kinds of health documents the health registry does not hold for the child."
    )


@node_type(
    "Offer",
    description="A seat offer (направление): one seat of one group, kept for one child chosen by queue order, until "
    "the parent answers or the deadline passes.",
)
class OfferNode(Node[model.Offer]):
    id: strawberry.ID = strawberry.field(description="Kezek's id of the offer.")
    status: OfferStatus = strawberry.field(description="Where it stands.")

    @strawberry.field(description="The kindergarten of the seat.")
    def kindergarten(self, info: I) -> KindergartenNode:
        return ready(info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id), referenced_kindergarten)

    @strawberry.field(description="The group of the seat.")
    async def group(self, info: I) -> GroupNode:
        g = await load_group(info, self.m.group_id)
        assert g is not None
        return g

    @strawberry.field(description="The child it is offered to.", graphql_type=CHILD.graphql_type | None)
    async def child(self, info: I) -> Node[model.Person] | None:
        person = await info.context.loaders.person_by_iin.load(self.m.child_iin)
        return CHILD(person) if person else None

    created_at: dt.datetime = strawberry.field(description="When it was made.")

    respond_by: dt.datetime = strawberry.field(
        description="Deadline of the current step: the answer while PENDING, the signature while CONFIRMED."
    )

    tier: PriorityTier = strawberry.field(description="The tier the offer was made on.")
    upgrade: bool = strawberry.field(description="Made to a child already enrolled at a kindergarten ranked lower.")
    sibling_group_id: strawberry.ID | None = strawberry.field(
        description="The same on every offer of one sibling group: confirming or declining one does it for all."
    )
    starts_on: dt.date = strawberry.field(description="The day the seat is free from: today's for a seat free now.")
    intake_run_id: strawberry.ID | None = strawberry.field(
        description="The intake run that made the offer, if one did."
    )

    @strawberry.field(description="The contract, once the offer is confirmed; null before.")
    async def contract(self, info: I) -> ContractNode | None:
        c = await info.context.loaders.contract_by_offer_id.load(self.m.id)
        return ContractNode(m=c) if c else None

    @strawberry.field(
        description="The application it was made for; null for a caller who may not see it (kindergarten staff).",
        graphql_type=APPLICATION.graphql_type | None,
    )
    async def application(self, info: I) -> Node[model.Application] | None:
        return await visible_application(info, self.m.application_id)


def offer_node(offer: model.Offer | None) -> OfferNode | None:
    return OfferNode(m=offer) if offer else None


async def load_offer(info: I, offer_id: int | None) -> OfferNode | None:
    return offer_node(await info.context.loaders.offer_by_id.load(offer_id) if offer_id else None)


@node_type("Enrollment", description="A child's place in a kindergarten group.")
class EnrollmentNode(Node[model.Enrollment]):
    @strawberry.field(description="The kindergarten.")
    async def kindergarten(self, info: I) -> KindergartenNode | None:
        return await load_kindergarten(info, self.m.kindergarten_id)

    @strawberry.field(description="The group.")
    async def group(self, info: I) -> GroupNode | None:
        return await load_group(info, self.m.group_id)

    since: dt.date = strawberry.field(
        description="The first day: the desired start date, or the day the seat is free from, or signing day if later."
    )
    leaves_on: dt.date | None = strawberry.field(
        description="The last day, when a departure is planned: by default 31 August of the year the child turns 6."
    )
