"""Remembered mutation results, keyed by (channel, subject, mutation, key) — API.md §3."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class IdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find(self, channel: str, subject: str, mutation: str, key: str) -> tuple[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        """SELECT input_hash, payload FROM idempotency_keys
                        WHERE channel = :c AND subject = :s AND mutation = :m AND key = :k
                          AND created_at > now() - interval '24 hours'"""
                    ),
                    {"c": channel, "s": subject, "m": mutation, "k": key},
                )
            ).first()
        if row is None:
            return None
        payload = row.payload
        return row.input_hash, json.loads(payload) if isinstance(payload, str) else payload

    async def remember(
        self, channel: str, subject: str, mutation: str, key: str, input_hash: str, payload: Any
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                text(
                    """INSERT INTO idempotency_keys (channel, subject, mutation, key, input_hash, payload)
                    VALUES (:c, :s, :m, :k, :h, CAST(:p AS jsonb))
                    ON CONFLICT (channel, subject, mutation, key) DO UPDATE
                        SET input_hash = EXCLUDED.input_hash, payload = EXCLUDED.payload, created_at = now()
                        WHERE idempotency_keys.created_at <= now() - interval '24 hours'"""
                ),
                {
                    "c": channel,
                    "s": subject,
                    "m": mutation,
                    "k": key,
                    "h": input_hash,
                    "p": json.dumps(payload),
                },
            )
