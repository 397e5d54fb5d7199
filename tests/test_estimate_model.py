"""The waiting estimate's model (domain/estimate.py, docs/product.md §3 "Waiting estimate"), without a database: its
percentiles on cases computed by hand and against a simulation of the distribution it describes, what it counts,
the summer intake's seats, the limits of a child's own dates, and when it refuses to guess."""

from __future__ import annotations

import datetime as dt
import random
import string

import pytest

from domain import estimate_texts
from domain.estimate import (
    INSUFFICIENT,
    WINDOW_DAYS,
    Basis,
    ChoiceStanding,
    QueueMovement,
    WaitEstimate,
    _Pace,
    _Seasons,
    _summer_shares,
    choice_estimate,
    dispersion,
    wait_estimate,
)
from domain.model import ApplicationStatus, Language, PriorityTier

TODAY = dt.date(2026, 12, 1)
INTAKE = dt.date(2027, 7, 1)  # the summer intake of the school year from 1 September 2027
FAR = dt.date(2035, 9, 1)  # a school age that bounds nothing


def movement(
    general: list[int] | None = None,
    primary: list[int] | None = None,
    extraordinary: list[int] | None = None,
    seats: float = 0.0,
) -> QueueMovement:
    def months(m: list[int] | None) -> tuple[int, ...]:
        return tuple(m or [0] * 12)

    return QueueMovement((months(extraordinary), months(primary), months(general)), seats)


def estimate(
    position: int,
    m: QueueMovement | None,
    *,
    tier: PriorityTier = PriorityTier.GENERAL,
    today: dt.date = TODAY,
    can_start: dt.date = TODAY,
    school_age: dt.date = FAR,
) -> WaitEstimate:
    return wait_estimate(position, tier, m, today, can_start=can_start, school_age=school_age)


def days(d: dt.date | None) -> int | None:
    return None if d is None else (d - TODAY).days


# --- percentiles -------------------------------------------------------------------------------------


def test_the_percentiles_of_a_steady_queue_by_hand() -> None:
    """Ten offers every month (no month different from chance: one offer per step) and the child 10th.

    The wait for 10 offers is 365 · (10/120) · F(20, 240) days. Paulson's form, a = 1/(9·10) = 1/90,
    b = 1/(9·120) = 1/1080, solves ((1−b)u − (1−a))² = z²(bu² + a) for u = F^(1/3):
    A = (1−b)² − z²b = 0.998149 − 0.001521 = 0.996628, B = (1−a)(1−b) = 0.987973,
    C = (1−a)² − z²a = 0.977901 − 0.018249 = 0.959652, √(B² − AC) = √0.019675 = 0.140268;
    90%: u = (B + 0.140268)/A = 1.132058, F = 1.45078, 30.4167 · 1.45078 = 44.13 days → 45 days on;
    10%: u = (B − 0.140268)/A = 0.850572, F = 0.61537, 30.4167 · 0.61537 = 18.72 days → 19 days on.
    """
    e = estimate(10, movement(general=[10] * 12))
    assert e.basis == Basis.QUEUE_PACE and not e.insufficient_history
    assert (days(e.earliest), days(e.latest)) == (19, 45)
    assert (e.ahead, e.offers) == (9, 120)


def test_one_child_ahead_of_nothing_waits_for_the_next_offer() -> None:
    """The first child of a queue with 365 offers a year, one a day: the wait is about exponential with a mean of
    one day, so its 90th percentile is ln 10 = 2.3 days (the counted 365 add a little: 2.4) → 3 days on."""
    e = estimate(1, movement(general=[30, 31, 30, 31, 30, 31, 30, 31, 30, 31, 30, 30]))
    assert (days(e.earliest), days(e.latest)) == (1, 3)


