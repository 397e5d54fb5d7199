"""The service's process for the domain's CPU-heavy pure steps (decision 101, domain/ports.py `Offload`): the
summer intake's parsing, matching, checking and results of a region run there, beside the event loop that
serves every other request of this process, on another core when there is one.

One process, started by the first step (a process that never drafts a run never starts it) and spawned, not
forked from a process that holds connections, threads and an event loop; steps wait their turn in it. Only
the step's argument (the inputs as stored, one string) and its result (the placements and the run's results)
cross: the inputs themselves are parsed there. A worker that died (killed, out of memory) is replaced once.

A step builds hundreds of thousands of small objects that form no cycles, so the cyclic collector, whose
passes it would otherwise trigger again and again (two thirds of the parsing's time), is paused while it runs."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

A = TypeVar("A")
T = TypeVar("T")


class WorkerProcess:
    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, step: Callable[[A], T], arg: A, /) -> T:
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            if self._pool is None:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            pool = self._pool
            try:
                return await loop.run_in_executor(pool, _collector_paused, step, arg)
            except BrokenProcessPool:
                if self._pool is pool:
                    self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


def _collector_paused(step: Callable[[A], T], arg: A) -> T:
    """`step(arg)` in the worker, the cyclic collector paused while it runs."""
    gc.disable()
    try:
        return step(arg)
    finally:
        gc.enable()
