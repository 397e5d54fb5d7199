"""Outbox dispatch: claim due messages with SKIP LOCKED, send, mark; failures back off."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import Language
from domain.ports import SmsGateway


@dataclass(frozen=True, slots=True)
class DispatchResult:
    sent: int
    failed: int


async def dispatch_outbox(engine: AsyncEngine, gateway: SmsGateway, limit: int = 50) -> DispatchResult:
    """Each message is sent at most once per claim: its row stays locked while it is sent and marked.

    A process killed between the send and the commit re-sends after restart with the same message id,
    which the gateway uses to drop the duplicate (docs/api.md §2).
    """
    sent = failed = 0
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    """SELECT id, message_id, recipient, text, language, attempts FROM outbox
                    WHERE sent_at IS NULL AND next_attempt_at <= now()
                    ORDER BY next_attempt_at, id LIMIT :n FOR UPDATE SKIP LOCKED"""
                ),
                {"n": limit},
            )
        ).all()
        for row in rows:
            try:
                await gateway.send(row.message_id, row.recipient, row.text, Language(row.language))
            except Exception as exc:  # the gateway's failure is recorded and retried, never lost
                backoff = min(dt.timedelta(seconds=5 * 2 ** min(row.attempts, 10)), dt.timedelta(hours=1))
                await conn.execute(
                    text(
                        """UPDATE outbox SET attempts = attempts + 1, last_error = :e,
                            next_attempt_at = now() + CAST(:b AS interval) WHERE id = :i"""
                    ),
                    {"e": type(exc).__name__, "b": backoff, "i": row.id},
                )
                failed += 1
            else:
                await conn.execute(
                    text("UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = :i"),
                    {"i": row.id},
                )
                sent += 1
        await conn.commit()
    return DispatchResult(sent, failed)
