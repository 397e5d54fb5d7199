"""The queue order and a choice's position (docs/product.md §3 "Queue and position", docs/product.md).

A queue is (kindergarten, birth year, language, group type). Within it choices stand in this order:
1. tier: EXTRAORDINARY, then PRIMARY, then GENERAL (`PriorityTier.rank`);
2. a sibling already enrolled in that kindergarten first within the tier;
3. queue date, earlier first;
4. application number (issued in id order), as the final tie-break.

`QueueOrder` is that order and its only definition: its fields, in their order, are the sort key. The SQL
that counts positions and lists candidates is generated from it (persistence/sql.py), and a test holds the
database's queue index to it (tests/test_rule_encodings.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from domain.model import Application, GroupType, Language, PriorityTier

SIBLING_FIRST = 0  # sibling_rank of a choice whose brother or sister is enrolled at the kindergarten
NO_SIBLING = 1


@dataclass(frozen=True, slots=True)
class QueueKey:
    kindergarten_id: int
    birth_year: int
    language: Language
    group_type: GroupType


class QueueOrder(NamedTuple):
    """Sort key of a choice within its queue; lower is ahead. Field order is the order of the rule. A tuple, so
    that it compares as one (in C): the intake's matching and checker sort hundreds of thousands of them for a
    national region, which a dataclass's generated comparisons made a third of their time."""

    tier_rank: int
    sibling_rank: int
    queue_date: dt.datetime
    application_id: int


def sibling_rank(sibling_enrolled: bool) -> int:
    return SIBLING_FIRST if sibling_enrolled else NO_SIBLING


def queue_order(tier: PriorityTier, sibling_enrolled: bool, queue_date: dt.datetime, app_id: int) -> QueueOrder:
    return QueueOrder(tier.rank, sibling_rank(sibling_enrolled), queue_date, app_id)


def standing(app: Application) -> dict[QueueKey, QueueOrder]:
    """Where the application's choices stand: every choice of an application in the queues (QUEUED, OFFERED,
    ENROLLING, ENROLLED) except those holding a live offer or an enrolment at their kindergarten."""
    if not app.in_queue:
        return {}
    return {
        QueueKey(c.kindergarten_id, app.birth_year, app.language, app.group_type): queue_order(
            app.tier, c.sibling_priority, app.queue_date, app.id
        )
        for c in app.choices
        if not c.held_here
    }


def position(ahead: int) -> int:
    """A position is a rank: 1 + the choices ahead in the queue (counted in the database, never stored)."""
    return 1 + ahead
