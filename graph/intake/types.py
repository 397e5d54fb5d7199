"""The summer intake run as operators read it (docs/api.md §3 `IntakeRun`): totals, the checker's verdict, and
per group the application numbers offered and the seats left free."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from domain import intake
from graph.common import I, PriorityTier, enum_type
from graph.nodes import Node, derived, node_type
from graph.pages import AFTER, FIRST, PageInfo, id_cursor, page_size
from graph.places.types import GroupNode, load_group

IntakeRunStatus = intake.IntakeRunStatus
LeftFree = intake.LeftFree
enum_type(
    IntakeRunStatus,
    "Where an intake run stands.",
    {
        "DRAFT": "Computed and readable; no offer made yet. It can be published or discarded.",
        "PUBLISHED": "Its offers were made. One per region and school year; never changed afterwards.",
        "DISCARDED": "Dropped before publication; another draft may be made.",
    },
)
enum_type(
    LeftFree,
    "Why a group's seat was left free by the run.",
    {
        "NO_CANDIDATE": "No child waiting on 1 September ranks a kindergarten whose group it fits.",
        "PLACED_HIGHER": "Every child who could have it got a choice it ranked higher.",
        "SIBLINGS_APART": "Only sibling groups wanted it, and they could not be seated together.",
    },
)


@strawberry.type(description="A count of children of one tier.")
class TierCount:
    tier: PriorityTier = strawberry.field(description="The tier.")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="The independent checker's verdict on the run (docs/product.md §10).")
class StabilityVerdict:
    stable: bool = strawberry.field(description="No justified envy, no wasted seat, nothing impossible.")
    envy_pairs: int = strawberry.field(description="Justified-envy pairs outside sibling groups: zero is the rule.")
    waste: int = strawberry.field(description="A child and a seat it wanted left free: zero is the rule.")
    sibling_pairs: int = strawberry.field(description="Envy involving a sibling group's member, reported apart.")
    unplaced_sibling_groups: list[strawberry.ID] = strawberry.field(
        description="Sibling groups that could not be seated together, and so stay waiting."
    )
    impossible: list[str] = strawberry.field(description="Placements that cannot be (none in a sound run).")


@node_type("IntakeGroupResult", description="What the run gives one group.")
class IntakeGroupResultNode(Node[intake.GroupResult]):
    @strawberry.field(description="The group.")
    async def group(self, info: I) -> GroupNode | None:
        return await load_group(info, self.m.group_id)

    seats: int = strawberry.field(description="Seats free from 1 September the run had to give.")

    @strawberry.field(description="Application numbers offered a seat in the group, in queue order.")
    async def offered_application_numbers(self, info: I) -> list[str]:
        numbers = await info.context.loaders.application_number_by_id.load_many(list(self.m.offered))
        return [n for n in numbers if n is not None]

    left_free: int = strawberry.field(description="Seats the run left free (the vacancy chain offers them later).")
    left_free_reason: LeftFree | None = strawberry.field(description="Why; null when none was left free.")


@strawberry.type(description="A group of a run's page, with its cursor.")
class IntakeGroupResultEdge:
    node: IntakeGroupResultNode = strawberry.field(description="What the run gives the group.")
    cursor: str = strawberry.field(description="Pass as `after` to read the groups after this one.")


@strawberry.type(description="A page of a run's groups, in group id order.")
class IntakeGroupResultConnection:
    edges: list[IntakeGroupResultEdge] = strawberry.field(description="The page's groups.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")


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


def _seats(run: intake.IntakeRun) -> int:
    return run.totals.seats


def _offers(run: intake.IntakeRun) -> int:
    return run.totals.offers


def _upgrades(run: intake.IntakeRun) -> int:
    return run.totals.upgrades


def _first_choice(run: intake.IntakeRun) -> float | None:
    return run.totals.first_choice_share


def _left_free(run: intake.IntakeRun) -> int:
    return run.totals.seats_left_free


def _changes(run: intake.IntakeRun) -> list[str]:
    return list(run.changes_at_publish)


@node_type("IntakeRun", description="A region's summer intake for one school year (docs/product.md §10).")
class IntakeRunNode(Node[intake.IntakeRun]):
    id: strawberry.ID = strawberry.field(description="Kezek's id of the run.")
    region_code: str = strawberry.field(description="The region it is for.")
    school_year: int = strawberry.field(description="The year Y of the school year starting 1 September Y.")
    status: IntakeRunStatus = strawberry.field(description="Draft, published or discarded.")
    created_at: dt.datetime = strawberry.field(description="When the draft was computed.")
    published_at: dt.datetime | None = strawberry.field(description="When its offers were made; null before.")
    seats: int = strawberry.field(default=derived(_seats), description="Seats of the region free from 1 September.")
    offers: int = strawberry.field(default=derived(_offers), description="Offers the run makes (or made).")
    upgrades: int = strawberry.field(
        default=derived(_upgrades), description="Of them, offers to children who hold a seat they ranked lower."
    )
    first_choice_share: float | None = strawberry.field(
        default=derived(_first_choice), description="Of the offers, the share at the child's first choice."
    )
    waiting_by_tier: list[TierCount] = strawberry.field(
        default=derived(_waiting), description="Candidates left without any seat, by tier."
    )
    seats_left_free: int = strawberry.field(default=derived(_left_free), description="Seats the run left free.")
    changes_at_publish: list[str] = strawberry.field(
        default=derived(_changes),
        description="What computing the run again at publication changed since the draft, one line each.",
    )
    verdict: StabilityVerdict = strawberry.field(
        default=derived(_verdict), description="The independent checker's verdict, kept with the run."
    )

    @strawberry.field(
        description="Per group with seats free from 1 September: the seats, the application numbers offered, the "
        "seats left free."
    )
    async def groups(
        self,
        info: I,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> IntakeGroupResultConnection:
        page = await info.context.services.reader.intake_groups(self.m.id, page_size(first), id_cursor(after))
        return IntakeGroupResultConnection(
            edges=[
                IntakeGroupResultEdge(node=IntakeGroupResultNode(m=g), cursor=c)
                for g, c in zip(page.items, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(page, after=after),
        )