@pytest.mark.parametrize(
    ("wanted", "offers", "step"),
    [(1, 5, 1.0), (3, 5, 1.0), (10, 120, 1.0), (50, 30, 1.0), (200, 220, 1.0), (10, 20, 4.0), (5, 8, 2.5)],
)
def test_the_percentiles_are_those_of_the_distribution_described(wanted: int, offers: int, step: float) -> None:
    """The wait is WINDOW_DAYS · G(wanted/step) / G(offers/step), gamma variables of those shapes: a seeded
    simulation of that ratio agrees with the cube-root approximation within 3% (9% at the lower end of a single
    offer, where the approximation is weakest)."""
    rng = random.Random(20261201)
    samples = sorted(
        WINDOW_DAYS * rng.gammavariate(max(wanted / step, 1.0), 1.0) / rng.gammavariate(offers / step, 1.0)
        for _ in range(40_000)
    )
    pace = _Pace(offers, step)
    for q, tolerance in ((0.1, 0.09 if wanted == 1 else 0.03), (0.9, 0.03)):
        simulated = samples[int(q * len(samples))]
        assert pace.quantile(wanted, q) == pytest.approx(simulated, rel=tolerance), q
        assert pace.cdf(wanted, pace.quantile(wanted, q)) == pytest.approx(q)


def test_bursts_count_as_fewer_larger_steps() -> None:
    even, bursty = [2] * 12, [6, 6, 6, 6] + [0] * 8
    assert dispersion(even) == 1.0
    # mean 2; squares 4·(6−2)² + 8·(0−2)² = 96, over 11 months less one = 8.727; over the mean 2: 4.364
    assert dispersion(bursty) == pytest.approx(4.3636, abs=1e-4)
    # All in one month is the most a year can say: (24−2)² + 11·2² = 528, /11 = 48, /2 = 24, one step of them all.
    assert dispersion([24] + [0] * 11) == 24.0
    assert dispersion([0] * 12) == 1.0
    steady, burst = estimate(6, movement(general=even)), estimate(6, movement(general=bursty))
    assert steady.latest is not None and burst.latest is not None
    assert burst.latest > steady.latest, "offers that come in bursts make a wider range"


def _by_season(summer: int, rest: int) -> list[int]:
    """A year of offers: `summer` in each month of the window that lies in a summer (July and August), `rest` in
    each other month."""
    return [summer if share > 0.5 else rest for share in _summer_shares(TODAY)]


def test_the_window_knows_which_of_its_months_were_summer() -> None:
    """On 1 December the latest twelfths go back through autumn: the 4th and 5th (about 1 August to 1 September and
    2 July to 1 August 2026) are the summer's, the 6th holds its first day."""
    shares = _summer_shares(TODAY)
    assert [i for i, f in enumerate(shares) if f > 0.5] == [3, 4]
    assert sum(shares) * WINDOW_DAYS / 12 == pytest.approx(62, abs=1.5)


def test_a_steady_queue_keeps_the_calendar() -> None:
    seasons = _Seasons.of([10] * 12, TODAY)
    assert (seasons.summer, seasons.rest) == pytest.approx((1.0, 1.0), rel=0.03)
    for d in (0, 10, 200, 400, 1000):
        assert seasons.calendar(seasons.operational(d)) == pytest.approx(d)


def test_offers_that_came_only_in_the_summer_are_expected_only_in_the_summer() -> None:
    """The seats a queue passed on after the intake come again after the next one, not between summers — if the
    next intake has seats to pass on; without, the summer tells nothing of the queue's own pace."""
    e = estimate(3, movement(general=_by_season(summer=5, rest=0), seats=1))
    assert e.basis == Basis.QUEUE_PACE_AND_INTAKE and e.earliest is not None and e.latest is not None
    assert INTAKE <= e.earliest <= e.latest < dt.date(2027, 9, 1)
    assert estimate(3, movement(general=_by_season(summer=5, rest=0))).basis == Basis.INSUFFICIENT_HISTORY


def test_without_planned_seats_the_summer_moves_at_the_pace_of_the_rest_of_the_year() -> None:
    """... as a queue that records the same offers outside the summer and no more (the range a little narrower:
    the pace is known from all the offers recorded)."""
    without = estimate(20, movement(general=_by_season(summer=8, rest=2)))
    rest_only = estimate(20, movement(general=[2] * 12))
    assert None not in (without.earliest, without.latest, rest_only.earliest, rest_only.latest)

    def middle(e: WaitEstimate) -> dt.date:
        assert e.earliest is not None and e.latest is not None
        return e.earliest + (e.latest - e.earliest) / 2

    assert abs((middle(without) - middle(rest_only)).days) <= 10


