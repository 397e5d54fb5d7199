"""The fairness report's arithmetic (docs/product.md §11, domain/fairness.py) on small histories built by hand
from plain Python objects, as a simulation builds them: no database. Every expected figure is worked out in the
comments beside the history that produces it.

Times are Asia/Almaty; the period is 2–11 March 2026 (`to` = 12 March, not included); no report reads past it."""

from __future__ import annotations

import datetime as dt

from domain.fairness import (
    ApplicationFacts,
    ApplicationState,
    Area,
    EnrolmentFacts,
    Facts,
    GroupFacts,
    IdleCause,
    KindergartenFacts,
    OfferFacts,
    Period,
    report,
    states_of,
)
from domain.model import ApplicationStatus, GroupType, Language, OfferStatus, PriorityTier
from domain.policy import Policy, PolicyBook
from domain.timezone import at_local

REGION, DISTRICT = "350000000", "352400000"
POLICIES = PolicyBook(default=Policy(), regions={})
PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 12))
AS_OF = at_local(dt.date(2026, 4, 1), dt.time(0))  # later than the period: the period's end is used
EVER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
K1, K2, K3 = 1, 2, 3
G1, G2, G3 = 10, 20, 30
GEN, PRI = PriorityTier.GENERAL, PriorityTier.PRIMARY
Q, E, C = ApplicationStatus.QUEUED, ApplicationStatus.ENROLLED, ApplicationStatus.CLOSED
INACTIVE, OFFERED = ApplicationStatus.INACTIVE, ApplicationStatus.OFFERED


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    year = 2025 if month > 6 else 2026
    return at_local(dt.date(year, month, day), dt.time(hour, minute, second))


def kindergarten(kg: int) -> KindergartenFacts:
    return KindergartenFacts(kg, f"K-{kg}", f"Сад {kg}", REGION, DISTRICT)


def group(group_id: int, kg: int, years: tuple[int, int], *capacities: tuple[dt.datetime, int]) -> GroupFacts:
    return GroupFacts(group_id, kg, years[0], years[1], Language.RU, GroupType.GENERAL, tuple(capacities))


def application(
    app_id: int,
    number: str,
    queued: dt.datetime,
    born: dt.date,
    *states: tuple[dt.datetime, ApplicationStatus, PriorityTier, tuple[int, ...]],
    start: dt.date = dt.date(2026, 1, 1),
    first_offer: dt.datetime | None = None,
    links: tuple[tuple[int, dt.datetime], ...] = (),
) -> ApplicationFacts:
    return ApplicationFacts(
        id=app_id,
        number=number,
        child_iin=f"child-{number}",
        queue_date=queued,
        birth_date=born,
        language=Language.RU,
        group_type=GroupType.GENERAL,
        desired_start_date=start,
        states=tuple(
            ApplicationState(t, status, status not in (C,), tier, ranking) for t, status, tier, ranking in states
        ),
        sibling_links=links,
        first_offer_at=first_offer,
    )


def offer(
    offer_id: int,
    app: ApplicationFacts,
    group_facts: GroupFacts,
    status: OfferStatus,
    made: dt.datetime,
    ended: dt.datetime | None = None,
    confirmed: dt.datetime | None = None,
    tier: PriorityTier = GEN,
    sibling_group: int | None = None,
) -> OfferFacts:
    return OfferFacts(
        id=offer_id,
        application_id=app.id,
        child_iin=app.child_iin,
        kindergarten_id=group_facts.kindergarten_id,
        group_id=group_facts.id,
        status=status,
        tier=tier,
        created_at=made,
        starts_on=made.date(),
        ended_at=ended,
        confirmed_at=confirmed,
        sibling_group_id=sibling_group,
    )


def enrolment(
    enrolment_id: int,
    child: str,
    group_facts: GroupFacts,
    since: dt.date,
    held_from: dt.datetime,
    app: ApplicationFacts | None = None,
    ended: dt.datetime | None = None,
    offer_id: int | None = None,
) -> EnrolmentFacts:
    return EnrolmentFacts(
        id=enrolment_id,
        child_iin=child,
        application_id=app.id if app else None,
        kindergarten_id=group_facts.kindergarten_id,
        group_id=group_facts.id,
        since=since,
        leaves_on=None,
        held_from=held_from,
        ended_at=ended,
        offer_id=offer_id,
    )


BORN = dt.date(2022, 1, 15)

