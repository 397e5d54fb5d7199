"""Priority (льготы), confirmed from the benefits registry (docs/product.md §3 "Priority").

Each category found for the child or a representative becomes a claim; closed registries (military, special
state bodies) need an operator within the manual-verification window. The application's tier is the highest
tier among its VERIFIED claims; the queue date never changes with it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from domain.model import BenefitFinding, ClaimStatus, PriorityClaim, PriorityTier
from domain.policy import Policy
from domain.ports import HolidayCalendar
from domain.timezone import at_local, local_date

BENEFITS_SOURCE = "benefits-registry"
RECHECK_AT = dt.time(1, 0)  # the daily re-check runs in Almaty's quiet hours
MAX_BACKOFF = dt.timedelta(hours=6)


def tier_of(claims: Iterable[PriorityClaim]) -> PriorityTier:
    """The highest tier among VERIFIED claims; GENERAL without one."""
    ranks = [c.tier.rank for c in claims if c.status == ClaimStatus.VERIFIED]
    return PriorityTier.from_rank(min(ranks)) if ranks else PriorityTier.GENERAL


def claim_from(
    application_id: int, finding: BenefitFinding, policy: Policy, now: dt.datetime, calendar: HolidayCalendar
) -> PriorityClaim:
    """A registry finding as a claim: VERIFIED, or PENDING_MANUAL until the manual window ends."""
    manual = finding.needs_manual_check
    return PriorityClaim(
        id=0,
        application_id=application_id,
        category=finding.category,
        status=ClaimStatus.PENDING_MANUAL if manual else ClaimStatus.VERIFIED,
        subject_iin=finding.subject_iin,
        evidence_id=finding.evidence_id,
        source=BENEFITS_SOURCE,
        manual_deadline=policy.manual_verification_window.end(now, calendar) if manual else None,
    )


def new_findings(findings: Iterable[BenefitFinding], known: Iterable[PriorityClaim]) -> list[BenefitFinding]:
    """Findings not yet recorded as a claim (by category, subject and evidence), each once."""
    seen = {(c.category, c.subject_iin, c.evidence_id) for c in known}
    out = []
    for f in findings:
        key = (f.category, f.subject_iin, f.evidence_id)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def next_check(now: dt.datetime, failures: int) -> dt.datetime:
    """Daily at 01:00 Almaty; while the registry is down, after 2, 4, 8 … minutes, at most every 6 hours."""
    if failures:
        return now + min(dt.timedelta(minutes=2**failures), MAX_BACKOFF)
    return at_local(local_date(now) + dt.timedelta(days=1), RECHECK_AT)
