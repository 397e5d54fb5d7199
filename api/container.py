"""Composition root: settings → engine, adapters, services, schema."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import Authenticator
from api.config_files import load_channels, load_policy
from api.metrics import OBSERVER
from api.offload import WorkerProcess
from api.settings import Settings
from domain.ports import BenefitsRegistry, Clock, ESignature, HealthRegistry, PopulationRegistry, SmsGateway
from domain.usecases import QueueService
from graph.admission import Admission
from graph.broker import Broker
from graph.context import Services
from integrations.calendar import KazakhstanCalendar
from integrations.http import (
    HttpBenefitsRegistry,
    HttpESignature,
    HttpHealthRegistry,
    HttpPopulationRegistry,
    HttpSmsGateway,
)
from integrations.sandbox import (
    SandboxBenefitsRegistry,
    SandboxESignature,
    SandboxHealthRegistry,
    SandboxPopulationRegistry,
    SandboxSmsGateway,
)
from persistence.db import make_engine
from persistence.documents import TrustedDocuments
from persistence.feed import FeedStore
from persistence.idempotency import IdempotencyStore
from persistence.pg import Pools
from persistence.readers import Reader
from persistence.sandbox import SandboxStore
from persistence.uow import SqlUnitOfWork


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    authenticator: Authenticator
    population: PopulationRegistry
    benefits: BenefitsRegistry
    health: HealthRegistry
    sms: SmsGateway
    queue: QueueService
    services: Services
    feed: FeedStore
    broker: Broker
    documents: TrustedDocuments
    closers: list[Any] = field(default_factory=list)
    pools: Pools | None = None  # the asyncpg pools (their use is a metric)

    @contextlib.contextmanager
    def statements(self) -> Iterator[list[str]]:
        """Every SQL statement run while inside, on the engine and on the asyncpg pools (tests, bench)."""
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        engine = self.engine.sync_engine
        readers = self.services.reader.listeners
        event.listen(engine, "before_cursor_execute", record)
        readers.append(seen.append)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", record)
            readers.remove(seen.append)

    async def aclose(self) -> None:
        for closer in self.closers:
            await closer()
        await self.engine.dispose()


def build_container(settings: Settings, database_url: str, clock: Clock | None = None) -> Container:
    engine = make_engine(database_url, pool_size=settings.db_pool_size)
    clock = clock or SystemClock()
    channels_file = settings.resolved_channels_file()
    channels = load_channels(channels_file) if channels_file else []
    pools = Pools(database_url, size=settings.db_pool_size)
    reader = Reader(pools)
    authenticator = Authenticator(
        channels, allow_development=settings.development, kindergarten_region=reader.kindergarten_region
    )
    store = SandboxStore(pools)
    closers: list[Any] = [pools.close]

    def outside(url: str | None, http: Callable[..., Any], sandbox: Callable[[], Any]) -> Any:
        """The HTTP adapter when the system's URL is configured, else the sandbox adapter."""
        if not url:
            return sandbox()
        adapter = http(url, timeout=settings.registry_timeout, retries=settings.registry_retries)
        closers.append(adapter.aclose)
        return adapter

    population: PopulationRegistry = outside(
        settings.population_registry_url, HttpPopulationRegistry, lambda: SandboxPopulationRegistry(store)
    )
    benefits: BenefitsRegistry = outside(
        settings.benefits_registry_url, HttpBenefitsRegistry, lambda: SandboxBenefitsRegistry(store)
    )
    sms: SmsGateway = outside(settings.sms_gateway_url, HttpSmsGateway, lambda: SandboxSmsGateway(store))
    health: HealthRegistry = outside(
        settings.health_registry_url, HttpHealthRegistry, lambda: SandboxHealthRegistry(store)
    )
    esign: ESignature = outside(settings.esign_url, HttpESignature, SandboxESignature)
    policies = load_policy(settings.policy_file)
    worker = WorkerProcess()  # the intake's matching, off the event loop (decision 101)
    closers.append(worker.aclose)
    queue = QueueService(
        lambda: SqlUnitOfWork(pools, clock),
        clock,
        population,
        benefits,
        KazakhstanCalendar(),
        policies,
        health,
        esign,
        reader,
        observer=OBSERVER,
        offload=worker,
    )
    feed = FeedStore(engine, pools)
    broker = Broker(feed, database_url)
    services = Services(
        queue=queue,
        feed=feed,
        broker=broker,
        reader=reader,
        idempotency=IdempotencyStore(engine),
        admission=Admission(settings.write_concurrency),
        sandbox=store if settings.development or not settings.sms_gateway_url else None,
        development=settings.development,
        observer=OBSERVER,
    )
    return Container(
        settings=settings,
        engine=engine,
        clock=clock,
        authenticator=authenticator,
        population=population,
        benefits=benefits,
        health=health,
        sms=sms,
        queue=queue,
        services=services,
        feed=feed,
        broker=broker,
        documents=TrustedDocuments(engine),
        closers=closers,
        pools=pools,
    )