# Two kindergartens. K1's group (born 2021–2022) has 3 seats, 4 from 7 March 10:00; K2's (born 2022) has 1.
GROUP1 = group(G1, K1, (2021, 2022), (EVER, 3), (at(3, 7, 10), 4))
GROUP2 = group(G2, K2, (2022, 2022), (EVER, 1))

# F was enrolled at K1 (its second choice) before the period and waits for K2. X has no application.
F = application(6, "F", at(12, 1, 9), BORN, (at(12, 1, 9), Q, GEN, (K2, K1)), first_offer=at(8, 1))
# B, first in K1's queue, is offered 2 March 9:00 and declines 3 March 12:00 (its only choice: closed).
B = application(2, "B", at(1, 5, 9), BORN, (at(1, 5, 9), Q, GEN, (K1,)), (at(3, 3, 12), C, GEN, ()))
# A, next, gets B's seat at once, confirms on the 4th, signs on the 5th: enrolled at its second choice.
A = application(1, "A", at(1, 10, 12), BORN, (at(1, 10, 12), Q, GEN, (K2, K1)), (at(3, 5, 15), E, GEN, (K2, K1)))
# D (born 2021) is ahead of C. A capacity raise at K1 on 7 March 10:00 goes to C all the same (the fault);
# F's move to K2 frees a seat at 12:00, which goes to D. C never answers: lapsed, inactive.
D = application(5, "D", at(1, 15, 12), dt.date(2021, 6, 10), (at(1, 15, 12), Q, GEN, (K1,)))
C_ = application(
    3, "C", at(1, 20, 10), BORN, (at(1, 20, 10), Q, GEN, (K1,)), (at(3, 9, 23, 59, 59), INACTIVE, GEN, (K1,))
)
# E, PRIMARY, may start from 4 March: offered K2 then, declines on the 6th, closed; K2 goes to F, who signs on the 7th.
E_ = application(
    4, "E", at(2, 1, 9), BORN, (at(2, 1, 9), Q, PRI, (K2,)), (at(3, 6, 10), C, PRI, ()), start=dt.date(2026, 3, 4)
)

for app, first in ((B, at(3, 2, 9)), (A, at(3, 3, 12)), (D, at(3, 7, 12)), (C_, at(3, 7, 10)), (E_, at(3, 4, 9))):
    app.first_offer_at = first

OFFERS = [
    offer(101, B, GROUP1, OfferStatus.DECLINED, at(3, 2, 9), ended=at(3, 3, 12)),
    offer(102, A, GROUP1, OfferStatus.ENROLLED, at(3, 3, 12), ended=at(3, 5, 15), confirmed=at(3, 4, 10)),
    offer(105, E_, GROUP2, OfferStatus.DECLINED, at(3, 4, 9), ended=at(3, 6, 10), tier=PRI),
    offer(106, F, GROUP2, OfferStatus.ENROLLED, at(3, 6, 10), ended=at(3, 7, 12), confirmed=at(3, 6, 11)),
    offer(103, C_, GROUP1, OfferStatus.LAPSED, at(3, 7, 10), ended=at(3, 9, 23, 59, 59)),
    offer(104, D, GROUP1, OfferStatus.PENDING, at(3, 7, 12)),
]
ENROLMENTS = [
    enrolment(1, "child-X", GROUP1, dt.date(2025, 9, 1), at(8, 20)),
    enrolment(2, F.child_iin, GROUP1, dt.date(2025, 9, 1), at(8, 20), F, ended=at(3, 7, 12)),
    enrolment(3, A.child_iin, GROUP1, dt.date(2026, 3, 5), at(3, 5, 15), A, offer_id=102),
    enrolment(4, F.child_iin, GROUP2, dt.date(2026, 3, 7), at(3, 7, 12), F, offer_id=106),
]


def facts(**changes: object) -> Facts:
    """The history above, with plain dicts and lists and nothing optional given."""
    base: dict[str, object] = {
        "area": Area(REGION),
        "period": PERIOD,
        "as_of": AS_OF,
        "kindergartens": {K1: kindergarten(K1), K2: kindergarten(K2)},
        "groups": {G1: GROUP1, G2: GROUP2},
        "applications": {a.id: a for a in (A, B, C_, D, E_, F)},
        "offers": OFFERS,
        "enrolments": ENROLMENTS,
    }
    return Facts(**(base | changes))  # type: ignore[arg-type]


