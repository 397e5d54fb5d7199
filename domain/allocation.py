"""Who gets a free seat (docs/product.md §4 "Candidates", §5, §6 ratio): pure rules over candidates in queue order,
so that any decision can be replayed from the recorded data.

Candidates for a free seat in a group: active, not INACTIVE applications whose queue at that kindergarten
fits the group, whose desired start date has come, whose child has reached the minimum admission age, and
that hold no seat or hold one (a live offer or an enrolment) at a kindergarten they ranked lower. The first
candidate in queue order gets the seat, honouring the primary-to-general ratio."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from domain.age import old_enough
from domain.model import PriorityTier
from domain.queue_order import QueueOrder, queue_order


@dataclass(frozen=True, slots=True)
class Candidate:
    application_id: int
    child_iin: str
    tier: PriorityTier
    sibling_priority: bool
    queue_date: dt.datetime
    birth_date: dt.date
    desired_start_date: dt.date
    rank_here: int  # rank of this kindergarten among the child's choices
    holding_rank: int | None  # rank of the kindergarten where the child holds a live offer or an enrolment
    sibling_group_id: int | None = None

    @property
    def order(self) -> QueueOrder:
        return queue_order(self.tier, self.sibling_priority, self.queue_date, self.application_id)


def eligible(c: Candidate, today: dt.date, min_age_months: int) -> bool:
    """Start date come, old enough, and holding no seat or only one at a kindergarten ranked lower."""
    return (
        c.desired_start_date <= today
        and old_enough(c.birth_date, today, min_age_months)
        and (c.holding_rank is None or c.holding_rank > c.rank_here)
    )


def turn(ratio: tuple[int, int] | None, primary_made: int, general_made: int) -> PriorityTier | None:
    """Whose turn it is under a primary-to-general ratio [p, g] (per group, over the offers made there);
    None without a ratio."""
    if ratio is None:
        return None
    p, g = ratio
    if p + g == 0:
        return None
    return PriorityTier.PRIMARY if (primary_made + general_made) % (p + g) < p else PriorityTier.GENERAL


def choose(
    candidates: Sequence[Candidate],
    today: dt.date,
    min_age_months: int,
    ratio: tuple[int, int] | None = None,
    primary_made: int = 0,
    general_made: int = 0,
) -> Candidate | None:
    """The first eligible candidate in queue order, honouring the ratio: EXTRAORDINARY always first, and a
    tier with no candidate yields its turn."""
    pool = [c for c in sorted(candidates, key=lambda c: c.order) if eligible(c, today, min_age_months)]
    if not pool:
        return None
    if pool[0].tier == PriorityTier.EXTRAORDINARY:
        return pool[0]
    wanted = turn(ratio, primary_made, general_made)
    if wanted is not None:
        for c in pool:
            if c.tier == wanted:
                return c
    return pool[0]
