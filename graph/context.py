"""Per-request context: who calls, the services, and DataLoaders built for this request only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.model import Actor
from domain.usecases import QueueService
from graph.broker import Broker
from graph.loaders import Loaders
from persistence.feed import FeedStore
from persistence.idempotency import IdempotencyStore
from persistence.readers import Reader
from persistence.sandbox import SandboxStore

if TYPE_CHECKING:
    from graph.shared import Execution


@dataclass(frozen=True, slots=True)
class Services:
    queue: QueueService
    feed: FeedStore
    broker: Broker
    reader: Reader
    idempotency: IdempotencyStore
    sandbox: SandboxStore | None
    development: bool


@dataclass(slots=True)
class Context:
    actor: Actor
    services: Services
    request_id: str
    loaders: Loaders = field(init=False)
    # WebSocket connections only: the connection_init payload and the socket (to close it at token expiry).
    connection_params: dict[str, Any] | None = None
    websocket: Any = None
    # The subscription execution this context runs, when it may be shared (graph/shared.py).
    shared: Execution | None = None

    # HTTP requests only: the request's own connection for its reads (released when the response is sent).
    reader: Reader | None = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.reader or self.services.reader)