def test_a_queue_slower_between_summers_is_expected_later_than_its_average() -> None:
    """Twice the pace in the summer: before the intake, the queue moves at less than its year's average."""
    seasonal, steady = _by_season(summer=8, rest=2), [3] * 12
    assert sum(seasonal) == sum(steady)  # the same offers a year
    slow, average = estimate(4, movement(general=seasonal)), estimate(4, movement(general=steady))
    assert slow.latest is not None and average.latest is not None and slow.latest < INTAKE
    assert slow.latest > average.latest


def test_a_summer_the_seasons_explain_is_no_burst() -> None:
    """Months that differ as the seasons say do not widen the range as chance bursts would."""
    monthly = _by_season(summer=12, rest=2)
    assert dispersion(monthly) > 4  # against a flat year, the summer looks like a burst
    assert dispersion(monthly, _Seasons.of(monthly, TODAY).expected(monthly)) == 1.0


# --- what is counted ------------------------------------------------------------------------------------


def test_offers_to_a_better_tier_are_not_counted_and_lower_tiers_are() -> None:
    primary_only = movement(primary=[3] * 12)
    assert estimate(2, primary_only).basis == Basis.INSUFFICIENT_HISTORY  # a GENERAL child counts none of them
    primary = estimate(2, primary_only, tier=PriorityTier.PRIMARY)
    assert primary.offers == 36 and primary.basis == Basis.QUEUE_PACE
    # An EXTRAORDINARY child would have been offered every seat given to anyone behind it.
    both = movement(general=[2] * 12, primary=[1] * 12)
    assert estimate(2, both, tier=PriorityTier.EXTRAORDINARY).offers == 36
    assert estimate(2, both, tier=PriorityTier.PRIMARY).offers == 36
    assert estimate(2, both).offers == 24


def test_the_further_back_the_later() -> None:
    m = movement(general=[4] * 12)
    ranges = [estimate(p, m) for p in (1, 5, 20)]
    assert [r.latest for r in ranges] == sorted(r.latest for r in ranges if r.latest is not None)
    assert len({r.latest for r in ranges}) == 3


# --- too little history -----------------------------------------------------------------------------------


def test_fewer_than_five_offers_and_no_planned_seats_is_too_little_history() -> None:
    for m in (None, movement(general=[1, 1, 1, 1] + [0] * 8)):
        e = estimate(1, m)
        assert e.basis == Basis.INSUFFICIENT_HISTORY and e.insufficient_history
        assert (e.earliest, e.latest) == (None, None)
    five = estimate(1, movement(general=[1] * 5 + [0] * 7))
    assert five.basis == Basis.QUEUE_PACE and five.earliest is not None and five.latest is not None


def test_planned_seats_that_do_not_reach_the_place_are_not_a_pace() -> None:
    e = estimate(4, movement(general=[1, 1] + [0] * 10, seats=3))
    assert e.basis == Basis.BEYOND_PLANNED_SEATS and e.insufficient_history
    assert (e.earliest, e.latest, e.planned_seats) == (None, None, 3)


# --- the summer intake ------------------------------------------------------------------------------------


def test_a_place_within_the_planned_seats_is_offered_at_the_intake() -> None:
    e = estimate(4, movement(seats=4))
    assert e.basis == Basis.PLANNED_SEATS and not e.insufficient_history
    assert (e.earliest, e.latest, e.intake_day) == (INTAKE, INTAKE, INTAKE)
    # Once July has begun, the intake's offers may come any day.
    july = dt.date(2027, 7, 20)
    assert estimate(4, movement(seats=4), today=july).latest == july