def test_justified_envy_is_the_one_pair_the_fault_made_and_lasts_until_the_child_passed_over_is_offered() -> None:
    r = report(facts(), POLICIES)
    # C's offer of 7 March 10:00 while D, ahead of C in K1's queue (queue date 15 before 20 January), was a
    # candidate: one pair. Every other offer went to the first candidate (E is PRIMARY, ahead of F and A at K2;
    # F holding K1, its second choice, is no candidate for K1). D was offered K1 at 12:00: 2 hours = 0.08 days.
    assert (r.envy_pairs, r.envy_children, r.envy_days, r.sibling_pairs) == (1, 1, 0.08, 0)
    (example,) = r.envy_examples
    assert (example.application_number, example.ahead_of_application_number) == ("D", "C")
    assert (example.kindergarten.id, example.at) == (K1, at(3, 7, 10))
    assert r.as_of == PERIOD.end_at and (r.region_code, r.start, r.end) == (REGION, PERIOD.start, PERIOD.end)


def test_idle_seat_days_by_cause() -> None:
    idle = {i.cause: i.days for i in report(facts(), POLICIES).idle_seat_days}
    # K1 (enrolled: X always, F until the 7th 12:00, A from the 5th): 2nd B's offer, 3rd A's, 7th and 8th C's and
    # D's, 9th–11th D's (C lapsed at 23:59:59 on the 9th) → 1+1+2+2+1+1+1 = 9 offer-window days; 4th A's
    # confirmed offer → 1 contract-window day; 9th–11th the seat C left, nobody waiting for K1 → 3.
    # K2: 2nd and 3rd free while F (and A) waited for it → 2 days a candidate waited; 4th, 5th E's offer → 2;
    # 6th F's confirmed offer → 1; full from the 7th.
    assert idle == {
        IdleCause.OFFER_WINDOW: 11,
        IdleCause.CONTRACT_WINDOW: 2,
        IdleCause.PROMISED_LATER: 0,
        IdleCause.CANDIDATE_WAITING: 2,
        IdleCause.HELD_FOR_INTAKE: 0,
        IdleCause.NO_CANDIDATE: 3,
    }


def test_placement_waiting_and_churn() -> None:
    r = report(facts(), POLICIES)
    # Enrolments begun: A at K1 (ranked 2nd), F at K2 (ranked 1st); F's was an upgrade from K1.
    p = r.placement
    assert (p.children, p.first_choice, p.top_two, p.any_choice, p.upgrades) == (2, 0.5, 1.0, 1.0, 1)
    # First offers of the period, days from eligibility: GENERAL 2022: C 46, A 52, B 56 (median 52, p90 at rank
    # 0.9 * 2 = 1.8: 52 + 0.8 * 4 = 55.2); GENERAL 2021: D 51; PRIMARY 2022: E from its start date, 4 March 0:00,
    # to 9:00 = 0.375 days. F's offer is not its first (its first was in August).
    waiting = {(w.tier, w.birth_year): (w.offers, w.median, w.p90) for w in r.waiting_days}
    assert waiting == {(PRI, 2022): (1, 0.38, 0.38), (GEN, 2021): (1, 51.0, 51.0), (GEN, 2022): (3, 52.0, 55.2)}
    assert [(w.tier, w.birth_year) for w in r.waiting_days] == [(PRI, 2022), (GEN, 2021), (GEN, 2022)]
    # 6 offers for 2 enrolments begun; 5 ended in the period: 2 declined (B, E), 1 lapsed (C), 2 enrolled.
    c = r.churn
    assert (c.offers, c.filled_seats, c.offers_per_filled_seat, c.ended) == (6, 2, 3.0, 5)
    assert (c.decline_rate, c.lapse_rate, c.longest_chain) == (0.4, 0.2, 0)
    assert (r.sibling_groups_placed, r.sibling_groups_together) == (0, None)


def test_a_seat_given_with_no_offer_behind_it_is_envy_of_everyone_ahead_who_was_a_candidate() -> None:
    # An enrolment written straight into K2 on 3 March (a legacy import) for a child with no application, while
    # F and A waited for K2: two pairs, with no application number for the child seated.
    legacy = enrolment(9, "child-Z", GROUP2, dt.date(2026, 3, 3), at(3, 3))
    r = report(facts(enrolments=[*ENROLMENTS, legacy]), POLICIES)
    pairs = {(e.application_number, e.ahead_of_application_number) for e in r.envy_examples}
    assert pairs == {("D", "C"), ("F", None), ("A", None)}
    assert (r.envy_pairs, r.envy_children) == (3, 3)
    assert r.placement.any_choice == 2 / 3  # Z was placed at no choice of its own


