"""What GET /metrics reads from the database at scrape time (api/metrics.py, docs/operations.md "Metrics"):
one statement of counts over partial indexes and small tables, each bounded by what is pending now (unsent
messages, live offers, queued groups), never by history; and the SQLAlchemy engine's pool."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from domain.model import LIVE_OFFER_STATUSES, OfferStatus
from persistence.sql import LIVE

TIMEOUT = "2s"  # a scrape gives up on a slow database rather than queue behind it
_LIVE_STATUSES = [s for s in OfferStatus if s in LIVE_OFFER_STATUSES]
_LIVE_COUNTS = ",\n    ".join(
    f"(SELECT count(*) FROM offers WHERE status = '{s.value}') AS offers_{s.value.lower()}" for s in _LIVE_STATUSES
)

# Each count runs on an index whose predicate bounds it: outbox_due (unsent), offers_deadline (live offers),
# allocation_queue's primary key (queued groups).
_GAUGES = f"""SELECT
    (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS outbox_unsent,
    (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND attempts > 0) AS outbox_retrying,
    (SELECT greatest(extract(epoch FROM now() - min(created_at)), 0) FROM outbox WHERE sent_at IS NULL)
        AS outbox_oldest_seconds,
    {_LIVE_COUNTS},
    (SELECT count(*) FROM offers WHERE status IN {LIVE} AND respond_by < now()) AS offers_overdue,
    (SELECT count(*) FROM allocation_queue) AS allocation_queued,
    (SELECT greatest(extract(epoch FROM now() - min(due_at)), 0) FROM allocation_queue WHERE due_at < now())
        AS allocation_overdue_seconds"""


@dataclass(frozen=True, slots=True)
class DatabaseGauges:
    outbox_unsent: int
    outbox_retrying: int  # unsent after at least one failed attempt
    outbox_oldest_seconds: float  # age of the oldest unsent message; 0 when none
    offers: dict[str, int]  # live offers by status (PENDING, CONFIRMED: domain/model.py LIVE_OFFER_STATUSES)
    offers_overdue: int  # live offers past their deadline (the worker lapses them)
    allocation_queued: int  # groups queued for allocation
    allocation_overdue_seconds: float  # how long past due the longest-waiting queued group is; 0 when none


async def read_gauges(engine: AsyncEngine) -> DatabaseGauges:
    async with engine.connect() as conn:
        await conn.execute(text(f"SET LOCAL statement_timeout = '{TIMEOUT}'"))
        row = (await conn.execute(text(_GAUGES))).one()
        await conn.rollback()
    return DatabaseGauges(
        outbox_unsent=int(row.outbox_unsent),
        outbox_retrying=int(row.outbox_retrying),
        outbox_oldest_seconds=float(row.outbox_oldest_seconds or 0),
        offers={s.value: int(getattr(row, f"offers_{s.value.lower()}")) for s in _LIVE_STATUSES},
        offers_overdue=int(row.offers_overdue),
        allocation_queued=int(row.allocation_queued),
        allocation_overdue_seconds=float(row.allocation_overdue_seconds or 0),
    )


def engine_pool_usage(engine: AsyncEngine) -> tuple[int, int, int] | None:
    """(connections open, of them in use, the most it opens) of the engine's pool; None for another kind."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    return pool.checkedin() + pool.checkedout(), pool.checkedout(), pool.size() + pool._max_overflow
