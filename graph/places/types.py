"""Regions, districts, kindergartens and their groups, and the anonymised public queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

import strawberry

from domain import model
from graph.common import GroupType, I, Language, Ownership, PriorityTier
from graph.nodes import Node, node_type
from graph.pages import PageInfo
from persistence.readers import QueueRow


@node_type("District", description="A district or a town inside a region.")
class DistrictNode(Node[model.District]):
    code: str = strawberry.field(description="KATO-style code, e.g. 352400000 for the town of Shakhtinsk.")
    name_kk: str = strawberry.field(description="The name in Kazakh.")
    name_ru: str = strawberry.field(description="The name in Russian.")


@node_type("Region", description="A region: an oblast or a city of republican significance, with its districts.")
class RegionNode(Node[model.Region]):
    code: str = strawberry.field(description="KATO-style code, e.g. 350000000 for Karaganda region.")
    name_kk: str = strawberry.field(description="The name in Kazakh.")
    name_ru: str = strawberry.field(description="The name in Russian.")
    of_districts: strawberry.Private[Sequence[model.District]] = ()

    @strawberry.field(description="Its districts and towns.")
    def districts(self) -> list[DistrictNode]:
        return [DistrictNode(m=d) for d in self.of_districts]


@strawberry.type(description="A capacity from a later date.")
class ScheduledCapacity:
    capacity: int = strawberry.field(description="The seats from that date.")
    from_: dt.date = strawberry.field(name="from", description="The first day it applies.")


@node_type(
    "Group",
    description="A group of one kindergarten: the birth years it takes, its language and type, and its seats.",
)
class GroupNode(Node[model.Group]):
    id: strawberry.ID = strawberry.field(description="Kezek's id of the group.")
    external_id: str = strawberry.field(
        description="The akimat registry's code of the group, unique in its kindergarten."
    )
    birth_year_from: int = strawberry.field(description="The first birth year it takes.")
    birth_year_to: int = strawberry.field(
        description="The last birth year it takes: birthYearFrom for a single-year group, later for a mixed-age one."
    )
    language: Language = strawberry.field(description="The language it teaches in.")
    group_type: GroupType = strawberry.field(description="Its type.")
    capacity: int = strawberry.field(description="Its seats (from its opening day, if it opens later).")
    enrolled: int = strawberry.field(description="Children whose enrolment is in force today.")
    held: int = strawberry.field(description="Seats kept by live offers (PENDING or CONFIRMED) for their children.")
    free_seats: int = strawberry.field(
        description="Seats free on every day from today on (capacity − enrolled − held when nothing is planned). A "
        "seat that frees is offered at once to the first child in line who may take it, so this stays 0 while "
        "such children wait."
    )
    opens_on: dt.date | None = strawberry.field(description="The day the group opens, if it opens later.")

    @strawberry.field(description="The capacity from a later date (the next school year's), if one is set.")
    def scheduled_capacity(self) -> ScheduledCapacity | None:
        if self.m.scheduled_capacity is None or self.m.scheduled_from is None:
            return None
        return ScheduledCapacity(capacity=self.m.scheduled_capacity, from_=self.m.scheduled_from)

    @strawberry.field(
        description="Seats free on every day from that date on, counting planned departures, capacities from a "
        "date and offers starting later."
    )
    async def seats_from(
        self, info: I, date: Annotated[dt.date, strawberry.argument(description="The first day.")]
    ) -> int:
        return await info.context.loaders.seats_from_by_group_and_date.load((self.m.id, date))

    @strawberry.field(
        description="Applications standing in the queues this group serves (its kindergarten, each of its birth "
        "years, its language and type), those not eligible for a seat yet included."
    )
    async def queue_length(self, info: I) -> int:
        return await info.context.loaders.queue_length_by_group_id.load(self.m.id)

    @strawberry.field(description="The kindergarten it belongs to.")
    async def kindergarten(self, info: I) -> KindergartenNode | None:
        return await load_kindergarten(info, self.m.kindergarten_id)


@node_type("Kindergarten", description="A kindergarten of the national directory, with its groups.")
class KindergartenNode(Node[model.Kindergarten]):
    id: strawberry.ID = strawberry.field(description="Kezek's id: what choices, filters and queues name.")
    external_id: str = strawberry.field(description="The code the akimat's own registry uses for it.")
    name_kk: str = strawberry.field(description="The name in Kazakh.")
    name_ru: str = strawberry.field(description="The name in Russian.")
    address: str = strawberry.field(description="The street address; may be empty.")

    @strawberry.field(description="Its district or town.")
    async def district(self, info: I) -> DistrictNode | None:
        d = await info.context.loaders.district_by_code.load(self.m.district_code)
        return DistrictNode(m=d) if d else None

    region_code: str = strawberry.field(description="The code of its region.")
    ownership: Ownership = strawberry.field(description="State or private.")
    state_order: bool = strawberry.field(description="Whether it works under a state order (госзаказ).")
    latitude: float | None = strawberry.field(description="Latitude in degrees, when known.")
    longitude: float | None = strawberry.field(description="Longitude in degrees, when known.")

    @strawberry.field(description="Its groups.")
    async def groups(self, info: I) -> list[GroupNode]:
        return [GroupNode(m=g) for g in await info.context.loaders.groups_by_kindergarten_id.load(self.m.id)]


async def load_kindergarten(info: I, kindergarten_id: int | None) -> KindergartenNode | None:
    kg = await info.context.loaders.kindergarten_by_id.load(kindergarten_id) if kindergarten_id else None
    return KindergartenNode(m=kg) if kg else None


async def load_group(info: I, group_id: int | None) -> GroupNode | None:
    g = await info.context.loaders.group_by_id.load(group_id) if group_id else None
    return GroupNode(m=g) if g else None


def referenced_kindergarten(kg: model.Kindergarten | None) -> KindergartenNode:
    assert kg is not None  # choices and offers reference kindergartens by foreign key
    return KindergartenNode(m=kg)


@strawberry.type(description="A kindergarten of a page, with its cursor.")
class KindergartenEdge:
    node: KindergartenNode = strawberry.field(description="The kindergarten.")
    cursor: str = strawberry.field(description="Pass as `after` to read the kindergartens after this one.")


@strawberry.type(description="A page of the kindergarten directory, in id order.")
class KindergartenConnection:
    edges: list[KindergartenEdge] = strawberry.field(description="The page's kindergartens.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")


@node_type("QueueEntry", description="A place in an anonymised public queue: no name, no IIN.")
class QueueEntryNode(Node[QueueRow]):
    position: int = strawberry.field(description="1 plus the number of choices ahead of it in the queue.")
    application_number: str = strawberry.field(
        description="The application's number (KZ-2026-0000123): a family finds its own place by it."
    )
    birth_year: int = strawberry.field(description="The child's birth year.")
    tier: PriorityTier = strawberry.field(description="The application's tier: the queue order's first rule.")
    queue_date: dt.datetime = strawberry.field(
        description="When the application was first submitted: the queue order's rule after tier and sibling priority."
    )


@strawberry.type(description="A place in the queue, with its cursor.")
class QueueEntryEdge:
    node: QueueEntryNode = strawberry.field(description="The place.")
    cursor: str = strawberry.field(description="Pass as `after` to read the places behind this one.")


@strawberry.type(description="A page of a queue, in queue order.")
class QueueEntryConnection:
    edges: list[QueueEntryEdge] = strawberry.field(description="The page's places.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")
