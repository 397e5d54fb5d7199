"""The waiting estimate of a choice (docs/product.md §3 "Waiting estimate"): when an offer is likely, as the dates of
the 10th and the 90th percentile, and what the estimate rests on. An estimate, never a promise.

The model, in a paragraph. Seats reach a child's place at the pace the queue's recorded offers show over the last
365 days: every offer made there to a child of the same tier or a lower one counts (offers of a summer intake apart:
the next intake is counted from its planned seats), and offers to children of a better tier do not, as such children
keep joining ahead at that pace. The child's offer is then the `position`-th counted offer from today. With offers
arriving at random at the recorded rate, the wait for that many is a gamma variable; the rate itself is known only
from the offers counted, so the wait is a ratio of two gamma variables (an F distribution), whose percentiles are
taken with the Wilson–Hilferty cube-root approximation in Paulson's form. Where the months' counts vary more than
chance would make them (offers in bursts: a group opened, a wave of departures), the offers are counted as fewer,
larger steps — Pearson's statistic of the monthly counts over its degrees of freedom — which widens the range; a
child never waits for less than one step. The year has two seasons: the summer (from the intake's day to 1
September: the intake's declined and lapsed seats passed on) and the rest, each with the pace the window recorded in
it; the wait is stated in days of the year's average pace and turned into calendar days on that clock, and the
months are expected as the seasons spread them. With no seats planned, no intake has seats to pass on: the summer
then has the pace of the rest of the year. The seats already planned for the next school year are offered at once by
the summer intake (1 July, or today once July has begun): a child whose place falls within them is offered then,
unless the queue reaches the place earlier. No date comes before the child can take a seat (old enough and the
desired start date come) — except that from the intake's day a child who can start by 1 September may be offered a
seat from then, by the intake or by the vacancies that follow it, so its dates come no earlier than that day — and
none on or after the day the child reaches school age (the percentile is then unknown). Fewer than 5 counted offers
and no planned seats that reach the child's place: too little history, and no dates at all.

Two entry points. The status query's: `choice_estimate(standing, position, today, min_admission_age_months)`,
which first says when a choice waits for nothing. A simulation's (the simulated-year bench, measuring the share
of offers inside their range):

    wait_estimate(position, tier, movement, today, *, can_start, school_age) -> WaitEstimate

with `movement` a `QueueMovement` (offers[tier rank][month], month 0 the latest twelfth of the 365 days up to
`today`, intake offers left out; planned_seats) or None for a queue that recorded nothing; the answer's
`earliest`, `latest` (None when unknown) and `insufficient_history` are the estimate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from domain import age, school_year
from domain.model import ApplicationStatus, PriorityTier

LOW, HIGH = 0.1, 0.9  # the percentiles of the range
_Z = {LOW: -1.2815515655446004, HIGH: 1.2815515655446004}  # standard normal quantiles of LOW and HIGH
MIN_OFFERS = 5  # counted offers in the window below which the queue's pace is not known
WINDOW_DAYS = 365
MONTHS = 12  # the window in equal twelfths: month 0 is the latest


@dataclass(frozen=True, slots=True)
class QueueMovement:
    """What a queue recorded: offers made to its children in the window, by tier rank and month, without the
    summer intake's; and the seats planned for it in the next school year beyond today's free seats."""

    offers: tuple[tuple[int, ...], ...]  # offers[tier rank][month]
    planned_seats: float

    def counted(self, tier: PriorityTier) -> list[int]:
        """Monthly offers to children of this tier or a lower one."""
        return [sum(month) for month in zip(*self.offers[tier.rank :], strict=True)]


class Basis(enum.StrEnum):
    """What an estimate rests on; each has a sentence in every language (domain/estimate_texts.py)."""

    SEAT_HELD = "SEAT_HELD"  # the child holds a live offer or is enrolled at this kindergarten
    HOLDS_BETTER = "HOLDS_BETTER"  # ... at a kindergarten ranked higher: no offer comes from this one meanwhile
    INACTIVE = "INACTIVE"
    NOT_WAITING = "NOT_WAITING"  # a final application
    INSUFFICIENT_HISTORY = "INSUFFICIENT_HISTORY"  # too few offers, no planned seats
    BEYOND_PLANNED_SEATS = "BEYOND_PLANNED_SEATS"  # too few offers, and the planned seats do not reach the place
    QUEUE_PACE = "QUEUE_PACE"
    QUEUE_PACE_AND_INTAKE = "QUEUE_PACE_AND_INTAKE"
    PLANNED_SEATS = "PLANNED_SEATS"  # too few offers, but the place is within the planned seats
    BEYOND_SCHOOL_AGE = "BEYOND_SCHOOL_AGE"  # the range reaches the day the child starts school


INSUFFICIENT = frozenset({Basis.INSUFFICIENT_HISTORY, Basis.BEYOND_PLANNED_SEATS})


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    basis: Basis
    earliest: dt.date | None = None
    latest: dt.date | None = None
    ahead: int | None = None  # children ahead in the queue
    offers: int = 0  # counted offers in the window
    planned_seats: float = 0.0
    intake_day: dt.date | None = None  # when the planned seats are offered

    @property
    def insufficient_history(self) -> bool:
        return self.basis in INSUFFICIENT


@dataclass(frozen=True, slots=True)
class ChoiceStanding:
    """Where one choice of an application stands, and its queue's movement: what its estimate reads."""

    status: ApplicationStatus
    tier: PriorityTier
    held_here: bool  # a live offer or an enrolment at this kindergarten
    holds_better: bool  # ... at a kindergarten the application ranks higher
    desired_start_date: dt.date
    birth_year: int
    birth_date: dt.date | None  # as the registry snapshot records it
    region_code: str  # of the kindergarten: its policy sets the minimum admission age
    movement: QueueMovement | None  # None: no offer in the window and no seats planned


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@dataclass(frozen=True, slots=True)
class _Pace:
    """The wait for j counted offers, in days: WINDOW_DAYS · G(j/step) / G(n/step) with G(s) a gamma variable of
    shape s — (j/n)·WINDOW_DAYS times an F(2j/step, 2n/step) variable. Shapes are at least 1 (n/step is, by how
    `step` is measured; j/step by the one-step floor), where the cube-root approximation holds."""

    offers: int  # n
    step: float  # offers per step, at least 1

    def _terms(self, j: float) -> tuple[float, float, float]:
        shape = max(j / self.step, 1.0)
        a, b = 1.0 / (9.0 * shape), self.step / (9.0 * self.offers)
        return a, b, WINDOW_DAYS * shape / (self.offers / self.step)  # the scale of F

    def cdf(self, j: float, days: float) -> float:
        """P(the j-th counted offer has come within `days`)."""
        if j <= 0:
            return 1.0
        a, b, scale = self._terms(j)
        u = (max(days, 0.0) / scale) ** (1.0 / 3.0)
        return _phi(((1.0 - b) * u - (1.0 - a)) / math.sqrt(b * u * u + a))

    def quantile(self, j: float, q: float) -> float:
        """The days within which the j-th counted offer has come with probability q (`cdf` inverted)."""
        if j <= 0:
            return 0.0
        a, b, scale = self._terms(j)
        z = _Z[q]
        # ((1-b)u - (1-a))^2 = z^2 (b u^2 + a): the larger root for z > 0, the smaller for z < 0.
        qa, qb, qc = (1.0 - b) ** 2 - z * z * b, (1.0 - a) * (1.0 - b), (1.0 - a) ** 2 - z * z * a
        if qa <= 0:  # unreachable with b <= 1/9; an upper percentile beyond any day
            return math.inf if z > 0 else 0.0
        u = (qb + math.copysign(math.sqrt(max(qb * qb - qa * qc, 0.0)), z)) / qa
        return scale * u**3 if u > 0 else 0.0


