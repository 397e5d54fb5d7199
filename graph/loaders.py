"""One DataLoader per entity and key (Saleor's XByYLoader), each batching into one statement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

from strawberry.dataloader import DataLoader

from domain.estimate import ChoiceStanding
from domain.intake import IntakeRun
from domain.model import (
    Application,
    Contract,
    District,
    Enrollment,
    Group,
    Kindergarten,
    Offer,
    Person,
    PriorityClaim,
)
from persistence.readers import AuditEvent, PositionChange, Reader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
L = TypeVar("L")

HISTORY_LIMIT = 50


class _MapLoader(DataLoader[K, V], Generic[K, V]):
    """Loads a batch as a mapping; keys absent from it get the default."""

    def __init__(self, fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], default: V) -> None:
        async def load(keys: list[K]) -> list[V]:
            found = await fetch(keys)
            return [found.get(k, default) for k in keys]

        super().__init__(load_fn=load)


class PersonByIinLoader(_MapLoader[str, Person | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.persons, None)


class RepresentativesByChildIinLoader(_MapLoader[str, list[str]]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.representatives, [])


class SiblingsByChildIinLoader(_MapLoader[str, list[str]]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.siblings, [])


class EnrollmentByChildIinLoader(_MapLoader[str, Enrollment | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.enrollments, None)


class EnrollmentByIdLoader(_MapLoader[int, Enrollment | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.enrollments_by_id, None)


class EnrollmentByOfferIdLoader(_MapLoader[int, Enrollment | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.enrollments_by_offer, None)


class ApplicationByIdLoader(_MapLoader[int, Application | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.applications, None)


class ApplicationByNumberLoader(_MapLoader[str, Application | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.applications_by_number, None)


class ApplicationByChildIinLoader(_MapLoader[str, Application | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.current_applications, None)


class AreasByApplicationIdLoader(_MapLoader[int, list[tuple[str | None, str | None]]]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.application_areas, [])


class PositionByChoiceLoader(_MapLoader[tuple[int, int], int | None]):
    """Key: (application id, kindergarten id)."""

    def __init__(self, r: Reader) -> None:
        async def fetch(keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], int | None]:
            return await r.positions(sorted({k[0] for k in keys}))

        super().__init__(fetch, None)


class StandingByChoiceAndDateLoader(_MapLoader[tuple[int, int, dt.date], ChoiceStanding | None]):
    """Key: (application id, kindergarten id, today): the facts of the choice's waiting estimate."""

    def __init__(self, r: Reader) -> None:
        super().__init__(r.standings, None)


class PositionChangesByChoiceLoader(_MapLoader[tuple[int, int], list[PositionChange]]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.position_changes, [])


class ClaimsByApplicationIdLoader(_MapLoader[int, list[PriorityClaim]]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.claims, [])


class HistoryByApplicationIdLoader(_MapLoader[int, list[AuditEvent]]):
    def __init__(self, r: Reader) -> None:
        async def fetch(keys: Sequence[int]) -> Mapping[int, list[AuditEvent]]:
            return await r.history(keys, HISTORY_LIMIT)

        super().__init__(fetch, [])


class KindergartenByIdLoader(_MapLoader[int, Kindergarten | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.kindergartens, None)


class GroupsByKindergartenIdLoader(_MapLoader[int, list[Group]]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.groups_of, [])


class GroupByIdLoader(_MapLoader[int, Group | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.groups, None)


class QueueLengthByGroupIdLoader(_MapLoader[int, int]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.queue_lengths, 0)


class SeatsFromByGroupAndDateLoader(_MapLoader[tuple[int, dt.date], int]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.seats_from, 0)


class IntakeRunByIdLoader(_MapLoader[int, IntakeRun | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.intake_runs_by_id, None)


class ApplicationNumberByIdLoader(_MapLoader[int, str | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.application_numbers, None)


class DistrictByCodeLoader(_MapLoader[str, District | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.districts, None)


class LiveOfferByApplicationIdLoader(_MapLoader[int, Offer | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.live_offers, None)


class LiveOfferByChildIinLoader(_MapLoader[str, Offer | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.live_offers_by_child, None)


class OfferByIdLoader(_MapLoader[int, Offer | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.offers, None)


class ContractByOfferIdLoader(_MapLoader[int, Contract | None]):
    def __init__(self, r: Reader) -> None:
        super().__init__(r.contracts_by_offer, None)


class _Lazy(Generic[L]):
    """A loader built on first use: a request needs few of them, and each one built is garbage to collect."""

    def __init__(self, make: Callable[[Reader], L]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, loaders: Loaders, owner: type | None = None) -> L:
        loader = self._make(loaders.reader)
        loaders.__dict__[self._name] = loader  # later reads find the instance attribute first
        return loader


class Loaders:
    """Built per request, so nothing cached outlives the request that read it."""

    person_by_iin = _Lazy(PersonByIinLoader)
    representatives_by_child_iin = _Lazy(RepresentativesByChildIinLoader)
    siblings_by_child_iin = _Lazy(SiblingsByChildIinLoader)
    enrollment_by_child_iin = _Lazy(EnrollmentByChildIinLoader)
    enrollment_by_id = _Lazy(EnrollmentByIdLoader)
    enrollment_by_offer_id = _Lazy(EnrollmentByOfferIdLoader)
    application_by_id = _Lazy(ApplicationByIdLoader)
    application_by_number = _Lazy(ApplicationByNumberLoader)
    application_by_child_iin = _Lazy(ApplicationByChildIinLoader)
    areas_by_application_id = _Lazy(AreasByApplicationIdLoader)
    position_by_choice = _Lazy(PositionByChoiceLoader)
    position_changes_by_choice = _Lazy(PositionChangesByChoiceLoader)
    standing_by_choice_and_date = _Lazy(StandingByChoiceAndDateLoader)
    claims_by_application_id = _Lazy(ClaimsByApplicationIdLoader)
    history_by_application_id = _Lazy(HistoryByApplicationIdLoader)
    kindergarten_by_id = _Lazy(KindergartenByIdLoader)
    groups_by_kindergarten_id = _Lazy(GroupsByKindergartenIdLoader)
    group_by_id = _Lazy(GroupByIdLoader)
    queue_length_by_group_id = _Lazy(QueueLengthByGroupIdLoader)
    seats_from_by_group_and_date = _Lazy(SeatsFromByGroupAndDateLoader)
    district_by_code = _Lazy(DistrictByCodeLoader)
    intake_run_by_id = _Lazy(IntakeRunByIdLoader)
    application_number_by_id = _Lazy(ApplicationNumberByIdLoader)
    live_offer_by_application_id = _Lazy(LiveOfferByApplicationIdLoader)
    live_offer_by_child_iin = _Lazy(LiveOfferByChildIinLoader)
    offer_by_id = _Lazy(OfferByIdLoader)
    contract_by_offer_id = _Lazy(ContractByOfferIdLoader)

    def __init__(self, r: Reader) -> None:
        self.reader = r
