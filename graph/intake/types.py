"""The summer intake run as operators read it (docs/api.md §3 `IntakeRun`): totals, the checker's verdict, and
per group the application numbers offered and the seats left free."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain import intake
from graph.common import I, PriorityTier
from graph.nodes import Node, derived, node_type
from graph.pages import PageInfo, id_cursor, page_size
from graph.places.types import GroupNode, load_group

IntakeRunStatus = intake.IntakeRunStatus
LeftFree = intake.LeftFree
strawberry.enum(IntakeRunStatus, name="IntakeRunStatus")
strawberry.enum(LeftFree, name="LeftFreeReason", description="Why a group's seat was left free by the run.")


@strawberry.type
class TierCount:
    tier: PriorityTier
    count: int


@strawberry.type(description="The independent checker's verdict on the run (docs/product.md §10).")
class StabilityVerdict:
    stable: bool = strawberry.field(description="No justified envy, no wasted seat, nothing impossible.")
    envy_pairs: int = strawberry.field(description="Justified-envy pairs outside sibling groups: zero is the rule.")
    waste: int = strawberry.field(description="A child and a seat it wanted left free.")
    sibling_pairs: int = strawberry.field(description="Envy involving a sibling group, reported apart.")
    unplaced_sibling_groups: list[strawberry.ID]
    impossible: list[str] = strawberry.field(description="Placements that cannot be (none in a sound run).")


@node_type("IntakeGroupResult")
class IntakeGroupResultNode(Node[intake.GroupResult]):
    @strawberry.field
    async def group(self, info: I) -> GroupNode | None:
        return await load_group(info, self.m.group_id)

    seats: int = strawberry.field(description="Seats free from 1 September the run had to give.")

    @strawberry.field(description="Application numbers offered a seat in the group, in queue order.")
    async def offered_application_numbers(self, info: I) -> list[str]:
        numbers = await info.context.loaders.application_number_by_id.load_many(list(self.m.offered))
        return [n for n in numbers if n is not None]

    left_free: int
    left_free_reason: LeftFree | None


@strawberry.type
class IntakeGroupResultEdge:
    node: IntakeGroupResultNode
    cursor: str


@strawberry.type
class IntakeGroupResultConnection:
    edges: list[IntakeGroupResultEdge]
    page_info: PageInfo


def _waiting(run: intake.IntakeRun) -> list[TierCount]:
    return [TierCount(tier=t, count=run.totals.waiting_by_tier.get(t, 0)) for t in PriorityTier]


def _verdict(run: intake.IntakeRun) -> StabilityVerdict:
    v = run.verdict
    return StabilityVerdict(
        stable=bool(v.get("stable")),
        envy_pairs=int(str(v.get("envyPairs", 0))),
        waste=int(str(v.get("waste", 0))),
        sibling_pairs=int(str(v.get("siblingPairs", 0))),
        unplaced_sibling_groups=[strawberry.ID(str(g)) for g in _list(v.get("unplacedSiblingGroups"))],
        impossible=[str(line) for line in _list(v.get("impossible"))],
    )


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


@node_type("IntakeRun")
class IntakeRunNode(Node[intake.IntakeRun]):
    id: strawberry.ID
    region_code: str
    school_year: int = strawberry.field(description="The year Y of the school year starting 1 September Y.")
    status: IntakeRunStatus
    created_at: dt.datetime
    published_at: dt.datetime | None
    seats: int = derived(lambda r: r.totals.seats)
    offers: int = derived(lambda r: r.totals.offers)
    upgrades: int = derived(lambda r: r.totals.upgrades)
    first_choice_share: float | None = derived(lambda r: r.totals.first_choice_share)
    waiting_by_tier: list[TierCount] = derived(_waiting)
    seats_left_free: int = derived(lambda r: r.totals.seats_left_free)
    changes_at_publish: list[str] = derived(lambda r: list(r.changes_at_publish))
    verdict: StabilityVerdict = derived(_verdict)

    @strawberry.field(description="Per group: the seats, the application numbers offered, the seats left free.")
    async def groups(self, info: I, first: int | None = 20, after: str | None = None) -> IntakeGroupResultConnection:
        page = await info.context.services.reader.intake_groups(self.m.id, page_size(first), id_cursor(after))
        return IntakeGroupResultConnection(
            edges=[
                IntakeGroupResultEdge(node=IntakeGroupResultNode(m=g), cursor=c)
                for g, c in zip(page.items, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(page),
        )
