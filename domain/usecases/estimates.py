"""The waiting estimate of a choice (docs/product.md §3 "Waiting estimate", domain/estimate.py) on the application's
clock, under the policy of the kindergarten's region."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.estimate import Basis, ChoiceStanding, WaitEstimate, choice_estimate
from domain.policy import PolicyBook
from domain.ports import Clock
from domain.timezone import local_date


@dataclass(frozen=True, slots=True)
class Estimates:
    clock: Clock
    policies: PolicyBook

    def today(self) -> dt.date:
        """The day the estimates of a request are made for: their facts are read as of it."""
        return local_date(self.clock.now())

    def of(self, standing: ChoiceStanding | None, position: int | None, today: dt.date) -> WaitEstimate:
        if standing is None:  # the choice was changed away between the request's reads
            return WaitEstimate(Basis.NOT_WAITING)
        policy = self.policies.for_region(standing.region_code)
        return choice_estimate(standing, position, today, policy.min_admission_age_months)
