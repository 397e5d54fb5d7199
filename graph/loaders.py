"""One DataLoader per entity and key (Saleor's XByYLoader), each batching into one statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

from strawberry.dataloader import DataLoader

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


class Loaders:
    """Built per request, so nothing cached outlives the request that read it."""

    def __init__(self, r: Reader) -> None:
        self.person_by_iin = PersonByIinLoader(r)
        self.representatives_by_child_iin = RepresentativesByChildIinLoader(r)
        self.siblings_by_child_iin = SiblingsByChildIinLoader(r)
        self.enrollment_by_child_iin = EnrollmentByChildIinLoader(r)
        self.application_by_id = ApplicationByIdLoader(r)
        self.application_by_number = ApplicationByNumberLoader(r)
        self.application_by_child_iin = ApplicationByChildIinLoader(r)
        self.areas_by_application_id = AreasByApplicationIdLoader(r)
        self.position_by_choice = PositionByChoiceLoader(r)
        self.position_changes_by_choice = PositionChangesByChoiceLoader(r)
        self.claims_by_application_id = ClaimsByApplicationIdLoader(r)
        self.history_by_application_id = HistoryByApplicationIdLoader(r)
        self.kindergarten_by_id = KindergartenByIdLoader(r)
        self.groups_by_kindergarten_id = GroupsByKindergartenIdLoader(r)
        self.group_by_id = GroupByIdLoader(r)
        self.queue_length_by_group_id = QueueLengthByGroupIdLoader(r)
        self.district_by_code = DistrictByCodeLoader(r)
        self.live_offer_by_application_id = LiveOfferByApplicationIdLoader(r)
        self.live_offer_by_child_iin = LiveOfferByChildIinLoader(r)
        self.offer_by_id = OfferByIdLoader(r)
        self.contract_by_offer_id = ContractByOfferIdLoader(r)
