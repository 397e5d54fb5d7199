"""The append-only records a change writes in its own transaction: audit, outbox, queue events and the
subscription feed. They are gathered while the use case runs and written just before it commits."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg

from domain.feed import FeedEvent
from domain.model import Actor, AuditRecord, OutboxMessage
from domain.repositories import QueueEvent
from persistence.pg import Pools
from persistence.repositories.base import Repository
from persistence.sql import ORDER_COLUMNS

FEED_CHANNEL = "kezek_events"
_ORDER_VALUES = ", ".join(":" + c for c in ORDER_COLUMNS)


class SqlJournal(Repository):
    def __init__(self, conn: asyncpg.Connection, pools: Pools) -> None:
        super().__init__(conn, pools)
        self._audit: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._queue: list[dict[str, Any]] = []
        self._feed: list[dict[str, Any]] = []
        self._allocate: dict[int, dt.datetime] = {}

    def audit(self, actor: Actor, record: AuditRecord, at: dt.datetime) -> None:
        self._audit.append(
            {
                "at": at,
                "role": actor.role.value if actor.role else "system",
                "subject": actor.subject,
                "channel": actor.channel,
                "et": record.entity_type,
                "eid": record.entity_id,
                "action": record.action,
                "before": json.dumps(record.before) if record.before is not None else None,
                "after": json.dumps(record.after) if record.after is not None else None,
                "reason": record.reason,
                "app": record.application_id,
            }
        )

    def message(self, message: OutboxMessage, at: dt.datetime) -> None:
        self._outbox.append(
            {
                "mid": str(uuid.uuid4()),
                "at": at,
                "to": message.phone,
                "text": message.text,
                "lang": message.language.value,
                "kind": message.kind,
                "app": message.application_id,
            }
        )

    def queue_events(self, application_id: int, events: list[QueueEvent], at: dt.datetime) -> None:
        assert all(e.order.application_id == application_id for e in events)
        self._queue += [
            {
                "at": at,
                "kg": e.queue.kindergarten_id,
                "by": e.queue.birth_year,
                "lang": e.queue.language.value,
                "gt": e.queue.group_type.value,
                **{c: getattr(e.order, c) for c in ORDER_COLUMNS},
                "delta": e.delta,
                "own": e.own_delta,
                "reason": e.reason,
            }
            for e in events
        ]

    def publish(self, event: FeedEvent, at: dt.datetime) -> None:
        self._feed.append(
            {
                "at": at,
                "stream": event.stream.value,
                "kind": event.kind.value,
                "kg": event.kindergarten_id,
                "g": event.group_id,
                "free": event.free_seats,
                "offer": event.offer_id,
                "app": event.application_id,
                "child": event.child_iin,
            }
        )

    def allocate(self, group_ids: list[int], due_at: dt.datetime) -> None:
        for g in group_ids:
            self._allocate.setdefault(g, due_at)

    async def write(self) -> None:
        """Writes what was gathered; called by the unit of work right before it commits."""
        if self._audit:
            await self._execute(
                """INSERT INTO audit_log (at, actor_role, actor_subject, channel, entity_type, entity_id, action,
                    before, after, reason, application_id)
                VALUES (:at, :role, :subject, :channel, :et, :eid, :action, CAST(:before AS jsonb),
                    CAST(:after AS jsonb), :reason, :app)""",
                self._audit,
            )
        if self._outbox:
            await self._execute(
                """INSERT INTO outbox (message_id, created_at, recipient, text, language, kind, application_id,
                    next_attempt_at) VALUES (:mid, :at, :to, :text, :lang, :kind, :app, :at)""",
                self._outbox,
            )
        if self._queue:
            await self._execute(
                f"""INSERT INTO queue_events (at, kindergarten_id, birth_year, language, group_type,
                    {", ".join(ORDER_COLUMNS)}, delta, own_delta, reason)
                VALUES (:at, :kg, :by, :lang, :gt, {_ORDER_VALUES}, :delta, :own, :reason)""",
                self._queue,
            )
        if self._feed:
            await self._execute(
                """INSERT INTO events (at, stream, kind, kindergarten_id, group_id, free_seats, region_code,
                    district_code, offer_id, application_id, child_iin)
                SELECT :at, :stream, :kind, :kg, :g, :free, d.region_code, k.district_code, :offer, :app, :child
                FROM (SELECT 1) x LEFT JOIN kindergartens k ON k.id = :kg
                    LEFT JOIN districts d ON d.code = k.district_code""",
                self._feed,
            )
            # Delivered at commit: every process's listener wakes and reads the new rows.
            await self._execute(f"SELECT pg_notify('{FEED_CHANNEL}', '')")
        if self._allocate:
            await self._execute(
                """INSERT INTO allocation_queue (group_id, due_at) VALUES (:g, :due)
                ON CONFLICT (group_id) DO UPDATE SET due_at = LEAST(allocation_queue.due_at, EXCLUDED.due_at)""",
                [{"g": g, "due": due} for g, due in sorted(self._allocate.items())],
            )
        self._audit, self._outbox, self._queue, self._feed = [], [], [], []
        self._allocate = {}