def test_the_longest_supersede_chain_and_sibling_groups_placed_together() -> None:
    k = {kg: kindergarten(kg) for kg in (K1, K2, K3)}
    g = {gid: group(gid, kg, (2022, 2022), (EVER, 1)) for gid, kg in ((G1, K1), (G2, K2), (G3, K3))}
    t = at(3, 5, 10)
    # P holds K2 (its second choice) and Q K3 (its second). K1 frees at t: P takes it, its K2 offer is superseded;
    # K2 goes half a second later to Q, whose K3 offer is superseded in turn; K3 goes to R. A chain of 2.
    p = application(1, "P", at(1, 1), BORN, (at(1, 1), OFFERED, GEN, (K1, K2)))
    q = application(2, "Q", at(1, 2), BORN, (at(1, 2), OFFERED, GEN, (K2, K3)))
    r_ = application(3, "R", at(1, 3), BORN, (at(1, 3), Q, GEN, (K3,)))
    # Siblings S1 and S2 (group 7) offered K1 together; S3 and S4 (group 8): S3 alone offered K2, S4 waiting.
    linked = at(2, 1)
    s = [
        application(10 + n, f"S{n}", at(1, 4), BORN, (at(1, 4), Q, GEN, (K1, K2)), links=((7 if n < 3 else 8, linked),))
        for n in (1, 2, 3, 4)
    ]
    half = dt.timedelta(milliseconds=500)
    offers = [
        offer(1, p, g[G2], OfferStatus.SUPERSEDED, at(2, 20), ended=t),
        offer(2, q, g[G3], OfferStatus.SUPERSEDED, at(2, 20), ended=t + half),
        offer(3, p, g[G1], OfferStatus.PENDING, t),
        offer(4, q, g[G2], OfferStatus.PENDING, t + half),
        offer(5, r_, g[G3], OfferStatus.PENDING, t + 2 * half),
        offer(6, s[0], g[G1], OfferStatus.PENDING, at(3, 6, 9), sibling_group=7),
        offer(7, s[1], g[G1], OfferStatus.PENDING, at(3, 6, 9), sibling_group=7),
        offer(8, s[2], g[G2], OfferStatus.PENDING, at(3, 6, 9)),
    ]
    apps = {a.id: a for a in (p, q, r_, *s)}
    result = report(
        Facts(Area(REGION), PERIOD, AS_OF, kindergartens=k, groups=g, applications=apps, offers=offers, enrolments=[]),
        POLICIES,
    )
    assert result.churn.longest_chain == 2
    assert (result.sibling_groups_placed, result.sibling_groups_together) == (2, 0.5)


def test_sibling_priority_is_read_from_a_brother_or_sisters_enrolment() -> None:
    # Make X, enrolled at K1 all along, C's brother: C comes first in K1's queue. The seat C got on 7 March 10:00
    # was then C's by the rule (D envies no one), but B's offer (2 March 9:00) and A's (3 March 12:00) passed C
    # over, until C's own: 5 days and 1 hour.
    r = report(facts(siblings={C_.child_iin: ["child-X"]}), POLICIES)
    assert (r.envy_pairs, r.envy_children, r.envy_days) == (2, 1, 5.04)
    assert [(e.application_number, e.ahead_of_application_number) for e in r.envy_examples] == [("C", "B"), ("C", "A")]


def test_an_application_without_records_waited_until_its_first_offer() -> None:
    # Imported (no audit record of the application), closed now at its first choice, first offered on 5 March:
    # it waited in the queue, as it is ranked now, from its queue date until then, and is as now from then on.
    now = {"status": "CLOSED", "active": False, "tier": "GENERAL", "choices": [K1, K2]}
    states = states_of(at(1, 10), [], now, at(3, 5, 9))
    assert [(s.at, s.status, s.active, s.ranking) for s in states] == [
        (at(1, 10), Q, True, (K1, K2)),
        (at(3, 5, 9), C, False, (K1, K2)),
    ]
    assert states[0].waiting and not states[1].waiting
    # Never offered, or queued now: nothing says it ever was otherwise than as now.
    assert [s.status for s in states_of(at(1, 10), [], now, None)] == [C]
    queued = {**now, "status": "QUEUED", "active": True}
    assert [s.status for s in states_of(at(1, 10), [], queued, at(3, 5, 9))] == [Q]