def test_planned_seats_move_a_slow_queue_to_the_intake() -> None:
    slow = movement(general=[1] * 12)
    without = estimate(6, slow)
    with_seats = estimate(6, movement(general=[1] * 12, seats=8))
    assert without.latest is not None and without.latest > INTAKE
    assert with_seats.basis == Basis.QUEUE_PACE_AND_INTAKE
    assert with_seats.earliest is not None and with_seats.earliest <= INTAKE
    assert with_seats.latest == INTAKE, "the 6th place is within 8 seats offered on 1 July"


def test_a_place_beyond_the_planned_seats_waits_after_the_intake_for_the_rest() -> None:
    m = movement(general=[1] * 12, seats=10)
    e = estimate(30, m)
    assert e.earliest is not None and e.latest is not None and INTAKE < e.earliest < e.latest
    # ... for 20 offers from today, at the pace: as a child 20th would wait without the intake.
    rest = estimate(20, movement(general=[1] * 12))
    assert (e.earliest, e.latest) == (rest.earliest, rest.latest)


def test_a_queue_fast_enough_reaches_the_place_before_the_intake() -> None:
    e = estimate(2, movement(general=[10] * 12, seats=5))
    assert e.basis == Basis.QUEUE_PACE and e.latest is not None and e.latest < INTAKE


# --- the child's own dates --------------------------------------------------------------------------------


def test_no_date_before_the_child_can_start() -> None:
    m = movement(general=[10] * 12)
    later = dt.date(2027, 3, 1)
    assert (estimate(2, m, can_start=later).earliest, estimate(2, m, can_start=later).latest) == (later, later)
    within = TODAY + dt.timedelta(days=30)  # inside the 10th's range of 19 to 45 days
    e = estimate(10, m, can_start=within)
    assert (days(e.earliest), days(e.latest)) == (30, 45)
    # The intake takes a child who can start by 1 September on its own day; a later start waits for it.
    assert estimate(3, movement(seats=5), can_start=dt.date(2027, 9, 1)).latest == INTAKE
    october = dt.date(2027, 10, 1)
    assert estimate(3, movement(seats=5), can_start=october).latest == october


def test_from_the_intake_a_child_who_can_start_by_1_september_may_be_offered_a_seat_from_then() -> None:
    september = dt.date(2027, 9, 1)
    # The queue's pace reaches the 6th place before the intake, and 8 seats are planned: the pace's dates were
    # held back to 1 September while the intake's stayed on 1 July, a 10th percentile after the 90th.
    e = estimate(6, movement(general=[1] * 12, seats=8), can_start=september)
    assert (e.earliest, e.latest) == (INTAKE, INTAKE)
    # With no seats planned, a seat from 1 September may still be offered from 1 July (the intake hands out
    # every seat free from then, and the vacancies after it go on in July and August) ...
    assert (estimate(2, movement(general=[10] * 12), can_start=september).earliest) == INTAKE
    assert (estimate(2, movement(general=[10] * 12), can_start=dt.date(2027, 8, 1)).earliest) == INTAKE
    # ... and once July has begun, at the queue's pace from today.
    july = estimate(2, movement(general=[10] * 12), today=dt.date(2027, 7, 20), can_start=september)
    assert july.latest is not None and july.latest < september
    # A child who can start only after 1 September waits for its day; before the intake, for its own day.
    october = dt.date(2027, 10, 1)
    assert estimate(2, movement(general=[10] * 12), can_start=october).earliest == october
    march = dt.date(2027, 3, 1)
    assert estimate(2, movement(general=[10] * 12), can_start=march).earliest == march
    # Wherever the place falls, the 10th percentile never comes after the 90th.
    for place in range(1, 40):
        for seats in (0, 1, 5, 8, 20):
            for start in (TODAY, march, INTAKE, dt.date(2027, 8, 1), september, october):
                r = estimate(place, movement(general=[1] * 12, seats=seats), can_start=start)
                assert r.earliest is None or r.latest is None or r.earliest <= r.latest, (place, seats, start)


def test_a_range_that_reaches_school_age_has_no_upper_end() -> None:
    m = movement(general=[1] * 12)
    e = estimate(8, m, school_age=dt.date(2027, 9, 1))
    assert e.basis == Basis.BEYOND_SCHOOL_AGE and not e.insufficient_history
    assert e.latest is None and e.earliest is not None
    assert estimate(40, m, school_age=dt.date(2027, 9, 1)).earliest is None


