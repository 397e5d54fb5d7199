"""Write admission: at most `limit` mutations of one serving process run their use case at once; the others
wait their turn, first come first served (decision 112).

Why: a process is one event loop. When eight operators raise capacities at once (the wave, docs/quality.md
§3), every in-flight mutation has a step ready after each of its dozen SQL round trips, and a parent's status
query, which needs a dozen steps of its own, waits behind all of them at every step. With four mutations at a
time its p99 during the wave fell by about 40%, and the mutations lost nothing: the process's CPU is what bounds
them, and four keep it busy. A mutation's time spent waiting here is in its own latency, never an error.

asyncio.Semaphore wakes its waiters in order; this wraps it only to count who runs and who waits, for
/metrics (asyncio exposes neither).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Admission:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one mutation must be able to run")
        self.limit = limit
        self.running = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Inside: this mutation's turn. A caller cancelled while it waits leaves no slot taken."""
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()
