"""Per-request context: who calls, the services, and DataLoaders built for this request only."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.model import Actor, Language
from domain.usecases import QueueService
from graph.admission import Admission
from graph.broker import Broker
from graph.loaders import Loaders
from persistence.feed import FeedStore
from persistence.idempotency import IdempotencyStore
from persistence.readers import Reader
from persistence.sandbox import SandboxStore


class SharedExecution(Protocol):
    """The subscription execution a context runs when it may be shared (graph/shared.py's Execution)."""

    def hand_over(self, position: int, shape: Hashable, complete: bool) -> bool: ...

    def take(self, event_id: int) -> None: ...


class Observer(Protocol):
    """Where the GraphQL layer reports what operators count (api/metrics.py)."""

    def error(self, code: str, where: str) -> None:
        """An error answered: its code (INTERNAL for a fault), `top_level` or `payload`."""
        ...


class Unobserved:
    def error(self, code: str, where: str) -> None:
        pass


UNOBSERVED: Observer = Unobserved()


@dataclass(frozen=True, slots=True)
class Services:
    queue: QueueService
    feed: FeedStore
    broker: Broker
    reader: Reader
    idempotency: IdempotencyStore
    sandbox: SandboxStore | None
    development: bool
    admission: Admission
    observer: Observer = UNOBSERVED


@dataclass(slots=True)
class Context:
    actor: Actor
    services: Services
    request_id: str
    language: Language = Language.RU  # of error messages: the request's Accept-Language (graph/errors.py)
    loaders: Loaders = field(init=False)
    # WebSocket connections only: the connection_init payload and the socket (to close it at token expiry).
    connection_params: dict[str, Any] | None = None
    websocket: Any = None
    # The subscription execution this context runs, when it may be shared (graph/shared.py).
    shared: SharedExecution | None = None

    # HTTP requests only: the request's own connection for its reads (released when the response is sent).
    reader: Reader | None = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.reader or self.services.reader)
