"""Who gets a free seat (PRODUCT §4, §5, §6): a pure rule over candidates in queue order, so a
decision can be replayed from the recorded data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.model import PriorityTier, QueueOrder
from domain.rules import months_between


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
        return QueueOrder(self.tier.rank, 0 if self.sibling_priority else 1, self.queue_date, self.application_id)


def eligible(c: Candidate, today: dt.date, min_age_months: int) -> bool:
    """Start date come, old enough, and holding no seat or only one at a kindergarten ranked lower."""
    return (
        c.desired_start_date <= today
        and months_between(c.birth_date, today) >= min_age_months
        and (c.holding_rank is None or c.holding_rank > c.rank_here)
    )


def turn(ratio: tuple[int, int] | None, primary_made: int, general_made: int) -> PriorityTier | None:
    """Whose turn it is under a primary-to-general ratio [p, g]; None without a ratio."""
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
    skip_groups: Iterable[int] = (),
) -> Candidate | None:
    """The first eligible candidate in queue order, honouring the ratio (EXTRAORDINARY always first,
    a tier with no candidate yields its turn). Sibling groups listed in skip_groups are passed over."""
    skipped = set(skip_groups)
    pool = [
        c
        for c in sorted(candidates, key=lambda c: c.order)
        if eligible(c, today, min_age_months) and (c.sibling_group_id is None or c.sibling_group_id not in skipped)
    ]
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
