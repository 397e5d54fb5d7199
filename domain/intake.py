"""The summer intake (docs/product.md §10 "The intake run"): one fair run that hands out a region's seats of the
new school year.

Every seat of the region free from 1 September Y goes to the region's candidates on that day by
child-proposing deferred acceptance: each child proposes to its choices in its own order, each group holds
the proposers its choice rule prefers and turns away the rest, until no one is turned away again. A group's
choice rule is the queue order of its kindergarten (docs/product.md §3; a mixed-age group merges the queues of
the years it serves), with the region's primary ratio as seats reserved per group: EXTRAORDINARY children
first, then the ratio's turns from the group's own history (domain/allocation.py `turn`), a turn no child of
its tier takes going to the next child in queue order.

- A child who holds a seat (an enrolment, or a live offer) proposes only to the choices it ranked above it;
  its own seat is freed when it moves (by the vacancy chain once it signs: the run never gives away a seat
  whose holder may still stay).
- Within a kindergarten, a child proposes to the groups it fits narrowest first (a single-year group before
  a mixed-age one), so that a mixed-age group's seats stay for the children only it can take.
- Sibling groups are seated together or not at all: first, the sibling groups propose to kindergartens as
  units (a kindergarten keeps the units it can seat whole, in queue order of their first member); then every
  other child proposes for the seats left. Envy between a child and a sibling group's member is reported,
  not counted (domain/stability.py).

`match` is pure: the same inputs give the same matching, and a run stores its inputs, so anyone can replay it.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from domain.allocation import turn
from domain.model import PriorityTier
from domain.queue_order import QueueOrder, queue_order

EXTRAORDINARY, PRIMARY, GENERAL = PriorityTier.EXTRAORDINARY, PriorityTier.PRIMARY, PriorityTier.GENERAL


@dataclass(frozen=True, slots=True)
class IntakeGroup:
    id: int
    kindergarten_id: int
    birth_year_from: int
    birth_year_to: int
    language: str
    group_type: str
    seats: int  # free from 1 September Y
    primary_made: int = 0  # the ratio's history in this group
    general_made: int = 0

    def fits(self, child: IntakeChild) -> bool:
        return (
            self.birth_year_from <= child.birth_year <= self.birth_year_to
            and self.language == child.language
            and self.group_type == child.group_type
        )


@dataclass(frozen=True, slots=True)
class IntakeChild:
    application_id: int
    tier: PriorityTier
    queue_date: dt.datetime
    birth_year: int
    language: str
    group_type: str
    choices: tuple[int, ...]  # the kindergartens it may propose to, best first (above any seat it holds)
    ranks: tuple[int, ...]  # their ranks among all its choices
    sibling_first: tuple[int, ...] = ()  # of `choices`, those where a brother or sister is enrolled
    holding_rank: int | None = None  # rank of the kindergarten where it holds a seat
    sibling_group_id: int | None = None

    def order_at(self, kindergarten_id: int) -> QueueOrder:
        return queue_order(self.tier, kindergarten_id in self.sibling_first, self.queue_date, self.application_id)

    def rank_of(self, kindergarten_id: int) -> int | None:
        for kg, rank in zip(self.choices, self.ranks, strict=True):
            if kg == kindergarten_id:
                return rank
        return None


@dataclass(frozen=True, slots=True)
class Inputs:
    region_code: str
    school_year: int
    groups: tuple[IntakeGroup, ...]
    children: tuple[IntakeChild, ...]
    ratio: tuple[int, int] | None = None


def inputs_from(stored: str) -> Inputs:
    """The inputs as a run stores them (JSON, compact arrays: persistence/repositories/intake.py builds them in
    SQL), so that anyone with the run can replay its matching:
    `{"regionCode", "schoolYear", "ratio": [p, g] | null,
      "groups": [[id, kindergarten, birth year from, to, language, type, seats, primary made, general made]],
      "children": [[application, tier rank, queue date (ISO 8601), birth year, language, type, choices, their
                    ranks, choices with a sibling enrolled, rank of the seat held | null, sibling group | null]]}`.
    A run drafted before decision 100 also lists the groups with no seat."""
    data = json.loads(stored)
    tier = PriorityTier.from_rank
    when = dt.datetime.fromisoformat
    return Inputs(
        region_code=data["regionCode"],
        school_year=data["schoolYear"],
        ratio=(data["ratio"][0], data["ratio"][1]) if data["ratio"] else None,
        groups=tuple(IntakeGroup(*g) for g in data["groups"]),
        children=tuple(
            IntakeChild(
                c[0], tier(c[1]), when(c[2]), c[3], c[4], c[5], tuple(c[6]), tuple(c[7]), tuple(c[8]), c[9], c[10]
            )
            for c in data["children"]
        ),
    )


@dataclass(frozen=True, slots=True)
class Matching:
    placed: Mapping[int, int]  # application id → group id
    unplaced_sibling_groups: tuple[int, ...] = ()


def preferences(inputs: Inputs) -> dict[int, list[int]]:
    """Application id → the groups it proposes to, in order: its choices in rank order, and within one
    kindergarten the groups it fits, narrowest (fewest birth years) first, then by id."""
    by_queue = queues(
        sorted(inputs.groups, key=lambda g: (g.kindergarten_id, g.birth_year_to - g.birth_year_from, g.id))
    )
    return {
        c.application_id: [g.id for kg in c.choices for g in by_queue.get(queue_of(kg, c), ())] for c in inputs.children
    }


def queues(groups: Iterable[IntakeGroup]) -> dict[tuple[int, int, str, str], list[IntakeGroup]]:
    """The groups each child fits, by kindergarten, birth year, language and type (`queue_of`), in the order
    given: a national region's children look up the groups they fit at a choice rather than test every group
    of the kindergarten."""
    found: dict[tuple[int, int, str, str], list[IntakeGroup]] = {}
    for g in groups:
        for year in range(g.birth_year_from, g.birth_year_to + 1):
            found.setdefault((g.kindergarten_id, year, g.language, g.group_type), []).append(g)
    return found


def queue_of(kindergarten_id: int, child: IntakeChild) -> tuple[int, int, str, str]:
    return (kindergarten_id, child.birth_year, child.language, child.group_type)


def reserved_primary(group: IntakeGroup, ratio: tuple[int, int] | None, seats: int) -> int:
    """Of the next `seats` non-EXTRAORDINARY seats of the group, how many are the PRIMARY tier's turns."""
    if ratio is None:
        return 0
    made = group.primary_made + group.general_made
    return sum(
        1
        for k in range(seats)
        if turn(ratio, made + k, 0) == PRIMARY  # the turn of the (made + k)-th offer
    )