def _summer(year: int) -> tuple[dt.date, dt.date]:
    """A year's summer, [start, end): from the intake's day (1 July) to the school year's first (1 September)."""
    return school_year.intake_opens(year), school_year.first_day(year)


def _summer_days(start: dt.date, end: dt.date) -> int:
    """Days of [start, end) in a summer."""
    total = 0
    for year in range(start.year, end.year + 1):
        summer_start, summer_end = _summer(year)
        total += max((min(end, summer_end) - max(start, summer_start)).days, 0)
    return total


@dataclass(frozen=True, slots=True)
class _Seasons:
    """The queue's clock: offers come at one pace in the summer (after the intake: its declined and lapsed seats
    passed on) and at another the rest of the year, each as the window recorded it. `operational` turns days from
    today into days of a year-round average pace, the time the wait's distribution is stated in; `calendar` turns
    them back. Offers recorded only in one season give the other none."""

    today: dt.date
    summer: float  # the pace in the summer, over the year's average (0 when none came then)
    rest: float  # the pace the rest of the year, likewise

    @classmethod
    def of(cls, monthly: Sequence[int], today: dt.date) -> _Seasons:
        shares = _summer_shares(today)
        offers = sum(monthly)
        in_summer = sum(n * f for n, f in zip(monthly, shares, strict=True))
        summer_days = sum(shares) * WINDOW_DAYS / MONTHS
        if offers == 0 or summer_days <= 0:
            return cls(today, 1.0, 1.0)
        average = offers / WINDOW_DAYS
        return cls(
            today,
            in_summer / summer_days / average,
            max(offers - in_summer, 0.0) / (WINDOW_DAYS - summer_days) / average,
        )

    def expected(self, monthly: Sequence[int]) -> list[float]:
        """Each month's offers as these paces would spread the window's."""
        mean = sum(monthly) / MONTHS
        return [mean * (f * self.summer + (1 - f) * self.rest) for f in _summer_shares(self.today)]

    def _segments(self) -> Iterator[tuple[int, float]]:
        """(days, pace) from today on, season by season."""
        day = self.today
        while True:
            summer_start, summer_end = _summer(day.year)
            if day < summer_start:
                end, pace = summer_start, self.rest
            elif day < summer_end:
                end, pace = summer_end, self.summer
            else:
                end, pace = _summer(day.year + 1)[0], self.rest
            yield (end - day).days, pace
            day = end

    def operational(self, days: float) -> float:
        total = 0.0
        for length, pace in self._segments():
            if days <= length:
                return total + days * pace
            total, days = total + length * pace, days - length
        raise AssertionError("unreachable")

    def calendar(self, operational: float) -> float:
        """The first day from today by which `operational` days of the average pace have passed."""
        passed = 0.0
        for length, pace in self._segments():
            if pace > 0 and operational <= length * pace:
                return passed + operational / pace
            operational -= length * pace
            passed += length
        raise AssertionError("unreachable")


