"""Remembered mutation results, keyed by (channel, subject, mutation, key) — docs/api.md §3.

A key is claimed atomically before the mutation runs (an INSERT that only one caller wins), so two
concurrent retries cannot both run the mutation; the payload is stored when it finishes. Keys live
24 hours.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

TTL = "24 hours"


class IdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, channel: str, subject: str, mutation: str, key: str, input_hash: str) -> bool:
        """True when this call owns the key now (new, or the old one had expired)."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    text(
                        f"""INSERT INTO idempotency_keys (channel, subject, mutation, key, input_hash, payload)
                        VALUES (:c, :s, :m, :k, :h, NULL)
                        ON CONFLICT (channel, subject, mutation, key) DO UPDATE
                            SET input_hash = EXCLUDED.input_hash, payload = NULL, created_at = now()
                            WHERE idempotency_keys.created_at <= now() - interval '{TTL}'
                        RETURNING 1"""
                    ),
                    {"c": channel, "s": subject, "m": mutation, "k": key, "h": input_hash},
                )
            ).first()
        return row is not None

    async def find(self, channel: str, subject: str, mutation: str, key: str) -> tuple[str, Any] | None:
        """(input hash, payload or None while the first call still runs)."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        """SELECT input_hash, payload FROM idempotency_keys
                        WHERE channel = :c AND subject = :s AND mutation = :m AND key = :k"""
                    ),
                    {"c": channel, "s": subject, "m": mutation, "k": key},
                )
            ).first()
        if row is None:
            return None
        payload = row.payload
        return row.input_hash, json.loads(payload) if isinstance(payload, str) else payload

    async def complete(self, channel: str, subject: str, mutation: str, key: str, payload: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                text(
                    """UPDATE idempotency_keys SET payload = CAST(:p AS jsonb)
                    WHERE channel = :c AND subject = :s AND mutation = :m AND key = :k"""
                ),
                {"c": channel, "s": subject, "m": mutation, "k": key, "p": json.dumps(payload)},
            )

    async def release(self, channel: str, subject: str, mutation: str, key: str) -> None:
        """Forgets a claimed key whose call must not be remembered (a registry was unavailable)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                text(
                    """DELETE FROM idempotency_keys
                    WHERE channel = :c AND subject = :s AND mutation = :m AND key = :k AND payload IS NULL"""
                ),
                {"c": channel, "s": subject, "m": mutation, "k": key},
            )