def choose(
    group: IntakeGroup, ratio: tuple[int, int] | None, seats: int, proposers: Sequence[Proposer]
) -> list[Proposer]:
    """The proposers the group keeps (of those in queue order): EXTRAORDINARY first, then the ratio's
    reserved turns, then the rest in queue order."""
    if len(proposers) <= seats:
        return list(proposers)
    if ratio is None:
        return list(proposers[:seats])
    extra = [p for p in proposers if p.tier == EXTRAORDINARY][:seats]
    left = seats - len(extra)
    primary_turns = reserved_primary(group, ratio, left)
    primary = [p for p in proposers if p.tier == PRIMARY]
    general = [p for p in proposers if p.tier == GENERAL]
    kept = extra + primary[:primary_turns] + general[: left - primary_turns]
    rest = sorted(primary[primary_turns:] + general[left - primary_turns :], key=lambda p: p.order)
    kept += rest[: seats - len(kept)]
    return sorted(kept, key=lambda p: p.order)


@dataclass(frozen=True, slots=True, order=True)
class Proposer:
    order: QueueOrder
    application_id: int = field(compare=False)
    tier: PriorityTier = field(compare=False)


def match(inputs: Inputs, prefs: Mapping[int, list[int]] | None = None) -> Matching:
    """`prefs`: the inputs' `preferences`, when the caller has them already."""
    prefs = preferences(inputs) if prefs is None else prefs
    groups = {g.id: g for g in inputs.groups}
    children = {c.application_id: c for c in inputs.children}
    seats = {g.id: g.seats for g in inputs.groups}
    placed, unplaced, seated_tiers = _siblings_first(inputs, groups, children, seats)
    for group_id, tiers in seated_tiers.items():
        g = groups[group_id]
        groups[group_id] = dataclasses.replace(
            g, primary_made=g.primary_made + tiers.count(PRIMARY), general_made=g.general_made + tiers.count(GENERAL)
        )
    singles = [c.application_id for c in inputs.children if c.sibling_group_id is None]
    placed.update(_deferred_acceptance(singles, prefs, groups, children, seats, inputs.ratio))
    return Matching(placed=dict(sorted(placed.items())), unplaced_sibling_groups=tuple(sorted(unplaced)))


