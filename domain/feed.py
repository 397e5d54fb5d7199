"""The subscription feed (docs/api.md §3 Subscriptions): its three streams and the closed set of event kinds each
carries. An event is written in the same transaction as the change it reports and pushed after commit."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventStream(enum.StrEnum):
    VACANCY = "vacancy"  # seat events for akimat dashboards (vacancyUpdates)
    OFFER = "offer"  # offers to a family's children (seatOffers)
    APPLICATION = "application"  # changes of one application (applicationUpdates)


class VacancyEventKind(enum.StrEnum):
    SEAT_FREED = "SEAT_FREED"
    OFFER_MADE = "OFFER_MADE"
    OFFER_CONFIRMED = "OFFER_CONFIRMED"
    OFFER_DECLINED = "OFFER_DECLINED"
    OFFER_LAPSED = "OFFER_LAPSED"
    OFFER_SUPERSEDED = "OFFER_SUPERSEDED"
    OFFER_CANCELLED = "OFFER_CANCELLED"
    CONTRACT_LAPSED = "CONTRACT_LAPSED"
    ENROLLED = "ENROLLED"
    LEFT = "LEFT"
    CAPACITY_CHANGED = "CAPACITY_CHANGED"


class OfferEventKind(enum.StrEnum):
    OFFERED = "OFFERED"
    REMINDER = "REMINDER"
    LAPSED = "LAPSED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"


class ApplicationEventKind(enum.StrEnum):
    STATUS_CHANGED = "STATUS_CHANGED"
    POSITION_CHANGED = "POSITION_CHANGED"
    CHOICES_CHANGED = "CHOICES_CHANGED"
    CLAIM_CHANGED = "CLAIM_CHANGED"
    OFFER_CHANGED = "OFFER_CHANGED"


FeedKind = VacancyEventKind | OfferEventKind | ApplicationEventKind
STREAM_OF: dict[type[enum.StrEnum], EventStream] = {
    VacancyEventKind: EventStream.VACANCY,
    OfferEventKind: EventStream.OFFER,
    ApplicationEventKind: EventStream.APPLICATION,
}


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One row of the feed. Its stream follows from its kind."""

    kind: FeedKind
    kindergarten_id: int | None = None
    group_id: int | None = None
    free_seats: int | None = None
    offer_id: int | None = None
    application_id: int | None = None
    child_iin: str | None = None

    @property
    def stream(self) -> EventStream:
        return STREAM_OF[type(self.kind)]
