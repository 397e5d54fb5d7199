"""Interfaces to everything outside the domain: registries, gateways, clock (docs/product.md §9)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

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


A = TypeVar("A")
T = TypeVar("T")


class Offload(Protocol):
    """Where the domain's CPU-heavy pure steps run, away from the event loop of the process that serves the
    request (decision 101): the summer intake's parsing of a region's inputs, its matching, the checker and
    the results, up to half a second of CPU for a national region, during which a serving process that ran
    them on its event loop answered none of its other requests. The service runs them in a process of its
    own (api/offload.py). `step` is a module-level function: it, its argument and its result pickle."""

    async def run(self, step: Callable[[A], T], arg: A, /) -> T: ...


class InAThread:
    """The Offload of use cases built without the container (tools, some tests): a thread of this process.
    The event loop keeps running beside the step, taking the interpreter back within its switch interval
    (5 ms) whenever it has work."""

    async def run(self, step: Callable[[A], T], arg: A, /) -> T:
        return await asyncio.to_thread(step, arg)


IN_A_THREAD: Offload = InAThread()
