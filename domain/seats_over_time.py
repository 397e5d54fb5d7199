"""Seats over time (docs/product.md §10 "Seats over time").

A group may open on a date and may have another capacity from a date; an enrolment holds its seat from its
start to its last day (its departure, `leaves_on`), a live offer from the day its seat is free (`starts_on`).
A seat is free *from* a date when it is free on every day from that date on, so that whoever takes it keeps
it. By default the enrolment of a child who turns 6 in year Y ends on 31 August Y.

The database keeps the same rule for every group (migration 0006: `group_seats`, `group_peak`, and the
CHECK that no day to come has more children than seats); tests/test_seats_over_time.py holds the two equal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.age import SCHOOL_AGE

DEPARTURE_MONTH, DEPARTURE_DAY = 8, 31


def default_departure(birth_date: dt.date) -> dt.date:
    """31 August of the year the child turns 6."""
    return dt.date(birth_date.year + SCHOOL_AGE, DEPARTURE_MONTH, DEPARTURE_DAY)


def departure_for(birth_date: dt.date, since: dt.date) -> dt.date | None:
    """The default departure of an enrolment starting `since`; none when that day has already passed then."""
    leaves = default_departure(birth_date)
    return leaves if leaves >= since else None


@dataclass(frozen=True, slots=True)
class Hold:
    """A seat held from `starts_on` to `last_day` inclusive (None: for good)."""

    starts_on: dt.date
    last_day: dt.date | None = None

    def on(self, day: dt.date) -> bool:
        return self.starts_on <= day and (self.last_day is None or day <= self.last_day)


@dataclass(frozen=True, slots=True)
class Timeline:
    """A group's seats over time: its capacity (from its opening), a scheduled capacity, and what holds seats."""

    capacity: int
    holds: tuple[Hold, ...] = ()
    opens_on: dt.date | None = None
    scheduled: tuple[int, dt.date] | None = None  # (capacity, from)

    def capacity_on(self, day: dt.date) -> int:
        if self.opens_on is not None and day < self.opens_on:
            return 0
        if self.scheduled is not None and day >= self.scheduled[1]:
            return self.scheduled[0]
        return self.capacity

    def taken_on(self, day: dt.date) -> int:
        return sum(1 for h in self.holds if h.on(day))

    def changes_from(self, day: dt.date) -> list[dt.date]:
        """`day` and every later day on which the capacity or what is held changes."""
        days = {day}
        for h in self.holds:
            days.add(h.starts_on)
            if h.last_day is not None:
                days.add(h.last_day + dt.timedelta(days=1))
        if self.scheduled is not None:
            days.add(self.scheduled[1])
        if self.opens_on is not None:
            days.add(self.opens_on)
        return sorted(d for d in days if d >= day)

    def seats_from(self, day: dt.date) -> int:
        """Seats free on every day from `day` on."""
        return min(self.capacity_on(c) - self.taken_on(c) for c in self.changes_from(day))

    def free_from(self, day: dt.date) -> dt.date | None:
        """The first day from `day` on with a seat free from it; None if there is none, ever."""
        return next((c for c in self.changes_from(day) if self.seats_from(c) > 0), None)

    def least_free(self, day: dt.date, until: dt.date | None = None) -> int:
        """The fewest seats free on any day in [day, until)."""
        return min(self.capacity_on(c) - self.taken_on(c) for c in self.changes_from(day) if until is None or c < until)

    def peak(self, day: dt.date, until: dt.date | None = None) -> int:
        """The most seats held on any day in [day, until): the least capacity the group can have then."""
        return max((self.taken_on(c) for c in self.changes_from(day) if until is None or c < until), default=0)
