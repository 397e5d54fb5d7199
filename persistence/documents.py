"""Registered operation documents (`kezek documents add FILE`), for channels that accept only those."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def document_sha256(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class TrustedDocuments:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._cache: dict[str, str] = {}

    async def add(self, document: str, name: str | None) -> str:
        digest = document_sha256(document)
        async with self._engine.begin() as conn:
            await conn.execute(
                text(
                    """INSERT INTO trusted_documents (sha256, document, name) VALUES (:h, :d, :n)
                    ON CONFLICT (sha256) DO UPDATE SET name = COALESCE(EXCLUDED.name, trusted_documents.name)"""
                ),
                {"h": digest, "d": document, "n": name},
            )
        return digest

    async def get(self, digest: str) -> str | None:
        """The document registered under this hash; registered documents never change, so they are cached."""
        if digest in self._cache:
            return self._cache[digest]
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(text("SELECT document FROM trusted_documents WHERE sha256 = :h"), {"h": digest})
            ).scalar()
        if found is not None:
            self._cache[digest] = str(found)
        return None if found is None else str(found)
