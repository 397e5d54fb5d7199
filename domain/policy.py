"""Regional policy (docs/product.md §6, docs/product.md) and the working-day arithmetic its windows use."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from domain.ports import HolidayCalendar
from domain.timezone import at_local, local_date


class DeclineEffect(enum.StrEnum):
    DROP_CHOICE = "DROP_CHOICE"
    ANNUL = "ANNUL"


@dataclass(frozen=True, slots=True)
class Window:
    """Either a fixed duration or n working days."""

    duration: dt.timedelta | None = None
    working_days: int | None = None

    def end(self, start: dt.datetime, calendar: HolidayCalendar) -> dt.datetime:
        if self.working_days is None:
            assert self.duration is not None
            return start + self.duration
        # Ends at 23:59:59 Asia/Almaty on the n-th working day after the day the window starts.
        day = local_date(start)
        left = self.working_days
        while left > 0:
            day += dt.timedelta(days=1)
            if calendar.is_working_day(day):
                left -= 1
        return at_local(day, dt.time(23, 59, 59))


@dataclass(frozen=True, slots=True)
class Policy:
    response_window: Window = Window(working_days=2)
    contract_window: Window = Window(working_days=5)
    extension: Window = Window(duration=dt.timedelta(days=30))
    restore_window: Window = Window(duration=dt.timedelta(days=28))
    manual_verification_window: Window = Window(working_days=5)
    decline_effect: DeclineEffect = DeclineEffect.DROP_CHOICE
    min_admission_age_months: int = 24
    advance_offer_days: int = 75  # seats free from a later date are offered this many days ahead (§10)
    primary_ratio: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class PolicyBook:
    default: Policy
    regions: dict[str, Policy]

    def for_region(self, region_code: str | None) -> Policy:
        if region_code is None:
            return self.default
        return self.regions.get(region_code, self.default)

    def offered_ahead_until(self, today: dt.date) -> dt.date:
        """The last day a seat may be free from and be offered today, in the region that looks furthest ahead."""
        days = max(p.advance_offer_days for p in (self.default, *self.regions.values()))
        return today + dt.timedelta(days=days)
