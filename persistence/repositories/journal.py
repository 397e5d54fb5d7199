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
        """Writes what was gathered, in one statement (one round trip however much the change did); called
        by the unit of work right before it commits."""
        if not (self._audit or self._outbox or self._queue or self._feed or self._allocate):
            return
        allocate = sorted(self._allocate.items())  # in group order: two changes never wait on each other's rows
        params = {
            **_columns("a_", self._audit, AUDIT),
            **_columns("o_", self._outbox, OUTBOX),
            **_columns("q_", self._queue, QUEUE),
            **_columns("e_", self._feed, FEED),
            "g_group": [g for g, _ in allocate],
            "g_due": [due for _, due in allocate],
        }
        await self._execute(_WRITE, params)
        self._audit, self._outbox, self._queue, self._feed = [], [], [], []
        self._allocate = {}


# (parameter, SQL type) of each journal's rows, in the order the statement below reads them.
AUDIT = [
    ("at", "timestamptz"),
    ("role", "text"),
    ("subject", "text"),
    ("channel", "text"),
    ("et", "text"),
    ("eid", "text"),
    ("action", "text"),
    ("before", "text"),
    ("after", "text"),
    ("reason", "text"),
    ("app", "bigint"),
]
OUTBOX = [
    ("mid", "text"),
    ("at", "timestamptz"),
    ("to", "text"),
    ("text", "text"),
    ("lang", "text"),
    ("kind", "text"),
    ("app", "bigint"),
]
QUEUE = [
    ("at", "timestamptz"),
    ("kg", "bigint"),
    ("by", "smallint"),
    ("lang", "text"),
    ("gt", "text"),
    *[(c, t) for c, t in zip(ORDER_COLUMNS, ("smallint", "smallint", "timestamptz", "bigint"), strict=True)],
    ("delta", "smallint"),
    ("own", "integer"),
    ("reason", "text"),
]
FEED = [
    ("at", "timestamptz"),
    ("stream", "text"),
    ("kind", "text"),
    ("kg", "bigint"),
    ("g", "bigint"),
    ("free", "integer"),
    ("offer", "bigint"),
    ("app", "bigint"),
    ("child", "text"),
]


def _columns(prefix: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> dict[str, list[Any]]:
    return {f"{prefix}{name}": [r[name] for r in rows] for name, _ in columns}


def _unnest(prefix: str, columns: list[tuple[str, str]]) -> str:
    arrays = ", ".join(f"CAST(:{prefix}{name} AS {kind}[])" for name, kind in columns)
    names = ", ".join(f'"{name}"' for name, _ in columns)
    return f"unnest({arrays}) WITH ORDINALITY AS u({names}, n)"


_WRITE = f"""
WITH audit AS (
    INSERT INTO audit_log (at, actor_role, actor_subject, channel, entity_type, entity_id, action, before, after,
        reason, application_id)
    SELECT u.at, u.role, u.subject, u.channel, u.et, u.eid, u.action, CAST(u.before AS jsonb),
        CAST(u.after AS jsonb), u.reason, u.app
    FROM {_unnest("a_", AUDIT)} ORDER BY u.n
    RETURNING 1
), outbox AS (
    INSERT INTO outbox (message_id, created_at, recipient, text, language, kind, application_id, next_attempt_at)
    SELECT u.mid, u.at, u."to", u.text, u.lang, u.kind, u.app, u.at FROM {_unnest("o_", OUTBOX)} ORDER BY u.n
    RETURNING 1
), queue AS (
    INSERT INTO queue_events (at, kindergarten_id, birth_year, language, group_type, {", ".join(ORDER_COLUMNS)},
        delta, own_delta, reason)
    SELECT u.at, u.kg, u."by", u.lang, u.gt, {", ".join(f"u.{c}" for c in ORDER_COLUMNS)}, u.delta, u.own, u.reason
    FROM {_unnest("q_", QUEUE)} ORDER BY u.n
    RETURNING 1
), feed AS (
    INSERT INTO events (at, stream, kind, kindergarten_id, group_id, free_seats, region_code, district_code,
        offer_id, application_id, child_iin)
    SELECT u.at, u.stream, u.kind, u.kg, u.g, u.free, d.region_code, k.district_code, u.offer, u.app, u.child
    FROM {_unnest("e_", FEED)}
    LEFT JOIN kindergartens k ON k.id = u.kg LEFT JOIN districts d ON d.code = k.district_code
    ORDER BY u.n
    RETURNING 1
), queued AS (
    INSERT INTO allocation_queue (group_id, due_at)
    SELECT * FROM unnest(CAST(:g_group AS bigint[]), CAST(:g_due AS timestamptz[]))
    ON CONFLICT (group_id) DO UPDATE SET due_at = LEAST(allocation_queue.due_at, EXCLUDED.due_at)
    RETURNING 1
)
-- Delivered at commit: every process's listener wakes, sequences and reads the new events.
SELECT pg_notify('{FEED_CHANNEL}', '') WHERE cardinality(CAST(:e_at AS timestamptz[])) > 0"""
