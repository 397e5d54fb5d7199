"""Fan-out of feed events to this process's subscriptions.

PostgreSQL LISTEN/NOTIFY only wakes the broker (the payload carries nothing); the broker sequences what was
committed (persistence/feed.py) and reads the `events` table in position order, so every process sees every
event once, whichever process wrote it. The
listener reconnects with back-off and catches up from the last id it delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from persistence.feed import FeedStore, StoredEvent, listen

log = logging.getLogger("kezek.broker")
QUEUE_SIZE = 256
SAFETY_POLL = 2.0  # seconds: a lost notification costs at most this much delay
# Seconds between two sequencing passes of this process. A pass is a transaction of its own (with a commit to
# wait for): under a steady stream of writes one pass every 25 ms takes every event of that time at once,
# where a pass per notification cost a transaction per write. An event after a quiet spell goes at once.
SEQUENCE_GAP = 0.025
T = TypeVar("T")


class Subscriber:
    def __init__(self, accept: Callable[[StoredEvent], bool], since: int = 0) -> None:
        self.accept = accept
        self.since = since  # events up to this id were delivered before it registered: it gets later ones only
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.overflowed = False


class EventMemo:
    """What subscriptions derive from one event (its kindergarten and group), read once for all of them: an
    event reaches every subscription that is not shared (graph/shared.py) at about the same time. Entries are
    kept for a few seconds, so a replay long after reads the current state, as a live subscription does."""

    def __init__(self, size: int = 128, ttl: float = 5.0) -> None:
        self._size = size
        self._ttl = ttl
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Future[Any]]] = OrderedDict()

    async def get(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or now - entry[0] > self._ttl or _failed(entry[1]):
            task: asyncio.Future[Any] = asyncio.ensure_future(make())
            # A failure is retrieved here too, so that one nobody awaited any more is not reported as lost.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            entry = (now, task)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        # Shielded: a subscriber that goes away does not cancel the read the others wait for.
        result: T = await asyncio.shield(entry[1])
        return result


def _failed(future: asyncio.Future[Any]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


class Broker:
    def __init__(self, store: FeedStore, database_url: str) -> None:
        self._store = store
        self._url = database_url
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._sequenced_at = 0.0  # time.monotonic() of the last sequencing pass
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self.last_id = 0
        self._needs_start = False
        self.memo = EventMemo()

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
        sub = Subscriber(accept, self.last_id)
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
                wait = self._sequenced_at + SEQUENCE_GAP - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._wake.clear()
                await self._deliver()
                self._sequenced_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: reconnect with back-off, lose nothing
                log.warning("feed listener lost its connection; reconnecting in %.1fs", backoff)
                await self._close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _deliver(self) -> None:
        # Writers' events get their positions (persistence/feed.py); a subscriber registered from here on is given
        # the old cursor, and gets every event after it.
        head = (await self._store.sequence()).head
        if not self._subscribers:
            # Nobody to deliver to: the cursor moves to the feed's head without reading the events (a summer
            # intake's publication writes thousands at once, and reading them took the process's event loop from
            # the requests it serves).
            self.last_id = max(self.last_id, head)
            return
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
