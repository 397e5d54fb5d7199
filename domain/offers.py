"""The life of an offer (docs/product.md §4 "Offer", "Confirm", "Decline", "Silence", "Upgrade offers", "Reminders").

An offer is live while PENDING (the parent's answer is awaited) or CONFIRMED (the contract's signature is).
Each step has a deadline from the policy of the offer's kindergarten's region; a reminder goes 24 hours
before it, halfway through windows shorter than 48 hours. Declined or left to lapse, an upgrade offer costs
only its choice; any other decline follows the region's decline effect, any other lapse makes the
application INACTIVE, restorable once within the restore window of the child's region."""

from __future__ import annotations

import datetime as dt
import enum

from domain.errors import DomainError
from domain.model import Application, ApplicationStatus, Contract, ErrorCode, Offer, OfferStatus
from domain.policy import DeclineEffect, Policy
from domain.ports import HolidayCalendar
from domain.timezone import local_date


def remind_at(start: dt.datetime, deadline: dt.datetime) -> dt.datetime:
    """24 hours before the deadline; halfway through windows shorter than 48 hours."""
    if deadline - start < dt.timedelta(hours=48):
        return start + (deadline - start) / 2
    return deadline - dt.timedelta(hours=24)


def check_step(offer: Offer, expected: OfferStatus, now: dt.datetime) -> None:
    """The parent may act on an offer only in the step it is in, and only before its deadline."""
    if offer.status != expected:
        raise DomainError(ErrorCode.INVALID_STATE, f"the offer is {offer.status.value}", "offerId")
    if now > offer.respond_by:
        raise DomainError(ErrorCode.DEADLINE_PASSED, "the deadline has passed", "offerId")


def check_live(offer: Offer) -> None:
    if not offer.live:
        raise DomainError(ErrorCode.INVALID_STATE, f"the offer is {offer.status.value}", "offerId")


def start_date(app: Application, offer: Offer, now: dt.datetime) -> dt.date:
    """When attendance starts: the desired start date, not before the seat is free (the offer's start), and
    today when both have passed."""
    return max(app.desired_start_date, offer.starts_on or local_date(now), local_date(now))


class AfterDecline(enum.Enum):
    DROP_CHOICE = "DROP_CHOICE"  # only that kindergarten leaves the choices (closing when none is left)
    CLOSE = "CLOSE"  # the application closes (policy ANNUL)


def after_decline(offer: Offer, policy: Policy) -> AfterDecline:
    if offer.upgrade or policy.decline_effect == DeclineEffect.DROP_CHOICE:
        return AfterDecline.DROP_CHOICE
    return AfterDecline.CLOSE


def extended_deadline(contract: Contract, policy: Policy, calendar: HolidayCalendar) -> dt.datetime:
    """Once, to the extension window after the contract was issued; refused when it would add no time."""
    if contract.extended:
        raise DomainError(ErrorCode.INVALID_STATE, "the contract was already extended once", "offerId")
    deadline = policy.extension.end(contract.issued_at, calendar)
    if deadline <= contract.sign_by:
        raise DomainError(ErrorCode.INVALID_STATE, "an extension would not add time", "offerId")
    return deadline


def restore_deadline(app: Application, policy: Policy, calendar: HolidayCalendar) -> dt.datetime:
    assert app.inactive_since is not None
    return policy.restore_window.end(app.inactive_since, calendar)


def check_restorable(app: Application, policy: Policy, calendar: HolidayCalendar, now: dt.datetime) -> None:
    if app.status != ApplicationStatus.INACTIVE:
        raise DomainError(ErrorCode.INVALID_STATE, f"the application is {app.status.value}", "applicationId")
    if app.restored:
        raise DomainError(ErrorCode.INVALID_STATE, "the application was already restored once", "applicationId")
    if now > restore_deadline(app, policy, calendar):
        raise DomainError(ErrorCode.DEADLINE_PASSED, "the restore window has passed", "applicationId")


def closes_unrestored(app: Application, policy: Policy, calendar: HolidayCalendar, now: dt.datetime) -> bool:
    """An INACTIVE application closes once restored before, or once its restore window has passed."""
    return app.inactive_since is not None and (app.restored or now > restore_deadline(app, policy, calendar))
