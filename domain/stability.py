"""The independent checker of an intake run (docs/product.md §10 "stable by construction", §11 "Justified envy").

Separate code from the matching (domain/intake.py), reading only the run's inputs and its placements: it
checks that the placements are possible at all (seats, fit, choices, sibling groups whole) and looks for
- justified envy: a child i who prefers kindergarten K to what it got (or holds), and a child j placed in a
  group of K whom K's rule would have turned away for i: j behind i in K's queue order, under the ratio's
  turns filled one seat at a time as the allocator fills them (domain/allocation.py `turn`);
- waste: such a child and a seat of that group left free.
Pairs where either child is in a sibling group are counted apart, not as envy: sibling groups are seated
first, as units, by the rule in force. Sibling groups left unplaced are listed. A run is stable when it has
no justified envy, no waste and nothing impossible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.allocation import turn
from domain.intake import Inputs, IntakeChild, IntakeGroup, Matching
from domain.model import PriorityTier
from domain.queue_order import QueueOrder

EXAMPLES = 20  # pairs kept for reading


@dataclass(frozen=True, slots=True)
class Pair:
    application_id: int  # the child who would have had the seat
    group_id: int
    ahead_of: int | None  # the child placed there instead; None: the seat was left free


@dataclass(frozen=True, slots=True)
class Verdict:
    envy_pairs: int
    waste: int
    sibling_pairs: int  # envy involving a sibling group's member, reported apart
    unplaced_sibling_groups: tuple[int, ...]
    impossible: tuple[str, ...]
    examples: tuple[Pair, ...] = field(default=())

    @property
    def stable(self) -> bool:
        return self.envy_pairs == 0 and self.waste == 0 and not self.impossible

    def as_json(self) -> dict[str, object]:
        return {
            "stable": self.stable,
            "envyPairs": self.envy_pairs,
            "waste": self.waste,
            "siblingPairs": self.sibling_pairs,
            "unplacedSiblingGroups": list(self.unplaced_sibling_groups),
            "impossible": list(self.impossible),
            "examples": [
                {"applicationId": p.application_id, "groupId": p.group_id, "aheadOf": p.ahead_of} for p in self.examples
            ],
        }


def keeps(
    group: IntakeGroup,
    seats: int,
    made: int,
    ratio: tuple[int, int] | None,
    line: list[tuple[QueueOrder, int, PriorityTier]],
) -> set[int]:
    """Who the group keeps of `line` for `seats` seats, one seat at a time: the first EXTRAORDINARY child
    while there is one, else the first child of the tier whose turn it is, else the first child."""
    left = sorted(line)
    kept: set[int] = set()
    for _ in range(seats):
        if not left:
            break
        pick = 0
        if left[0][2] != PriorityTier.EXTRAORDINARY and ratio is not None:
            wanted = turn(ratio, made, 0)
            pick = next((i for i, entry in enumerate(left) if entry[2] == wanted), 0)
            made += 1
        kept.add(left.pop(pick)[1])
    return kept


def check(inputs: Inputs, matching: Matching) -> Verdict:
    groups = {g.id: g for g in inputs.groups}
    children = {c.application_id: c for c in inputs.children}
    placed = matching.placed
    impossible = _impossible(inputs, matching, groups, children)

    members: dict[int, list[int]] = {}
    for app_id, group_id in placed.items():
        members.setdefault(group_id, []).append(app_id)

    def sibling(app_id: int) -> bool:
        return children[app_id].sibling_group_id is not None

    # The singles' market of each group: its seats and ratio history after the sibling groups seated there.
    singles_seats, singles_made = {}, {}
    for g in inputs.groups:
        taken = [children[a] for a in members.get(g.id, []) if sibling(a)]
        singles_seats[g.id] = g.seats - len(taken)
        singles_made[g.id] = (
            g.primary_made
            + g.general_made
            + sum(1 for c in taken if c.tier in (PriorityTier.PRIMARY, PriorityTier.GENERAL))
        )

    # Only the groups a child fits at the kindergartens it chose can be envied: indexed so that a national
    # region's check is linear in children × choices, not children × groups. The index is built here from
    # the groups' own fields (`IntakeGroup.fits` spelled as a lookup), not taken from the matching.
    by_queue: dict[tuple[int, int, str, str], list[IntakeGroup]] = {}
    for g in inputs.groups:
        for year in range(g.birth_year_from, g.birth_year_to + 1):
            by_queue.setdefault((g.kindergarten_id, year, g.language, g.group_type), []).append(g)
    # Each placed child's order in its group's kindergarten, and each group's singles in that order, computed
    # once rather than for every child who looks at the group.
    order_of = {a: children[a].order_at(groups[g].kindergarten_id) for a, g in placed.items()}
    singles_of = {
        g: sorted((order_of[j], j, children[j].tier) for j in here if not sibling(j)) for g, here in members.items()
    }

    envy = waste = sibling_pairs = 0
    examples: list[Pair] = []
    for child in inputs.children:
        got = placed.get(child.application_id)
        got_rank = children[child.application_id].rank_of(groups[got].kindergarten_id) if got is not None else None
        for kg in dict.fromkeys(child.choices):
            rank = child.rank_of(kg)
            if rank is None or (got_rank is not None and rank >= got_rank):
                continue
            order = child.order_at(kg)
            for g in by_queue.get((kg, child.birth_year, child.language, child.group_type), ()):
                if g.seats <= 0:
                    continue
                here = members.get(g.id, [])
                if sibling(child.application_id):
                    sibling_pairs += sum(1 for j in here if order_of[j] > order)
                    continue
                sibling_pairs += sum(1 for j in here if sibling(j) and order_of[j] > order)
                singles = singles_of.get(g.id, [])
                if len(singles) < singles_seats[g.id]:
                    waste += 1
                    if len(examples) < EXAMPLES:
                        examples.append(Pair(child.application_id, g.id, None))
                    continue
                line = [*singles, (order, child.application_id, child.tier)]
                kept = keeps(g, singles_seats[g.id], singles_made[g.id], inputs.ratio, line)
                if child.application_id in kept:
                    envy += 1
                    if len(examples) < EXAMPLES:
                        turned = next(j for j in here if not sibling(j) and j not in kept)
                        examples.append(Pair(child.application_id, g.id, turned))
    return Verdict(
        envy_pairs=envy,
        waste=waste,
        sibling_pairs=sibling_pairs,
        unplaced_sibling_groups=_unplaced(inputs, placed),
        impossible=tuple(impossible),
        examples=tuple(examples),
    )


def _impossible(
    inputs: Inputs, matching: Matching, groups: dict[int, IntakeGroup], children: dict[int, IntakeChild]
) -> list[str]:
    found = []
    counts: dict[int, int] = {}
    for app_id, group_id in matching.placed.items():
        child, group = children.get(app_id), groups.get(group_id)
        if child is None or group is None:
            found.append(f"application {app_id} placed in group {group_id}, which the inputs do not hold")
            continue
        counts[group_id] = counts.get(group_id, 0) + 1
        if not group.fits(child):
            found.append(f"application {app_id} does not fit group {group_id}")
        if child.rank_of(group.kindergarten_id) is None:
            found.append(f"application {app_id} did not choose kindergarten {group.kindergarten_id}")
    for group_id, n in counts.items():
        if n > groups[group_id].seats:
            found.append(f"group {group_id}: {n} placed for {groups[group_id].seats} seats")
    units: dict[int, list[IntakeChild]] = {}
    for c in inputs.children:
        if c.sibling_group_id is not None:
            units.setdefault(c.sibling_group_id, []).append(c)
    for sg, unit in units.items():
        where = {
            groups[matching.placed[c.application_id]].kindergarten_id if c.application_id in matching.placed else None
            for c in unit
        }
        if len(where) > 1:
            found.append(f"sibling group {sg} is not placed together")
    return found


def _unplaced(inputs: Inputs, placed: Mapping[int, int]) -> tuple[int, ...]:
    return tuple(
        sorted(
            {
                c.sibling_group_id
                for c in inputs.children
                if c.sibling_group_id is not None and c.application_id not in placed
            }
        )
    )
