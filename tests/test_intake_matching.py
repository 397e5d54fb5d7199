"""The intake's matching and its independent checker (domain/intake.py, domain/stability.py), as pure code:
instances solved by hand, and random instances, stable by the checker and, when tiny, child-optimal against
a brute force over every matching."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import intake, stability
from domain.intake import Inputs, IntakeChild, IntakeGroup, Matching
from domain.model import PriorityTier

E, P, G = PriorityTier.EXTRAORDINARY, PriorityTier.PRIMARY, PriorityTier.GENERAL
DAY = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)


def child(
    app: int,
    choices: tuple[int, ...],
    *,
    tier: PriorityTier = G,
    year: int = 2022,
    day: int = 0,
    holding: int | None = None,
    siblings: int | None = None,
    ranks: tuple[int, ...] | None = None,
    sibling_first: tuple[int, ...] = (),
) -> IntakeChild:
    return IntakeChild(
        application_id=app,
        tier=tier,
        queue_date=DAY + dt.timedelta(days=day),
        birth_year=year,
        language="RU",
        group_type="GENERAL",
        choices=choices,
        ranks=ranks or tuple(range(1, len(choices) + 1)),
        sibling_first=sibling_first,
        holding_rank=holding,
        sibling_group_id=siblings,
    )


def group(
    gid: int, kg: int, seats: int, years: tuple[int, int] = (2022, 2022), made: tuple[int, int] = (0, 0)
) -> IntakeGroup:
    return IntakeGroup(gid, kg, years[0], years[1], "RU", "GENERAL", seats, made[0], made[1])


def run(groups: list[IntakeGroup], children: list[IntakeChild], ratio: tuple[int, int] | None = None) -> Matching:
    inputs = Inputs("11", 2027, tuple(groups), tuple(children), ratio)
    matching = intake.match(inputs)
    verdict = stability.check(inputs, matching)
    assert verdict.impossible == ()
    assert verdict.envy_pairs == 0 and verdict.waste == 0, verdict
    assert intake.match(inputs) == matching  # deterministic
    return matching


def test_children_get_their_best_choice_that_queue_order_allows() -> None:
    # K1 has one seat, K2 two; child 1 is first everywhere, 2 and 3 want K1 first.
    m = run(
        [group(10, 1, 1), group(20, 2, 2)],
        [child(1, (2, 1), day=0), child(2, (1, 2), day=1), child(3, (1, 2), day=2)],
    )
    assert m.placed == {1: 20, 2: 10, 3: 20}


def test_an_enrolled_child_moves_up_and_its_seat_is_not_given_away_in_the_run() -> None:
    # Child 1 is enrolled at its second choice (K2): it proposes only to K1, ahead of child 2.
    m = run(
        [group(10, 1, 1), group(20, 2, 0)],
        [child(1, (1,), holding=2, day=0), child(2, (1, 2), day=1)],
    )
    assert m.placed == {1: 10}  # K2's seat frees only once child 1 signs (the vacancy chain then offers it)


def test_the_primary_ratio_reserves_seats_by_turn() -> None:
    groups = [group(10, 1, 3)]
    # Turns with [1, 1] and no history: PRIMARY, GENERAL, PRIMARY. Queue order puts PRIMARY first anyway.
    m = run(
        groups,
        [
            child(1, (1,), tier=G, day=0),
            child(2, (1,), tier=G, day=1),
            child(3, (1,), tier=P, day=5),
            child(4, (1,), tier=P, day=6),
            child(5, (1,), tier=P, day=7),
        ],
        ratio=(1, 1),
    )
    assert sorted(m.placed) == [1, 3, 4]
    # A history of one PRIMARY offer shifts the turns: GENERAL, PRIMARY, GENERAL.
    m = run(
        [group(10, 1, 3, made=(1, 0))],
        [
            child(1, (1,), tier=G, day=0),
            child(2, (1,), tier=G, day=1),
            child(3, (1,), tier=P, day=5),
            child(4, (1,), tier=P, day=6),
        ],
        ratio=(1, 1),
    )
    assert sorted(m.placed) == [1, 2, 3]
    # EXTRAORDINARY first, without taking a turn; a turn no child of its tier takes goes on in queue order.
    m = run(
        groups,
        [
            child(1, (1,), tier=E, day=9),
            child(2, (1,), tier=P, day=0),
            child(3, (1,), tier=P, day=1),
            child(4, (1,), tier=P, day=2),
        ],
        ratio=(1, 1),
    )
    assert sorted(m.placed) == [1, 2, 3]


def test_twins_are_seated_together_or_not_at_all() -> None:
    twins = [child(1, (1, 2), siblings=7, day=5), child(2, (1, 2), siblings=7, day=5)]
    ahead = child(3, (1,), day=0)
    # K1 has two seats, K2 one: the twins take K1 as a unit; the single child ahead of them is reported.
    inputs = Inputs("11", 2027, (group(10, 1, 2), group(20, 2, 1)), (*twins, ahead))
    m = intake.match(inputs)
    assert m.placed == {1: 10, 2: 10}
    verdict = stability.check(inputs, m)
    assert verdict.stable and verdict.sibling_pairs > 0 and verdict.unplaced_sibling_groups == ()
    # No kindergarten with two seats: they stay waiting together, and the seats go on.
    inputs = Inputs("11", 2027, (group(10, 1, 1), group(20, 2, 1)), (*twins, ahead))
    m = intake.match(inputs)
    assert m.placed == {3: 10}
    verdict = stability.check(inputs, m)
    assert verdict.stable and verdict.unplaced_sibling_groups == (7,)


def test_a_mixed_age_group_merges_its_queues_and_is_tried_after_a_single_year_one() -> None:
    # K1: a 2022 group and a 2021–2022 group, one seat each. The 2022 child first tries its own year's group,
    # leaving the mixed-age seat to the 2021 child even though the 2022 child is ahead.
    m = run(
        [group(10, 1, 1, years=(2021, 2022)), group(11, 1, 1)],
        [child(1, (1,), year=2022, day=0), child(2, (1,), year=2021, day=3), child(3, (1,), year=2022, day=9)],
    )
    assert m.placed == {1: 11, 2: 10}


def test_a_sibling_enrolled_puts_a_child_first_within_its_tier() -> None:
    m = run([group(10, 1, 1)], [child(1, (1,), day=0), child(2, (1,), day=5, sibling_first=(1,))])
    assert m.placed == {2: 10}


def test_the_checker_sees_envy_and_waste_in_a_matching_it_did_not_make() -> None:
    inputs = Inputs("11", 2027, (group(10, 1, 1), group(20, 2, 1)), (child(1, (1, 2), day=0), child(2, (1, 2), day=1)))
    swapped = stability.check(inputs, Matching({1: 20, 2: 10}))
    assert (swapped.envy_pairs, swapped.waste) == (1, 0)
    assert swapped.examples == (stability.Pair(1, 10, 2),)
    # Child 1 left out: K1's seat wasted on both, and child 2 at K2 behind child 1.
    wasted = stability.check(inputs, Matching({2: 20}))
    assert (wasted.envy_pairs, wasted.waste, wasted.stable) == (1, 2, False)
    crowded = stability.check(inputs, Matching({1: 10, 2: 10}))
    assert crowded.impossible == ("group 10: 2 placed for 1 seats",)


# --- random instances --------------------------------------------------------------------------------

TIERS = st.sampled_from([E, P, G, G, G])


@st.composite
def instances(draw: st.DrawFn, max_children: int, siblings: bool) -> Inputs:
    n_kg = draw(st.integers(1, 3))
    groups = []
    for gid in range(draw(st.integers(1, 4))):
        first = draw(st.sampled_from([2021, 2022]))
        groups.append(
            group(
                gid + 1,
                draw(st.integers(1, n_kg)),
                draw(st.integers(0, 3)),
                years=(first, draw(st.sampled_from([first, 2022]))),
                made=(draw(st.integers(0, 2)), draw(st.integers(0, 2))),
            )
        )
    children = []
    for app in range(1, draw(st.integers(1, max_children)) + 1):
        kgs = draw(st.lists(st.integers(1, n_kg), min_size=1, max_size=n_kg, unique=True))
        children.append(
            child(
                app,
                tuple(kgs),
                tier=draw(TIERS),
                year=draw(st.sampled_from([2021, 2022])),
                day=draw(st.integers(0, 3)),
                sibling_first=tuple(k for k in kgs if draw(st.booleans()) and k == kgs[0]),
            )
        )
    if siblings and len(children) >= 2 and draw(st.booleans()):
        a, b = children[0], children[1]
        same = a.choices
        children[0] = child(a.application_id, same, tier=a.tier, year=a.birth_year, siblings=99)
        children[1] = child(b.application_id, same, tier=b.tier, year=b.birth_year, siblings=99)
    ratio = draw(st.sampled_from([None, (1, 1), (2, 1), (1, 3)]))
    return Inputs("11", 2027, tuple(groups), tuple(children), ratio)


@settings(max_examples=300, deadline=None)
@given(instances(max_children=9, siblings=True))
def test_every_run_is_stable_by_the_checker(inputs: Inputs) -> None:
    matching = intake.match(inputs)
    verdict = stability.check(inputs, matching)
    assert verdict.impossible == ()
    assert verdict.envy_pairs == 0 and verdict.waste == 0, (verdict, matching)
    assert set(verdict.unplaced_sibling_groups) <= {99}


def _blocked(inputs: Inputs, prefs: dict[int, list[int]], assignment: dict[int, int]) -> bool:
    """Group-level stability, written here apart from both modules: a child and a group it prefers that has a
    free seat, or that would keep it over one of its children."""
    groups = {g.id: g for g in inputs.groups}
    children = {c.application_id: c for c in inputs.children}
    members: dict[int, list[int]] = {}
    for app, gid in assignment.items():
        members.setdefault(gid, []).append(app)
    for c in inputs.children:
        mine = prefs[c.application_id]
        got = mine.index(assignment[c.application_id]) if c.application_id in assignment else len(mine)
        for gid in mine[:got]:
            g = groups[gid]
            here = members.get(gid, [])
            if len(here) < g.seats:
                return True
            line = [(children[j].order_at(g.kindergarten_id), j, children[j].tier) for j in [*here, c.application_id]]
            if c.application_id in stability.keeps(g, g.seats, g.primary_made + g.general_made, inputs.ratio, line):
                return True
    return False


@settings(max_examples=150, deadline=None)
@given(instances(max_children=5, siblings=False))
def test_tiny_runs_are_child_optimal_among_all_stable_matchings(inputs: Inputs) -> None:
    prefs = intake.preferences(inputs)
    groups = {g.id: g for g in inputs.groups}
    apps = [c.application_id for c in inputs.children]
    ours = intake.match(inputs).placed
    assert not _blocked(inputs, prefs, dict(ours))
    for options in itertools.product(*([None, *prefs[a]] for a in apps)):
        assignment = {a: g for a, g in zip(apps, options, strict=True) if g is not None}
        counts: dict[int, int] = {}
        for g in assignment.values():
            counts[g] = counts.get(g, 0) + 1
        if any(n > groups[g].seats for g, n in counts.items()) or _blocked(inputs, prefs, assignment):
            continue
        for a in apps:  # every child does at least as well in ours as in any stable matching
            mine = prefs[a]
            rank_ours = mine.index(ours[a]) if a in ours else len(mine)
            rank_theirs = mine.index(assignment[a]) if a in assignment else len(mine)
            assert rank_ours <= rank_theirs, (a, ours, assignment)
