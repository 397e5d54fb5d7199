"""Figures of an area (a region, or one district) for akimat operators and the ministry."""

from __future__ import annotations

from graph.common import PriorityTier
from graph.nodes import Node, derived, node_type
from persistence.readers import AreaFigures, WaitingCount


@node_type("WaitingByBirthYear")
class WaitingByBirthYearNode(Node[WaitingCount]):
    birth_year: int
    tier: PriorityTier
    count: int


def _by_birth_year(f: AreaFigures) -> list[WaitingByBirthYearNode]:
    return [WaitingByBirthYearNode(m=w) for w in f.by_birth_year]


@node_type("AreaStats")
class AreaStatsNode(Node[AreaFigures]):
    waiting: int
    waiting_by_birth_year: list[WaitingByBirthYearNode] = derived(_by_birth_year)
    capacity: int
    enrolled: int
    held: int
    free_seats: int
    live_offers: int
    median_wait_days: float | None
