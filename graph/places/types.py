"""Regions, districts, kindergartens and their groups, and the anonymised public queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import strawberry

from domain import model
from graph.common import GroupType, I, Language, Ownership, PriorityTier
from graph.nodes import Node, node_type
from graph.pages import PageInfo
from persistence.readers import QueueRow


@node_type("District")
class DistrictNode(Node[model.District]):
    code: str
    name_kk: str
    name_ru: str


@node_type("Region")
class RegionNode(Node[model.Region]):
    code: str
    name_kk: str
    name_ru: str
    of_districts: strawberry.Private[Sequence[model.District]] = ()

    @strawberry.field
    def districts(self) -> list[DistrictNode]:
        return [DistrictNode(m=d) for d in self.of_districts]


@strawberry.type
class ScheduledCapacity:
    capacity: int
    from_: dt.date = strawberry.field(name="from")


@node_type("Group")
class GroupNode(Node[model.Group]):
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
    opens_on: dt.date | None

    @strawberry.field(description="The capacity from a later date (the next school year's), if one is set.")
    def scheduled_capacity(self) -> ScheduledCapacity | None:
        if self.m.scheduled_capacity is None or self.m.scheduled_from is None:
            return None
        return ScheduledCapacity(capacity=self.m.scheduled_capacity, from_=self.m.scheduled_from)

    @strawberry.field(description="Seats free on every day from that date on, counting planned departures.")
    async def seats_from(self, info: I, date: dt.date) -> int:
        return await info.context.loaders.seats_from_by_group_and_date.load((self.m.id, date))

    @strawberry.field(description="Applications standing in the queues this group serves.")
    async def queue_length(self, info: I) -> int:
        return await info.context.loaders.queue_length_by_group_id.load(self.m.id)

    @strawberry.field
    async def kindergarten(self, info: I) -> KindergartenNode | None:
        return await load_kindergarten(info, self.m.kindergarten_id)


@node_type("Kindergarten")
class KindergartenNode(Node[model.Kindergarten]):
    id: strawberry.ID
    external_id: str
    name_kk: str
    name_ru: str
    address: str

    @strawberry.field
    async def district(self, info: I) -> DistrictNode | None:
        d = await info.context.loaders.district_by_code.load(self.m.district_code)
        return DistrictNode(m=d) if d else None

    region_code: str
    ownership: Ownership
    state_order: bool
    latitude: float | None
    longitude: float | None

    @strawberry.field
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


@strawberry.type
class KindergartenEdge:
    node: KindergartenNode
    cursor: str


@strawberry.type
class KindergartenConnection:
    edges: list[KindergartenEdge]
    page_info: PageInfo


@node_type("QueueEntry")
class QueueEntryNode(Node[QueueRow]):
    position: int
    application_number: str
    birth_year: int
    tier: PriorityTier
    queue_date: dt.datetime


@strawberry.type
class QueueEntryEdge:
    node: QueueEntryNode
    cursor: str


@strawberry.type
class QueueEntryConnection:
    edges: list[QueueEntryEdge]
    page_info: PageInfo
