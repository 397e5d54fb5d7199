"""Offers, their contracts and the enrolments they end in (docs/product.md §4)."""

from __future__ import annotations

import datetime as dt
import json

from domain.model import Contract, Enrollment, Offer, PriorityTier
from persistence.repositories.base import Repository
from persistence.rows import contract_from, enrollment_from, offer_from
from persistence.sql import LIVE


class SqlOfferRepository(Repository):
    async def add(self, offer: Offer) -> int:
        o = offer
        return await self._new_id(
            """INSERT INTO offers (application_id, child_iin, kindergarten_id, group_id, status, tier_rank, upgrade,
                sibling_group_id, created_at, respond_by, remind_at)
            VALUES (:app, :child, :kg, :g, :s, :t, :u, :sg, :at, :by, :remind) RETURNING id""",
            app=o.application_id,
            child=o.child_iin,
            kg=o.kindergarten_id,
            g=o.group_id,
            s=o.status.value,
            t=o.tier.rank,
            u=o.upgrade,
            sg=o.sibling_group_id,
            at=o.created_at,
            by=o.respond_by,
            remind=o.remind_at,
        )

    async def get(self, offer_id: int, *, for_update: bool = False) -> Offer | None:
        row = await self._one(f"SELECT * FROM offers WHERE id = :i{self.lock(for_update)}", i=offer_id)
        return offer_from(row) if row else None

    async def live_for(self, application_id: int, *, for_update: bool = False) -> Offer | None:
        row = await self._one(
            f"SELECT * FROM offers WHERE application_id = :a AND status IN {LIVE}{self.lock(for_update)}",
            a=application_id,
        )
        return offer_from(row) if row else None

    async def try_lock(self, offer_id: int) -> bool:
        return await self._one("SELECT 1 FROM offers WHERE id = :i FOR UPDATE SKIP LOCKED", i=offer_id) is not None

    async def live_of_sibling_group(self, sibling_group_id: int) -> list[Offer]:
        rows = await self._rows(
            f"SELECT * FROM offers WHERE sibling_group_id = :sg AND status IN {LIVE} ORDER BY id FOR UPDATE",
            sg=sibling_group_id,
        )
        return [offer_from(r) for r in rows]

    async def live_above_tier(self, application_id: int, tier: PriorityTier) -> list[Offer]:
        rows = await self._rows(
            f"SELECT * FROM offers WHERE application_id = :a AND status IN {LIVE} AND tier_rank < :t FOR UPDATE",
            a=application_id,
            t=tier.rank,
        )
        return [offer_from(r) for r in rows]

    async def save(self, offer: Offer, at: dt.datetime) -> None:
        await self._execute(
            f"""UPDATE offers SET status = :s, respond_by = :by, remind_at = :remind,
                reminded_at = CASE WHEN :reset THEN NULL ELSE reminded_at END,
                decided_at = CASE WHEN :s IN {LIVE} THEN decided_at ELSE :at END
            WHERE id = :i""",
            {
                "s": offer.status.value,
                "by": offer.respond_by,
                "remind": offer.remind_at,
                "reset": offer.live,
                "at": at,
                "i": offer.id,
            },
        )

    async def due(self, now: dt.datetime, limit: int) -> list[int]:
        return await self._ids(
            f"""SELECT id FROM offers WHERE status IN {LIVE} AND respond_by < :now
            ORDER BY respond_by LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )

    async def due_reminders(self, now: dt.datetime, limit: int) -> list[int]:
        return await self._ids(
            f"""SELECT id FROM offers WHERE status IN {LIVE} AND reminded_at IS NULL AND remind_at <= :now
              AND respond_by >= :now
            ORDER BY remind_at LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )

    async def mark_reminded(self, offer_id: int, at: dt.datetime) -> None:
        await self._execute("UPDATE offers SET reminded_at = :at WHERE id = :i", {"at": at, "i": offer_id})

    # --- contracts ------------------------------------------------------------------------------

    async def add_contract(self, c: Contract) -> int:
        return await self._new_id(
            """INSERT INTO contracts (offer_id, text, document_hash, language, issued_at, sign_by, extended,
                health_documents, missing_documents)
            VALUES (:o, :t, :h, :l, :at, :by, false, CAST(:docs AS jsonb), CAST(:missing AS jsonb)) RETURNING id""",
            o=c.offer_id,
            t=c.text,
            h=c.document_hash,
            l=c.language.value,
            at=c.issued_at,
            by=c.sign_by,
            docs=json.dumps(
                [
                    {"kind": d.kind, "documentId": d.document_id, "issuedOn": d.issued_on.isoformat()}
                    for d in c.health_documents
                ]
            ),
            missing=json.dumps(c.missing_documents),
        )

    async def contract_for_offer(self, offer_id: int) -> Contract | None:
        row = await self._one("SELECT * FROM contracts WHERE offer_id = :o", o=offer_id)
        return contract_from(row) if row else None

    async def contract(self, contract_id: int) -> Contract | None:
        row = await self._one("SELECT * FROM contracts WHERE id = :i", i=contract_id)
        return contract_from(row) if row else None

    async def save_contract(self, c: Contract) -> None:
        await self._execute(
            "UPDATE contracts SET sign_by = :by, signed_at = :signed, extended = :ext WHERE id = :i",
            {"by": c.sign_by, "signed": c.signed_at, "ext": c.extended, "i": c.id},
        )

    # --- enrolments -----------------------------------------------------------------------------

    async def enrollment(self, child_iin: str, *, for_update: bool = False) -> Enrollment | None:
        row = await self._one(
            f"SELECT * FROM enrollments WHERE child_iin = :c AND ended_at IS NULL{self.lock(for_update)}", c=child_iin
        )
        return enrollment_from(row) if row else None

    async def enroll(self, e: Enrollment, offer_id: int | None) -> int:
        return await self._new_id(
            """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, application_id, since, offer_id)
            VALUES (:c, :g, :k, :a, :s, :o) RETURNING id""",
            c=e.child_iin,
            g=e.group_id,
            k=e.kindergarten_id,
            a=e.application_id,
            s=e.since,
            o=offer_id,
        )

    async def end_enrollment(self, enrollment_id: int, at: dt.datetime, reason: str) -> None:
        await self._execute(
            "UPDATE enrollments SET ended_at = :at, end_reason = :r WHERE id = :i",
            {"at": at, "r": reason, "i": enrollment_id},
        )
