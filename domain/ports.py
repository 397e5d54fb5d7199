"""Interfaces to everything outside the domain: registries, gateways, clock (docs/product.md §9)."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from domain.model import BenefitFinding, Language, Person


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Aware UTC datetime."""
        ...


class PopulationRegistry(Protocol):
    """ГБД ФЛ. Every method raises RegistryUnavailable when the registry does not answer."""

    async def person(self, iin: str) -> Person | None: ...

    async def representatives(self, child_iin: str) -> list[str]: ...

    async def children(self, iin: str) -> list[str]: ...


class BenefitsRegistry(Protocol):
    async def findings(self, iins: list[str]) -> list[BenefitFinding]:
        """Categories found for any of these people (a child and its representatives)."""
        ...


@dataclass(frozen=True, slots=True)
class HealthDocument:
    kind: str
    document_id: str
    issued_on: dt.date


class HealthRegistry(Protocol):
    async def documents(self, child_iin: str) -> list[HealthDocument]: ...


class ESignature(Protocol):
    async def verify(self, signer_iin: str, document_hash: str, signature: str) -> bool: ...


class SmsGateway(Protocol):
    async def send(self, message_id: str, to: str, text: str, language: Language) -> None:
        """Raises on failure; the dispatcher retries with the same id so the gateway can drop duplicates."""
        ...


class HolidayCalendar(Protocol):
    def is_working_day(self, day: dt.date) -> bool: ...


class Observer(Protocol):
    """How long the domain's long runs take, for operators (api/metrics.py records them; docs/operations.md).
    Each method is a context manager around one run: `with self.observer.intake("draft"): ...`."""

    def allocation(self, step: str) -> contextlib.AbstractContextManager[None]:
        """One allocation: `fill` (in the change's transaction), `run` (right after its commit) or `dispatch`
        (groups left queued, by a dispatcher)."""
        ...

    def intake(self, step: str) -> contextlib.AbstractContextManager[None]:
        """One intake run's `draft` (createIntakeRun) or `publish` (publishIntakeRun)."""
        ...


class Unobserved:
    """The Observer when nobody records: tests and tools that build the use cases themselves."""

    def allocation(self, step: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def intake(self, step: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


UNOBSERVED: Observer = Unobserved()
