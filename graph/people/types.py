"""Who calls (Viewer) and the children of the population registry."""

from __future__ import annotations

import asyncio
import datetime as dt

import strawberry

from domain import model
from graph.access import can_see_application, can_see_child
from graph.applications.load import APPLICATION, load_ahead
from graph.common import I, Role
from graph.nodes import Node, node_type
from graph.offers.types import EnrollmentNode
from graph.places.types import KindergartenNode, load_kindergarten


@node_type("Viewer", description="Who the token says the caller is; every field is null for the public (no token).")
class ViewerNode(Node[model.Actor]):
    role: Role | None = strawberry.field(description="The caller's role.")
    channel: str | None = strawberry.field(description="The channel that signed the token (egov, kaspi, …).")
    subject: str | None = strawberry.field(
        description="Who the person is: the IIN for citizens, the channel's own user id for staff and operators."
    )
    region_code: str | None = strawberry.field(description="Operators: the region of their area.")
    district_code: str | None = strawberry.field(
        description="Operators of one district: the district that narrows their area."
    )

    @strawberry.field(description="Staff: their kindergarten.")
    async def kindergarten(self, info: I) -> KindergartenNode | None:
        if not self.m.kindergarten:
            return None
        found = await info.context.services.reader.kindergarten_ids_by_external([self.m.kindergarten])
        return await load_kindergarten(info, found[0]) if found else None


@node_type("Child", description="A child of the population registry, as Kezek's copy of it knows them.")
class ChildNode(Node[model.Person]):
    # Read from the caller's own family snapshot (myChildren): the caller is this child's representative.
    own: strawberry.Private[bool] = False
    iin: str = strawberry.field(description="The child's IIN (12 digits).")
    full_name: str = strawberry.field(description="As the population registry writes it.")
    birth_date: dt.date = strawberry.field(description="As the population registry records it.")

    @strawberry.field(
        description="The active application, else the latest one, else null; null too for a caller who may not see it.",
        graphql_type=APPLICATION.graphql_type | None,
    )
    async def application(self, info: I) -> Node[model.Application] | None:
        app = await info.context.loaders.application_by_child_iin.load(self.m.iin)
        # The owner check would read the representations the family snapshot was just read from.
        if app is None or not (self.own or await can_see_application(info, app)):
            return None
        await load_ahead(info, app)
        return APPLICATION(app)

    @strawberry.field(description="The current enrolment, or null.")
    async def enrollment(self, info: I) -> EnrollmentNode | None:
        e = await info.context.loaders.enrollment_by_child_iin.load(self.m.iin)
        return EnrollmentNode(m=e) if e else None

    @strawberry.field(
        description="Brothers and sisters: children sharing a legal representative; only those the caller may see."
    )
    async def siblings(self, info: I) -> list[ChildNode]:
        loaders = info.context.loaders
        iins = await loaders.siblings_by_child_iin.load(self.m.iin)
        persons = await loaders.person_by_iin.load_many(iins)
        # A sibling is another child: shown only to those who may see that child too.
        visible = await asyncio.gather(*(can_see_child(info, iin) for iin in iins))
        return [ChildNode(m=p) for p, ok in zip(persons, visible, strict=True) if p is not None and ok]
