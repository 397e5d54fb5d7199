"""Sandbox adapters of the outside systems, over the tables the sandbox file was imported into."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from strawberry.dataloader import DataLoader

from domain.model import CLOSED_CATEGORIES, BenefitFinding, Language, Person, PriorityCategory
from domain.ports import HealthDocument
from persistence.sandbox import SandboxStore

T = TypeVar("T")
D = TypeVar("D")


class SandboxPopulationRegistry:
    """The population registry's stand-in. Its questions asked at once — a submission asks about the child and
    each representative together, and so do the other submissions being served — go as one query a kind: the
    sandbox runs on the same PostgreSQL and cores as Kezek, where the real registry's answers cost Kezek nothing
    but the wait, and one query a question made it most of a submission's extra cost (decision 119). Nothing is
    cached: each question gets the tables as they are."""

    def __init__(self, store: SandboxStore) -> None:
        self._store = store
        self._batches: tuple[asyncio.AbstractEventLoop, _Batches] | None = None

    def _batch(self) -> _Batches:
        # A DataLoader keeps the event loop it first ran on; a new loop (a new test's) gets new ones.
        loop = asyncio.get_running_loop()
        if self._batches is None or self._batches[0] is not loop:
            self._batches = (loop, _Batches(self._store))
        return self._batches[1]

    async def person(self, iin: str) -> Person | None:
        return await self._batch().persons.load(iin)

    async def representatives(self, child_iin: str) -> list[str]:
        return await self._batch().representatives.load(child_iin)

    async def children(self, iin: str) -> list[str]:
        return await self._batch().children.load(iin)


class _Batches:
    """One DataLoader a question, without a cache (strawberry's: it batches what is asked in one turn of the
    event loop)."""

    def __init__(self, store: SandboxStore) -> None:
        self.persons: DataLoader[str, Person | None] = _batched(store.persons, None)
        self.representatives: DataLoader[str, list[str]] = _batched(store.representatives, [])
        self.children: DataLoader[str, list[str]] = _batched(store.children, [])


def _batched(fetch: Callable[[list[str]], Awaitable[Mapping[str, T]]], default: D) -> DataLoader[str, T | D]:
    """Many IINs' answers by one `fetch`; an IIN it does not know gets `default`."""

    async def load(iins: list[str]) -> list[T | D]:
        found = await fetch(iins)
        return [found.get(i, default) for i in iins]

    return DataLoader(load, cache=False)


class SandboxBenefitsRegistry:
    def __init__(self, store: SandboxStore) -> None:
        self._store = store

    async def findings(self, iins: list[str]) -> list[BenefitFinding]:
        rows = await self._store.benefits(iins)
        return [
            BenefitFinding(
                subject_iin=r["iin"],
                category=PriorityCategory(r["category"]),
                evidence_id=r["evidence_id"],
                # Military and special-body registries are closed: they only say "check by hand".
                needs_manual_check=PriorityCategory(r["category"]) in CLOSED_CATEGORIES,
            )
            for r in rows
        ]


class SandboxHealthRegistry:
    def __init__(self, store: SandboxStore) -> None:
        self._store = store

    async def documents(self, child_iin: str) -> list[HealthDocument]:
        return [
            HealthDocument(r["kind"], r["document_id"], r["issued_on"]) for r in await self._store.health(child_iin)
        ]


def sandbox_signature(signer_iin: str, document_hash: str) -> str:
    """The one signature the sandbox accepts (docs/api.md §2)."""
    key = ("sandbox-esign:" + signer_iin).encode()
    digest = hmac.new(key, document_hash.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class SandboxESignature:
    async def verify(self, signer_iin: str, document_hash: str, signature: str) -> bool:
        return hmac.compare_digest(sandbox_signature(signer_iin, document_hash), signature)


class SandboxSmsGateway:
    def __init__(self, store: SandboxStore) -> None:
        self._store = store

    async def send(self, message_id: str, to: str, text: str, language: Language) -> None:
        await self._store.record_sms(message_id, to, text, language.value, dt.datetime.now(dt.UTC))
