"""The feed broker: NOTIFY wakes it (no waiting for the safety poll), it reconnects after losing its
connection and misses nothing, a subscriber that cannot keep up is ended, and with nobody subscribed it reads
no events.

The safety poll is set to an hour, so an event that arrives can only have been brought by a NOTIFY or by the
broker's own reaction to a lost connection; every wait below is bounded only so that a broken broker fails the
test instead of hanging it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from graph import broker as broker_module
from graph.broker import Broker, Subscriber
from persistence.db import make_engine, raw_connect
from persistence.feed import FeedStore, Sequenced, StoredEvent
from persistence.pg import Pools

BOUND = 30.0  # seconds: only a broken broker takes this long


class WatchedStore(FeedStore):
    """The feed store, telling when the broker read the feed and found it drained: it then goes back to
    waiting for a wake-up (there is no await between that read and the wait). With nobody subscribed the broker
    only sequences the feed, which then tells the same."""

    def __init__(self, engine: AsyncEngine, pools: Pools) -> None:
        super().__init__(engine, pools)
        self.drained = asyncio.Event()
        self.broker: Broker | None = None  # the broker reading it: whether anybody is subscribed
        self.reads = 0

    async def after(self, last_id: int, limit: int = 500) -> list[StoredEvent]:
        events = await super().after(last_id, limit)
        self.reads += 1
        if len(events) < limit:
            self.drained.set()
        return events

    async def sequence(self) -> Sequenced:
        sequenced = await super().sequence()
        if self.broker is not None and not self.broker.subscriber_count:
            self.drained.set()
        return sequenced


async def _insert(db_url: str, kind: str, *, notify: bool = True) -> int:
    conn = await raw_connect(db_url)
    try:
        event_id = int(
            await conn.fetchval(
                "INSERT INTO events (at, stream, kind, group_id) VALUES (now(), 'vacancy', $1, 1) RETURNING id", kind
            )
        )
        if notify:
            await conn.execute("NOTIFY kezek_events")
    finally:
        await conn.close()
    return event_id


async def _next(sub: Subscriber) -> StoredEvent:
    event = await asyncio.wait_for(sub.queue.get(), BOUND)
    assert event is not None, "the subscription was ended"
    return event


async def _listeners(db_url: str) -> list[int]:
    conn = await raw_connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


@pytest.fixture
async def broker(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Broker, WatchedStore]]:
    monkeypatch.setattr(broker_module, "SAFETY_POLL", 3600.0)
    engine, pools = make_engine(db_url, pool_size=2), Pools(db_url, size=2)
    store = WatchedStore(engine, pools)
    b = Broker(store, db_url)
    store.broker = b
    await b.start()
    try:
        # The first read happens once the listener is connected (it catches up on connecting).
        await asyncio.wait_for(store.drained.wait(), BOUND)
        yield b, store
    finally:
        await b.stop()
        await pools.close()
        await engine.dispose()


async def test_notify_wakes_the_waiting_broker(db_url: str, broker: tuple[Broker, WatchedStore]) -> None:
    b, _ = broker
    sub = b.subscribe(lambda e: e.stream == "vacancy")
    published = await _insert(db_url, "SEAT_FREED")
    first = await _next(sub)
    assert (first.id, first.kind) == (published, "SEAT_FREED")
    # Events in commit order, each once.
    ids = [await _insert(db_url, f"E{n}") for n in range(3)]
    assert [(await _next(sub)).id for _ in ids] == ids
    assert sub.queue.empty()


async def test_a_lost_listener_connection_is_replaced_and_nothing_is_missed(
    db_url: str, broker: tuple[Broker, WatchedStore]
) -> None:
    b, _ = broker
    sub = b.subscribe(lambda e: e.stream == "vacancy")
    [old] = await _listeners(db_url)
    # Written with no NOTIFY at all: only the broker's reaction to losing its connection can bring it.
    quiet = await _insert(db_url, "QUIET", notify=False)
    conn = await raw_connect(db_url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1, 30000)", old)  # waits until it is gone
    finally:
        await conn.close()
    caught_up = await _next(sub)
    assert (caught_up.id, caught_up.kind) == (quiet, "QUIET")
    # Then it listens again on a new connection: a NOTIFY wakes it as before.
    loud = await _insert(db_url, "LEFT")
    again = await _next(sub)
    assert (again.id, again.kind) == (loud, "LEFT")
    live = await _insert(db_url, "LIVE")
    assert (await _next(sub)).id == live
    listeners = await _listeners(db_url)
    assert len(listeners) == 1 and old not in listeners


async def test_a_subscriber_that_stops_reading_is_ended_and_the_broker_goes_on(
    db_url: str, broker: tuple[Broker, WatchedStore]
) -> None:
    b, store = broker
    slow = b.subscribe(lambda e: True)
    steady = b.subscribe(lambda e: e.kind == "LAST")
    store.drained.clear()
    last = 0
    for n in range(broker_module.QUEUE_SIZE + 5):
        last = await _insert(db_url, f"E{n}", notify=False)
    marker = await _insert(db_url, "LAST")
    # The marker is the last event written: once the steady subscriber has it, the broker has handed out
    # every event before it, and the slow subscriber's queue overflowed on the way.
    assert (await _next(steady)).id == marker > last
    assert slow.overflowed
    assert b.subscriber_count == 1
    assert slow.queue.qsize() == broker_module.QUEUE_SIZE
    # A fresh subscriber after that hears only what comes next.
    fresh = b.subscribe(lambda e: e.kind == "AFTER")
    after = await _insert(db_url, "AFTER")
    assert (await _next(fresh)).id == after
    assert fresh.queue.empty()


async def test_with_nobody_subscribed_no_event_is_read_and_a_later_subscriber_misses_none(
    db_url: str, broker: tuple[Broker, WatchedStore]
) -> None:
    """A publication writes thousands of events at once: a process with no subscription only moves its cursor."""
    b, store = broker
    reads = store.reads
    store.drained.clear()
    written = [await _insert(db_url, f"E{n}") for n in range(3)]
    await asyncio.wait_for(store.drained.wait(), BOUND)
    while b.last_id < written[-1]:  # a NOTIFY per event: the last one may take another pass
        store.drained.clear()
        await asyncio.wait_for(store.drained.wait(), BOUND)
    assert store.reads == reads, "the events were read with nobody to deliver them to"
    sub = b.subscribe(lambda e: e.stream == "vacancy")
    assert sub.since == written[-1]  # the earlier ones are the subscription's own replay (after its cursor)
    later = await _insert(db_url, "LATER")
    assert (await _next(sub)).id == later
