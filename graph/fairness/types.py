"""The fairness report as operators and the ministry read it (docs/api.md §3 `FairnessReport`, docs/product.md §11):
thin nodes over domain/fairness.py's figures."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain import fairness
from graph.common import I, PriorityTier, enum_type
from graph.nodes import Node, derived, node_type
from graph.places.types import KindergartenNode, load_kindergarten

IdleCause = fairness.IdleCause
enum_type(
    IdleCause,
    "Why a seat of a day was not taken by a child enrolled that day (docs/product.md §11).",
    {
        "OFFER_WINDOW": "Held by an offer waiting for the parent's answer.",
        "CONTRACT_WINDOW": "Held by a confirmed offer whose contract waits for the parent's signature.",
        "PROMISED_LATER": "Free that day but not free from it: a child starts in it later, an offer holds it "
        "from a later day, or the group has fewer seats to come; it could not be given.",
        "CANDIDATE_WAITING": "Free from that day while a child who could take it waited: a fault, zero is the rule.",
        "HELD_FOR_INTAKE": "Nobody could start that day, and it waited for the coming school year's intake run, not "
        "yet published, for which children were waiting.",
        "NO_CANDIDATE": "Free from that day, and no child waiting could take it.",
    },
)


@node_type("EnvyExample", description="A pair of justified envy: a child passed over for a seat given behind it.")
class EnvyExampleNode(Node[fairness.EnvyExample]):
    application_number: str = strawberry.field(description="The application of the child passed over.")

    @strawberry.field(description="The kindergarten whose seat it was.")
    async def kindergarten(self, info: I) -> KindergartenNode | None:
        return await load_kindergarten(info, self.m.kindergarten.id)

    ahead_of_application_number: str | None = strawberry.field(
        description="The application of the child given the seat, behind the first in the kindergarten's order; "
        "null for a child with no application (a seat given outside the queue)."
    )
    at: dt.datetime = strawberry.field(description="When the seat was given.")


@node_type("IdleSeatDays", description="Seat-days of one cause.")
class IdleSeatDaysNode(Node[fairness.IdleSeatDays]):
    cause: IdleCause = strawberry.field(description="Why the seats stood so.")
    days: int = strawberry.field(description="Seat-days: a seat for one day, summed over the area's groups.")


@node_type("Placement", description="Where the children whose enrolment began in the period were placed.")
class PlacementNode(Node[fairness.Placement]):
    children: int = strawberry.field(description="Children whose enrolment began in the period.")
    first_choice: float | None = strawberry.field(
        description="The share of them placed at their first choice (ranked so when the seat was offered); null "
        "without any."
    )
    top_two: float | None = strawberry.field(description="The share placed at one of their first two choices.")
    any_choice: float | None = strawberry.field(
        description="The share placed at one of their choices (below 1 only for seats given outside the queue)."
    )
    upgrades: int = strawberry.field(
        description="Offers of the period to children already enrolled elsewhere that ended in an enrolment."
    )


@node_type("WaitingDays", description="Days from eligibility to a first offer, for one tier and birth year.")
class WaitingDaysNode(Node[fairness.WaitingDays]):
    tier: PriorityTier = strawberry.field(description="The application's tier when offered.")
    birth_year: int = strawberry.field(description="The children's birth year.")
    offers: int = strawberry.field(description="First offers of the period counted.")
    median: float = strawberry.field(
        description="Median days from eligibility (queue date or desired start, whichever is later, and old "
        "enough) to the offer."
    )
    p90: float = strawberry.field(description="The 90th percentile of the same.")


@node_type("Churn", description="How many offers a filled seat took, and how offers ended.")
class ChurnNode(Node[fairness.Churn]):
    offers: int = strawberry.field(description="Offers made in the period.")
    filled_seats: int = strawberry.field(description="Enrolments begun in the period.")
    offers_per_filled_seat: float | None = strawberry.field(
        description="Offers made per enrolment begun; null without any enrolment."
    )
    ended: int = strawberry.field(description="Offers that ended in the period (any way).")
    decline_rate: float | None = strawberry.field(description="The share of those the parent declined.")
    lapse_rate: float | None = strawberry.field(description="The share of those that lapsed unanswered or unsigned.")
    longest_chain: int = strawberry.field(
        description="The most offers superseded in one cascade: a better offer superseding one whose seat went at "
        "once to a child whose own offer it superseded, and so on."
    )


def _examples(m: fairness.FairnessReport) -> list[EnvyExampleNode]:
    return [EnvyExampleNode(m=e) for e in m.envy_examples]


def _idle(m: fairness.FairnessReport) -> list[IdleSeatDaysNode]:
    return [IdleSeatDaysNode(m=i) for i in m.idle_seat_days]


def _waiting(m: fairness.FairnessReport) -> list[WaitingDaysNode]:
    return [WaitingDaysNode(m=w) for w in m.waiting_days]


@node_type(
    "FairnessReport",
    description="Kezek's fairness over a period, proved from its records alone (docs/product.md §11): anyone with a "
    "copy of the data computes the same figures.",
)
class FairnessReportNode(Node[fairness.FairnessReport]):
    region_code: str | None = strawberry.field(description="The region; null for the whole country.")
    district_code: str | None = strawberry.field(description="The district, when the report is of one.")
    start: dt.date = strawberry.field(name="from", description="The period's first day.")
    end: dt.date = strawberry.field(name="to", description="The day after the period's last.")
    as_of: dt.datetime = strawberry.field(
        description="The records were read up to this instant: the period's end, or the moment of the report."
    )
    envy_pairs: int = strawberry.field(
        description="Justified-envy pairs outside sibling groups: a seat given while a child ahead of its receiver "
        "in the kindergarten's order was a candidate for it. Zero is the rule."
    )
    envy_children: int = strawberry.field(description="Distinct children passed over in those pairs.")
    envy_days: float = strawberry.field(
        description="Days those children spent passed over: from each seat given behind them until they got a seat "
        "there or at a choice ranked higher, or stopped being candidates (the union per child, summed)."
    )
    sibling_pairs: int = strawberry.field(
        description="Envy pairs involving a sibling group's member, reported apart: sibling groups are seated "
        "together or not at all."
    )
    envy_examples: list[EnvyExampleNode] = strawberry.field(
        default=derived(_examples), description="Up to 20 of the pairs, the earliest first."
    )
    idle_seat_days: list[IdleSeatDaysNode] = strawberry.field(
        default=derived(_idle),
        description="Seat-days of the area's groups not taken by an enrolled child, by cause, over the period's "
        "complete days; every cause listed.",
    )
    placement: PlacementNode = strawberry.field(
        default=derived(lambda m: PlacementNode(m=m.placement)), description="Where children were placed."
    )
    waiting_days: list[WaitingDaysNode] = strawberry.field(
        default=derived(_waiting), description="Waiting to a first offer, by tier and birth year."
    )
    churn: ChurnNode = strawberry.field(default=derived(lambda m: ChurnNode(m=m.churn)), description="Churn.")
    sibling_groups_placed: int = strawberry.field(
        description="Sibling groups offered seats in the period at the area's kindergartens."
    )
    sibling_groups_together: float | None = strawberry.field(
        description="The share of those whose first offers went to every member at once, at one kindergarten; null "
        "without any."
    )
