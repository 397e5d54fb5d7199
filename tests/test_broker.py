"""The feed broker: NOTIFY wakes it (no waiting for the safety poll), it reconnects after losing its
connection and misses nothing, and a subscriber that cannot keep up is ended."""

from __future__ import annotations

import asyncio
import time

from graph import broker as broker_module
from graph.broker import Broker
from persistence.db import make_engine, raw_connect
from persistence.feed import FeedStore


async def _publish(db_url: str, kind: str) -> None:
    conn = await raw_connect(db_url)
    try:
        await conn.execute("INSERT INTO events (at, stream, kind, group_id) VALUES (now(), 'vacancy', $1, 1)", kind)
        await conn.execute("NOTIFY kezek_events")
    finally:
        await conn.close()


async def test_notify_wakes_reconnects_and_bounds(db_url: str) -> None:
    broker_module.SAFETY_POLL = 30.0  # a delivery within a second can then only come from NOTIFY
    engine = make_engine(db_url, pool_size=2)
    broker = Broker(FeedStore(engine), db_url)
    await broker.start()
    try:
        sub = broker.subscribe(lambda e: e.stream == "vacancy")
        await asyncio.sleep(0.3)  # the listener connects
        started = time.monotonic()
        await _publish(db_url, "SEAT_FREED")
        first = await asyncio.wait_for(sub.queue.get(), 1.0)
        assert first is not None and first.kind == "SEAT_FREED"
        assert time.monotonic() - started < 1.0

        # Kill the listener's connection: the broker reconnects and catches up on what it missed.
        conn = await raw_connect(db_url)
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
            )
        finally:
            await conn.close()
        assert killed >= 1
        await _publish(db_url, "LEFT")
        second = await asyncio.wait_for(sub.queue.get(), 5.0)
        assert second is not None and second.kind == "LEFT" and second.id > first.id

        # A subscriber that stops reading is ended once its queue is full; the broker goes on.
        broker.unsubscribe(sub)
        slow = broker.subscribe(lambda e: True)
        for n in range(broker_module.QUEUE_SIZE + 5):
            await _publish(db_url, f"E{n}")
        deadline = time.monotonic() + 10
        while not slow.overflowed and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert slow.overflowed and broker.subscriber_count == 0
        fresh = broker.subscribe(lambda e: e.kind == "AFTER")
        await _publish(db_url, "AFTER")
        after = await asyncio.wait_for(fresh.queue.get(), 5.0)
        assert after is not None and after.kind == "AFTER"
    finally:
        broker_module.SAFETY_POLL = 2.0
        await broker.stop()
        await engine.dispose()
