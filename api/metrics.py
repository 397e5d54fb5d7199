"""GET /metrics in Prometheus' text format (docs/operations.md "Metrics", decision 46).

Two kinds of metric:
- what this process measures as it serves: request latency by operation, errors by code, allocation and intake
  durations (kept in `PROCESS`, one set per process however many apps it builds);
- what is read when scraped: this app's subscriptions and database pools, and counts from the database
  (outbox backlog, live offers, the allocation queue), those cached for `DATABASE_TTL` seconds and read by
  one scrape at a time, so that a storm of scrapes costs the database one statement every few seconds.

Nothing here carries personal data: labels are operation names, codes, statuses and pool names, from
bounded sets (an operation name beyond the first `MAX_OPERATIONS`, or with a run of digits, is `_other`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from graph.admission import Admission
from graph.broker import Broker
from graph.shared import Hub
from persistence.gauges import DatabaseGauges, engine_pool_usage, read_gauges
from persistence.pg import Pools

log = logging.getLogger("kezek.metrics")

DATABASE_TTL = 5.0  # seconds a reading of the database gauges serves scrapes
DATABASE_WAIT = 3.0  # seconds a scrape waits for that reading before answering without it
MAX_OPERATIONS = 200  # distinct operation names labelled per process; the rest are OTHER
OTHER = "_other"
_OPERATION = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_DIGITS = re.compile(r"\d{6}")  # a name carrying an IIN or a phone number is not repeated

PROCESS = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=PROCESS)
PlatformCollector(registry=PROCESS)
GCCollector(registry=PROCESS)

REQUEST_SECONDS = Histogram(
    "kezek_request_duration_seconds",
    "POST and GET /graphql requests served, by GraphQL operation name (_other: absent or not labelled)",
    ["operation"],
    registry=PROCESS,
)
ERRORS = Counter(
    "kezek_errors",
    "Errors answered, by extensions.code (INTERNAL: a fault; INVALID_DOCUMENT: an uncoded validation error) "
    "and where: top_level (the errors array) or payload (a mutation's UserError)",
    ["code", "where"],
    registry=PROCESS,
)
ALLOCATION_SECONDS = Histogram(
    "kezek_allocation_duration_seconds",
    "Allocations by step: fill (in the change's transaction), run (right after its commit), dispatch "
    "(groups left queued, by a dispatcher)",
    ["step"],
    registry=PROCESS,
)
INTAKE_SECONDS = Histogram(
    "kezek_intake_duration_seconds",
    "Intake runs by step: draft (createIntakeRun), publish (publishIntakeRun)",
    ["step"],
    registry=PROCESS,
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)


class Observer:
    """Records what the domain (domain/ports.py Observer), the GraphQL layer (graph/context.py Observer) and
    the HTTP endpoint report."""

    def __init__(self) -> None:
        self._operations: set[str] = set()

    def operation(self, name: str | None) -> str:
        """The label of an operation name: the name itself while the set of names stays bounded."""
        if name is None or not _OPERATION.fullmatch(name) or _DIGITS.search(name):
            return OTHER
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATIONS:
                return OTHER
            self._operations.add(name)
        return name

    def request(self, operation: str | None, seconds: float) -> None:
        REQUEST_SECONDS.labels(self.operation(operation)).observe(seconds)

    def error(self, code: str, where: str) -> None:
        ERRORS.labels(code, where).inc()

    @contextlib.contextmanager
    def allocation(self, step: str) -> Iterator[None]:
        with _timed(ALLOCATION_SECONDS.labels(step)):
            yield

    @contextlib.contextmanager
    def intake(self, step: str) -> Iterator[None]:
        with _timed(INTAKE_SECONDS.labels(step)):
            yield


@contextlib.contextmanager
def _timed(histogram: Histogram) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


OBSERVER = Observer()


class Scraped(Collector):
    """The gauges of one app, read when /metrics is scraped."""

    def __init__(
        self, engine: AsyncEngine, pools: Pools | None, broker: Broker, hub: Hub, admission: Admission
    ) -> None:
        self.engine = engine
        self.admission = admission
        self.pools = pools
        self.broker = broker
        self.hub = hub
        self.ttl = DATABASE_TTL
        self._database: DatabaseGauges | None = None
        self._read_at: float | None = None
        self._reading: asyncio.Task[DatabaseGauges] | None = None

    async def refresh(self) -> None:
        """Reads the database gauges unless a reading younger than `ttl` stands; scrapes that arrive while one
        scrape reads wait for its reading."""
        now = time.monotonic()
        if self._reading is None and (self._read_at is None or now - self._read_at >= self.ttl):
            self._reading = asyncio.create_task(read_gauges(self.engine))
            self._read_at = now
        reading = self._reading
        if reading is None:
            return
        try:
            self._database = await asyncio.wait_for(asyncio.shield(reading), DATABASE_WAIT)
        except Exception as exc:  # the scrape still answers, with kezek_database_up 0
            log.warning("metrics: the database gauges could not be read: %s", exc)
            self._database = None
        finally:
            if reading.done() and self._reading is reading:
                self._reading = None
                if not reading.cancelled():
                    reading.exception()  # retrieved: a failed reading is reported once, above

    def collect(self) -> Iterable[Metric]:
        yield from self._subscriptions()
        yield from self._admission()
        yield from self._pools()
        database = self._database
        up = GaugeMetricFamily("kezek_database_up", "1 when the last reading of the database gauges succeeded")
        up.add_metric([], 1 if database is not None else 0)
        yield up
        if database is None:
            return
        yield _gauge("kezek_outbox_unsent", "SMS messages not sent yet", database.outbox_unsent)
        yield _gauge(
            "kezek_outbox_unsent_retrying", "Unsent SMS messages whose last attempt failed", database.outbox_retrying
        )
        yield _gauge(
            "kezek_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unsent SMS message (0 when none)",
            database.outbox_oldest_seconds,
        )
        offers = GaugeMetricFamily("kezek_offers", "Live seat offers by status", labels=["status"])
        for status, count in sorted(database.offers.items()):
            offers.add_metric([status], count)
        yield offers
        yield _gauge("kezek_offers_overdue", "Live offers past their deadline, not lapsed yet", database.offers_overdue)
        yield _gauge("kezek_allocation_queue_groups", "Groups queued for allocation", database.allocation_queued)
        yield _gauge(
            "kezek_allocation_queue_overdue_seconds",
            "How long past due the longest-waiting queued group is (0 when none)",
            database.allocation_overdue_seconds,
        )

    def _admission(self) -> Iterable[Metric]:
        yield _gauge("kezek_mutations_running", "Mutations running their use case now", self.admission.running)
        yield _gauge(
            "kezek_mutations_waiting",
            "Mutations waiting for their turn (graph/admission.py: at most kezek_mutations_limit at once)",
            self.admission.waiting,
        )
        yield _gauge("kezek_mutations_limit", "Mutations this process runs at once", self.admission.limit)

    def _subscriptions(self) -> Iterable[Metric]:
        yield _gauge(
            "kezek_broker_subscribers", "Live subscriptions the broker feeds events to", self.broker.subscriber_count
        )
        yield _gauge(
            "kezek_subscription_executions", "Subscription executions running (shared or not)", self.hub.running
        )
        yield _gauge(
            "kezek_subscription_members", "Subscribers of those executions (one per subscription)", self.hub.members
        )

    def _pools(self) -> Iterable[Metric]:
        usage = dict(self.pools.usage()) if self.pools is not None else {}
        engine = engine_pool_usage(self.engine)
        if engine is not None:
            usage["engine"] = engine
        families = [
            GaugeMetricFamily("kezek_db_pool_connections", "Open database connections by pool", labels=["pool"]),
            GaugeMetricFamily("kezek_db_pool_in_use", "Database connections in use by pool", labels=["pool"]),
            GaugeMetricFamily("kezek_db_pool_max", "The most connections a pool opens", labels=["pool"]),
        ]
        for pool, figures in sorted(usage.items()):
            for family, value in zip(families, figures, strict=True):
                family.add_metric([pool], value)
        yield from families


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class MetricsEndpoint:
    """GET /metrics (`endpoint`); with a token configured (KEZEK_METRICS_TOKEN), only for
    `Authorization: Bearer <token>`."""

    def __init__(
        self,
        engine: AsyncEngine,
        pools: Pools | None,
        broker: Broker,
        hub: Hub,
        admission: Admission,
        token: str | None,
    ) -> None:
        self.scraped = Scraped(engine, pools, broker, hub, admission)
        self._token = token
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(PROCESS)
        self._registry.register(self.scraped)

    async def endpoint(self, request: Request) -> Response:
        given = request.headers.get("authorization", "")
        if self._token and not hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode()):
            return PlainTextResponse("send the metrics token\n", 401, headers={"WWW-Authenticate": "Bearer"})
        await self.scraped.refresh()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(self._registry), headers={"Content-Type": content_type})


__all__ = ["OBSERVER", "MetricsEndpoint", "Observer"]