def _deferred_acceptance(
    proposing: Iterable[int],
    prefs: Mapping[int, list[int]],
    groups: Mapping[int, IntakeGroup],
    children: Mapping[int, IntakeChild],
    seats: Mapping[int, int],
    ratio: tuple[int, int] | None,
) -> dict[int, int]:
    held: dict[int, list[Proposer]] = {}
    next_choice = dict.fromkeys(proposing, 0)
    waiting = sorted(next_choice, reverse=True)  # any order gives the same matching; this one is stable to read
    while waiting:
        app_id = waiting.pop()
        options = prefs[app_id]
        i = next_choice[app_id]
        while i < len(options) and seats[options[i]] <= 0:
            i += 1
        if i == len(options):
            next_choice[app_id] = i
            continue
        group_id = options[i]
        next_choice[app_id] = i + 1
        child = children[app_id]
        group = groups[group_id]
        line = held.setdefault(group_id, [])
        bisect.insort(line, Proposer(child.order_at(group.kindergarten_id), app_id, child.tier))
        if len(line) > seats[group_id]:
            kept = choose(group, ratio, seats[group_id], line)
            kept_ids = {p.application_id for p in kept}
            waiting.extend(p.application_id for p in line if p.application_id not in kept_ids)
            held[group_id] = kept
    return {p.application_id: group_id for group_id, line in held.items() for p in line}


def _siblings_first(
    inputs: Inputs,
    groups: Mapping[int, IntakeGroup],
    children: Mapping[int, IntakeChild],
    seats: dict[int, int],
) -> tuple[dict[int, int], list[int], dict[int, list[PriorityTier]]]:
    """Sibling groups as units proposing to kindergartens: a kindergarten keeps, in queue order of their
    first member, the units it can seat whole. Takes their seats from `seats`; returns the placements, the
    sibling groups left unplaced and the tiers seated per group."""
    units: dict[int, list[IntakeChild]] = {}
    for c in inputs.children:
        if c.sibling_group_id is not None:
            units.setdefault(c.sibling_group_id, []).append(c)
    by_kindergarten: dict[int, list[IntakeGroup]] = {}
    for g in sorted(groups.values(), key=lambda g: (g.kindergarten_id, g.birth_year_to - g.birth_year_from, g.id)):
        by_kindergarten.setdefault(g.kindergarten_id, []).append(g)

    def options(members: list[IntakeChild]) -> list[int]:
        # The kindergartens every member may propose to, in the first member's order.
        common = set.intersection(*(set(m.choices) for m in members))
        return [kg for kg in members[0].choices if kg in common]

    prefs = {sg: options(sorted(m, key=lambda c: c.application_id)) for sg, m in units.items()}
    next_choice = dict.fromkeys(units, 0)
    held: dict[int, list[int]] = {}  # kindergarten → units held, in queue order
    plans: dict[int, dict[int, int]] = {}  # unit → application id → group

    def first(sg: int, kg: int) -> QueueOrder:
        return min(m.order_at(kg) for m in units[sg])

    def seat_whole(kg: int, line: list[int]) -> tuple[list[int], list[int]]:
        free = {g.id: seats[g.id] for g in by_kindergarten.get(kg, ())}
        kept, turned = [], []
        for sg in line:
            plan: dict[int, int] = {}
            left = dict(free)
            for m in sorted(units[sg], key=lambda c: c.application_id):
                seat = next((g.id for g in by_kindergarten.get(kg, ()) if g.fits(m) and left[g.id] > 0), None)
                if seat is None:
                    break
                left[seat] -= 1
                plan[m.application_id] = seat
            if len(plan) == len(units[sg]):
                kept.append(sg)
                plans[sg] = plan
                free = left
            else:
                turned.append(sg)
        return kept, turned

    waiting = sorted(units, reverse=True)
    while waiting:
        sg = waiting.pop()
        if next_choice[sg] >= len(prefs[sg]):
            continue
        kg = prefs[sg][next_choice[sg]]
        next_choice[sg] += 1
        line = sorted([*held.get(kg, []), sg], key=lambda u: first(u, kg))
        kept, turned = seat_whole(kg, line)
        held[kg] = kept
        waiting.extend(turned)
        waiting.sort(reverse=True)
    placed: dict[int, int] = {}
    tiers: dict[int, list[PriorityTier]] = {}
    for line in held.values():
        for sg in line:
            for app_id, group_id in plans[sg].items():
                placed[app_id] = group_id
                seats[group_id] -= 1
                tiers.setdefault(group_id, []).append(children[app_id].tier)
    unplaced = [sg for sg in units if not any(sg in line for line in held.values())]
    return placed, unplaced, tiers


# --- the run as operators read it ----------------------------------------------------------------------


class IntakeRunStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    DISCARDED = "DISCARDED"


