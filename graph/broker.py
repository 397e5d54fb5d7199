"""Fan-out of feed events to this process's subscriptions.

PostgreSQL LISTEN/NOTIFY only wakes the broker (the payload carries nothing); events are read from the
`events` table in id order, so every process sees every event once, whichever process wrote it. The
listener reconnects with back-off and catches up from the last id it delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from persistence.feed import FeedStore, StoredEvent, listen

log = logging.getLogger("kezek.broker")
QUEUE_SIZE = 256
SAFETY_POLL = 2.0  # seconds: a lost notification costs at most this much delay


class Subscriber:
    def __init__(self, accept: Callable[[StoredEvent], bool]) -> None:
        self.accept = accept
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.overflowed = False


class Broker:
    def __init__(self, store: FeedStore, database_url: str) -> None:
        self._store = store
        self._url = database_url
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self.last_id = 0
        self._needs_start = False

    async def start(self) -> None:
        try:
            self.last_id = await self._store.last_id()
        except Exception:  # an unmigrated database: /readyz says so; the listener retries until it is ready
            log.warning("event feed not readable yet")
            self._needs_start = True
        self._task = asyncio.create_task(self._run(), name="kezek-broker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()
        for sub in list(self._subscribers):
            self._end(sub)

    def subscribe(self, accept: Callable[[StoredEvent], bool]) -> Subscriber:
        sub = Subscriber(accept)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _end(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait(None)

    async def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                if self._needs_start:
                    self.last_id = await self._store.last_id()
                    self._needs_start = False
                if self._conn is None or self._conn.is_closed():
                    self._conn = await listen(self._url, self._wake.set)
                    backoff = 0.5
                    self._wake.set()  # catch up on what was written while disconnected
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=SAFETY_POLL)
                self._wake.clear()
                await self._deliver()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: reconnect with back-off, lose nothing
                log.warning("feed listener lost its connection; reconnecting in %.1fs", backoff)
                await self._close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _deliver(self) -> None:
        while True:
            events = await self._store.after(self.last_id)
            for event in events:
                self.last_id = event.id
                for sub in list(self._subscribers):
                    if not sub.accept(event):
                        continue
                    try:
                        sub.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        # A subscriber that cannot keep up is ended; it resumes with its last cursor.
                        sub.overflowed = True
                        self._end(sub)
            if len(events) < 500:
                return