@lru_cache(maxsize=64)
def _summer_shares(today: dt.date) -> tuple[float, ...]:
    """The share of each month of the window (month 0 the latest twelfth of the 365 days up to today) in a summer."""
    length = WINDOW_DAYS / MONTHS
    out = []
    for m in range(MONTHS):
        end = today - dt.timedelta(days=round(m * length))
        start = today - dt.timedelta(days=round((m + 1) * length))
        out.append(_summer_days(start, end) / (end - start).days)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _SeasonalPace:
    """The wait for j counted offers (`_Pace`) on the queue's two-season clock: days from today, in and out."""

    pace: _Pace
    seasons: _Seasons

    def cdf(self, j: float, days: float) -> float:
        return self.pace.cdf(j, self.seasons.operational(days))

    def quantile(self, j: float, q: float) -> float:
        wait = self.pace.quantile(j, q)
        return wait if math.isinf(wait) else self.seasons.calendar(wait)


def _queue_pace(monthly: Sequence[int], today: dt.date, seats: float) -> _SeasonalPace | None:
    """The queue's pace, or None where its history does not give one."""
    offers = sum(monthly)
    if offers < MIN_OFFERS:
        return None
    recorded = _Seasons.of(monthly, today)
    # The summer's pace is the intake's seats passed on: with no seats planned there are none to pass on.
    seasons = recorded if seats > 0 else dataclasses.replace(recorded, summer=recorded.rest)
    if seasons.summer + seasons.rest <= 0:
        return None
    return _SeasonalPace(_Pace(offers, dispersion(monthly, recorded.expected(monthly))), seasons)