class LeftFree(enum.StrEnum):
    """Why a group's seat was left free by the run."""

    NO_CANDIDATE = "NO_CANDIDATE"  # no child waiting on 1 September ranks a kindergarten whose group it fits
    PLACED_HIGHER = "PLACED_HIGHER"  # every child who could have it got a choice it ranked higher
    SIBLINGS_APART = "SIBLINGS_APART"  # only sibling groups wanted it, and could not be seated together


@dataclass(frozen=True, slots=True)
class GroupResult:
    group_id: int
    seats: int
    offered: tuple[int, ...]  # application ids, in queue order
    left_free: int
    left_free_reason: LeftFree | None


@dataclass(frozen=True, slots=True)
class Totals:
    seats: int
    offers: int
    upgrades: int  # offers to children who hold a seat they ranked lower
    first_choice_share: float | None  # of the offers, those at the child's first choice
    waiting_by_tier: Mapping[PriorityTier, int]  # candidates left without any seat
    seats_left_free: int


@dataclass(frozen=True, slots=True)
class IntakeRun:
    id: int
    region_code: str
    school_year: int
    status: IntakeRunStatus
    created_at: dt.datetime
    created_by: str
    totals: Totals
    verdict: Mapping[str, object]  # domain/stability.py `Verdict.as_json`
    published_at: dt.datetime | None = None
    discarded_at: dt.datetime | None = None
    changes_at_publish: tuple[str, ...] = ()


def results(
    inputs: Inputs, matching: Matching, prefs: Mapping[int, list[int]] | None = None
) -> tuple[Totals, list[GroupResult]]:
    children = {c.application_id: c for c in inputs.children}
    prefs = preferences(inputs) if prefs is None else prefs
    wanted = {g for options in prefs.values() for g in options}
    wanted_by_singles = {g for a, options in prefs.items() if children[a].sibling_group_id is None for g in options}
    offered: dict[int, list[int]] = {}
    for app_id, group_id in matching.placed.items():
        offered.setdefault(group_id, []).append(app_id)
    groups = []
    for g in sorted(inputs.groups, key=lambda g: g.id):
        mine = sorted(offered.get(g.id, []), key=lambda a: children[a].order_at(g.kindergarten_id))
        left = g.seats - len(mine)
        reason = None
        if left > 0:
            if g.id not in wanted:
                reason = LeftFree.NO_CANDIDATE
            elif g.id not in wanted_by_singles:
                reason = LeftFree.SIBLINGS_APART
            else:
                reason = LeftFree.PLACED_HIGHER
        groups.append(GroupResult(g.id, g.seats, tuple(mine), left, reason))
    placed = matching.placed
    kindergarten_of = {g.id: g.kindergarten_id for g in inputs.groups}
    first = sum(1 for a, group_id in placed.items() if children[a].rank_of(kindergarten_of[group_id]) == 1)
    waiting = {t: 0 for t in PriorityTier}
    for c in inputs.children:
        if c.application_id not in placed and c.holding_rank is None:
            waiting[c.tier] += 1
    totals = Totals(
        seats=sum(g.seats for g in inputs.groups),
        offers=len(placed),
        upgrades=sum(1 for a in placed if children[a].holding_rank is not None),
        first_choice_share=first / len(placed) if placed else None,
        waiting_by_tier=waiting,
        seats_left_free=sum(r.left_free for r in groups),
    )
    return totals, groups


def changes(draft: Sequence[GroupResult], now: Sequence[GroupResult], numbers: Mapping[int, str]) -> list[str]:
    """What the recomputation at publication changed, one line each: seats of a group, and each application
    offered a seat in the draft and not now, now and not in the draft, or now in another group."""
    lines = []
    before = {r.group_id: r for r in draft}
    after = {r.group_id: r for r in now}
    for gid in sorted(set(before) | set(after)):
        b, a = before.get(gid), after.get(gid)
        if (b.seats if b else 0) != (a.seats if a else 0):
            lines.append(f"group {gid}: {b.seats if b else 0} seats in the draft, {a.seats if a else 0} now")
    was = {app: r.group_id for r in draft for app in r.offered}
    got = {app: r.group_id for r in now for app in r.offered}
    for app in sorted(set(was) | set(got)):
        number = numbers.get(app, str(app))
        if app not in got:
            lines.append(f"{number}: offered group {was[app]} in the draft, not offered now")
        elif app not in was:
            lines.append(f"{number}: not offered in the draft, now offered group {got[app]}")
        elif was[app] != got[app]:
            lines.append(f"{number}: offered group {was[app]} in the draft, group {got[app]} now")
    return lines
