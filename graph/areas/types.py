"""Figures of an area (a region, or one district) for akimat operators and the ministry."""

from __future__ import annotations

import strawberry

from graph.common import PriorityTier
from graph.nodes import Node, derived, node_type
from persistence.readers import AreaFigures, WaitingCount


@node_type("WaitingByBirthYear", description="How many wait of one birth year and one tier.")
class WaitingByBirthYearNode(Node[WaitingCount]):
    birth_year: int = strawberry.field(description="The children's birth year.")
    tier: PriorityTier = strawberry.field(description="Their applications' tier.")
    count: int = strawberry.field(
        description="Active QUEUED applications of children of the area of that year and tier."
    )


def _by_birth_year(f: AreaFigures) -> list[WaitingByBirthYearNode]:
    return [WaitingByBirthYearNode(m=w) for w in f.by_birth_year]


@node_type("AreaStats", description="The figures of an area: a region, or one district of it.")
class AreaStatsNode(Node[AreaFigures]):
    waiting: int = strawberry.field(
        description="Active QUEUED applications of children living in the area (those holding an offer excluded)."
    )
    waiting_by_birth_year: list[WaitingByBirthYearNode] = strawberry.field(
        default=derived(_by_birth_year), description="The same, by birth year and tier."
    )
    capacity: int = strawberry.field(description="Seats of the groups of the area's kindergartens.")
    enrolled: int = strawberry.field(description="Children enrolled in them today.")
    held: int = strawberry.field(description="Seats kept by live offers there.")
    free_seats: int = strawberry.field(description="Seats free on every day from today on, summed over the groups.")
    live_offers: int = strawberry.field(description="Offers there waiting for an answer or a signature.")
    median_wait_days: float | None = strawberry.field(
        description="Median days from queue date to the first day of enrolment, over enrolments that began in the "
        "last 365 days at the area's kindergartens; null without any."
    )
