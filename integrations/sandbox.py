"""Sandbox adapters of the outside systems, over the tables the sandbox file was imported into."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

from domain.model import CLOSED_CATEGORIES, BenefitFinding, Language, Person, PriorityCategory
from domain.ports import HealthDocument
from persistence.sandbox import SandboxStore


class SandboxPopulationRegistry:
    def __init__(self, store: SandboxStore) -> None:
        self._store = store

    async def person(self, iin: str) -> Person | None:
        return await self._store.person(iin)

    async def representatives(self, child_iin: str) -> list[str]:
        return await self._store.representatives(child_iin)

    async def children(self, iin: str) -> list[str]:
        return await self._store.children(iin)


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
