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


@node_type("HealthDocument")
class HealthDocumentNode(Node[model.HealthDocumentRecord]):
    kind: str
    document_id: str
    issued_on: dt.date


@node_type("Contract")
class ContractNode(Node[model.Contract]):
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
    def health_documents(self) -> list[HealthDocumentNode]:
        return [HealthDocumentNode(m=d) for d in self.m.health_documents]

    missing_documents: list[str] = strawberry.field(
        description="Kinds of health documents the health registry does not hold for the child."
    )


@node_type("Offer")
class OfferNode(Node[model.Offer]):
    id: strawberry.ID
    status: OfferStatus

    @strawberry.field
    def kindergarten(self, info: I) -> KindergartenNode:
        return ready(info.context.loaders.kindergarten_by_id.load(self.m.kindergarten_id), referenced_kindergarten)

    @strawberry.field
    async def group(self, info: I) -> GroupNode:
        g = await load_group(info, self.m.group_id)
        assert g is not None
        return g

    @strawberry.field(graphql_type=CHILD.graphql_type | None)
    async def child(self, info: I) -> Node[model.Person] | None:
        person = await info.context.loaders.person_by_iin.load(self.m.child_iin)
        return CHILD(person) if person else None

    created_at: dt.datetime

    respond_by: dt.datetime = strawberry.field(
        description="Deadline of the current step: the answer while PENDING, the signature while CONFIRMED."
    )

    tier: PriorityTier = strawberry.field(description="The tier the offer was made on.")
    upgrade: bool = strawberry.field(description="Made to a child already enrolled at a kindergarten ranked lower.")
    sibling_group_id: strawberry.ID | None
    starts_on: dt.date = strawberry.field(description="The day the seat is free from: today's for a seat free now.")
    intake_run_id: strawberry.ID | None = strawberry.field(
        description="The intake run that made the offer, if one did."
    )

    @strawberry.field
    async def contract(self, info: I) -> ContractNode | None:
        c = await info.context.loaders.contract_by_offer_id.load(self.m.id)
        return ContractNode(m=c) if c else None

    @strawberry.field(graphql_type=APPLICATION.graphql_type | None)
    async def application(self, info: I) -> Node[model.Application] | None:
        return await visible_application(info, self.m.application_id)


def offer_node(offer: model.Offer | None) -> OfferNode | None:
    return OfferNode(m=offer) if offer else None


async def load_offer(info: I, offer_id: int | None) -> OfferNode | None:
    return offer_node(await info.context.loaders.offer_by_id.load(offer_id) if offer_id else None)


@node_type("Enrollment")
class EnrollmentNode(Node[model.Enrollment]):
    @strawberry.field
    async def kindergarten(self, info: I) -> KindergartenNode | None:
        return await load_kindergarten(info, self.m.kindergarten_id)

    @strawberry.field
    async def group(self, info: I) -> GroupNode | None:
        return await load_group(info, self.m.group_id)

    since: dt.date
    leaves_on: dt.date | None = strawberry.field(description="The last day, if a departure is planned.")