# --- a choice that waits for nothing ------------------------------------------------------------------------


def standing(status: ApplicationStatus = ApplicationStatus.QUEUED, **changes: object) -> ChoiceStanding:
    values: dict[str, object] = {
        "status": status,
        "tier": PriorityTier.GENERAL,
        "held_here": False,
        "holds_better": False,
        "desired_start_date": TODAY,
        "birth_year": 2023,
        "birth_date": dt.date(2023, 5, 5),
        "region_code": "350000000",
        "movement": movement(general=[2] * 12),
        **changes,
    }
    return ChoiceStanding(**values)  # type: ignore[arg-type]


def test_choices_that_wait_for_nothing_get_a_reason_and_no_dates() -> None:
    cases = {
        Basis.NOT_WAITING: choice_estimate(standing(ApplicationStatus.WITHDRAWN), None, TODAY, 24),
        Basis.INACTIVE: choice_estimate(standing(ApplicationStatus.INACTIVE), None, TODAY, 24),
        Basis.SEAT_HELD: choice_estimate(standing(ApplicationStatus.OFFERED, held_here=True), None, TODAY, 24),
        Basis.HOLDS_BETTER: choice_estimate(standing(ApplicationStatus.OFFERED, holds_better=True), 3, TODAY, 24),
    }
    for basis, e in cases.items():
        assert e.basis == basis and (e.earliest, e.latest, e.insufficient_history) == (None, None, False)
    waiting = choice_estimate(standing(), 3, TODAY, 24)
    assert waiting.basis == Basis.QUEUE_PACE and waiting.earliest is not None


def test_a_child_too_young_waits_for_the_minimum_age_and_school_age_ends_the_range() -> None:
    baby = standing(birth_year=2026, birth_date=dt.date(2026, 10, 15))
    e = choice_estimate(baby, 1, TODAY, 24)
    assert e.earliest == e.latest == dt.date(2028, 10, 15), "the first day the child is 24 months old"
    older = choice_estimate(standing(birth_year=2021, birth_date=dt.date(2021, 2, 2)), 30, TODAY, 24)
    assert older.basis == Basis.BEYOND_SCHOOL_AGE, "1 September 2027 ends the wait of a child born in 2021"


# --- the basis in words -------------------------------------------------------------------------------------


def test_every_basis_has_a_sentence_in_every_language() -> None:
    fields = {"ahead", "offers", "seats", "intake"}
    assert set(estimate_texts.TEXTS) == set(Basis)
    for basis, text in estimate_texts.TEXTS.items():
        for language in Language:
            sentence = text.of(language)
            named = {name for _, name, _, _ in string.Formatter().parse(sentence) if name}
            assert named <= fields, (basis, language)
            assert sentence.endswith("."), (basis, language)
        assert len({text.kk, text.ru, text.en}) == 3, basis
    dated = set(Basis) - INSUFFICIENT - {Basis.SEAT_HELD, Basis.HOLDS_BETTER, Basis.INACTIVE, Basis.NOT_WAITING}
    for basis in dated:  # a sentence beside dates says they are no promise
        text = estimate_texts.TEXTS[basis]
        assert "уәде емес" in text.kk and "не обещание" in text.ru and "not a promise" in text.en, basis


def test_the_basis_names_its_figures() -> None:
    e = estimate(6, movement(general=[1] * 12, seats=7.6))
    assert estimate_texts.basis(e, Language.EN) == (
        "An estimate, not a promise: from this queue's last 12 months (offers to children without a higher "
        "priority: 12; children ahead: 5) and the seats planned for the next school year, offered from 01.07.2027: 8."
    )
    assert "детей впереди: 5" in estimate_texts.basis(e, Language.RU)
    assert "алдағы балалар: 5" in estimate_texts.basis(e, Language.KK)
    assert estimate_texts.seats_shown(0.4) == 1 and estimate_texts.seats_shown(0) == 0
