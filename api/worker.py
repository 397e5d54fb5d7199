"""Background passes (docs/api.md §4 `kezek worker`): outbox, claim expiry, ageing out, registry re-checks, the
school year's days (departures, scheduled capacities, seats free from the day).

Every pass claims its rows with FOR UPDATE SKIP LOCKED, so any number of workers can run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from api.container import Container
from persistence.outbox import dispatch_outbox

log = logging.getLogger("kezek.worker")


async def run_once(c: Container) -> dict[str, int]:
    done: dict[str, int] = {}
    done["offers_lapsed"] = await c.queue.lapse_offers()
    done["reminders"] = await c.queue.send_reminders()
    done["claims_expired"] = await c.queue.expire_manual_claims()
    done["aged_out"] = await c.queue.age_out()
    done["unrestored_closed"] = await c.queue.close_unrestored()
    done["benefits_rechecked"] = await c.queue.recheck_benefits()
    done.update(await c.queue.school_day())
    done["offers_made"] = await c.queue.allocation_pass()
    done["events_sequenced"] = (await c.feed.sequence()).given
    done["events_pruned"] = await c.feed.prune(c.clock.now())
    # Last, so that messages written by this pass go out in it.
    result = await dispatch_outbox(c.engine, c.sms)
    done["sms_sent"], done["sms_failed"] = result.sent, result.failed
    return done


async def run_forever(c: Container, interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            done = await run_once(c)
            if any(done.values()):
                log.info("worker pass %s", done)
        except Exception:  # one failed pass must not end the loop; the next pass retries
            log.exception("worker pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


DISPATCH_INTERVAL = 0.25  # seconds between looks at the allocation queue when it is idle


async def dispatch_allocations(c: Container, stop: asyncio.Event) -> None:
    """Allocates the groups a change queued that its own request did not finish (a lock conflict, a process
    that died right after its commit): every serving process and the worker run this."""
    while not stop.is_set():
        try:
            await c.queue.drain_allocations()
        except Exception:  # a failed pass must not end the loop; the groups stay queued
            log.exception("allocation dispatch failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=DISPATCH_INTERVAL)