def dispersion(monthly: Sequence[int], expected: Sequence[float] | None = None) -> float:
    """Offers per step: how much more the monthly counts vary than chance would make them — Pearson's statistic
    over its degrees of freedom, the variance over the mean when every month expects the same — at least 1
    (Poisson arrivals give 1). At most the window's total, reached when every offer came in one month. With
    `expected`, each month is held against its own expected count (the seasons' paces, one degree less)."""
    mean = sum(monthly) / len(monthly)
    if mean == 0:
        return 1.0
    if expected is None:
        variance = sum((m - mean) ** 2 for m in monthly) / (len(monthly) - 1)
        return max(variance / mean, 1.0)
    fitted = [(m, e) for m, e in zip(monthly, expected, strict=True) if e > 0]
    freedom = len(fitted) - 2
    if freedom <= 0:
        return 1.0
    return max(sum((m - e) ** 2 / e for m, e in fitted) / freedom, 1.0)


def wait_estimate(
    position: int,
    tier: PriorityTier,
    movement: QueueMovement | None,
    today: dt.date,
    *,
    can_start: dt.date,
    school_age: dt.date,
) -> WaitEstimate:
    """The estimate for a child at `position` (1 = first) in its queue, of `tier`, that may take a seat from
    `can_start` (old enough, desired start date come) and reaches school age on `school_age`."""
    ahead = position - 1
    monthly = movement.counted(tier) if movement else [0] * MONTHS
    offers = sum(monthly)
    seats = movement.planned_seats if movement else 0.0
    year = school_year.school_year_of(today) + 1
    intake = max(school_year.intake_opens(year), today)
    # The first day an offer can come: the day the child can start or, for a child who can start by 1 September,
    # the intake's day, from which the next school year's seats are offered (docs/product.md §10). Every date,
    # the queue's or the intake's, has this floor, so that the 10th percentile never comes after the 90th.
    floor = min(can_start, intake) if can_start <= school_year.first_day(year) else can_start

    def estimate(basis: Basis, earliest: dt.date | None = None, latest: dt.date | None = None) -> WaitEstimate:
        return WaitEstimate(basis, earliest, latest, ahead, offers, seats, intake if seats > 0 else None)

    pace = _queue_pace(monthly, today, seats)
    if pace is None and position > seats:
        return estimate(Basis.BEYOND_PLANNED_SEATS if seats > 0 else Basis.INSUFFICIENT_HISTORY)

    def cdf(j: float, days: float) -> float:
        return 1.0 if j <= 0 else pace.cdf(j, days) if pace else 0.0

    lump = (intake - today).days
    before, after = cdf(position, lump), cdf(position - seats, lump)

    def percentile(q: float) -> dt.date | None:
        if seats > 0 and before < q <= after:
            # The intake judges its candidates on 1 September: a child that can start by then is offered on its day.
            day = max(intake, floor)
        else:
            assert pace is not None  # without a pace, the planned seats hold the whole range
            days = pace.quantile(position if q <= before or seats <= 0 else position - seats, q)
            if math.isinf(days):
                return None
            day = max(today + dt.timedelta(days=math.ceil(days)), floor)
        return day if day < school_age else None

    earliest, latest = percentile(LOW), percentile(HIGH)
    if latest is None:
        return estimate(Basis.BEYOND_SCHOOL_AGE, earliest)
    if pace is None:
        return estimate(Basis.PLANNED_SEATS, earliest, latest)
    if seats > 0 and latest >= intake:
        return estimate(Basis.QUEUE_PACE_AND_INTAKE, earliest, latest)
    return estimate(Basis.QUEUE_PACE, earliest, latest)


def choice_estimate(
    standing: ChoiceStanding, position: int | None, today: dt.date, min_admission_age_months: int
) -> WaitEstimate:
    """The estimate of one choice at its position (null out of the queue): no dates for a choice that waits for
    nothing (an application not waiting, a seat held here or at a kindergarten ranked higher)."""
    if standing.status.final:
        return WaitEstimate(Basis.NOT_WAITING)
    if standing.status == ApplicationStatus.INACTIVE:
        return WaitEstimate(Basis.INACTIVE)
    if standing.held_here or position is None:
        return WaitEstimate(Basis.SEAT_HELD if standing.held_here else Basis.NOT_WAITING)
    if standing.holds_better:
        return WaitEstimate(Basis.HOLDS_BETTER)
    born = standing.birth_date or dt.date(standing.birth_year, 1, 1)
    return wait_estimate(
        position,
        standing.tier,
        standing.movement,
        today,
        can_start=max(standing.desired_start_date, age.old_enough_from(born, min_admission_age_months)),
        school_age=age.aged_out_on(born),
    )
