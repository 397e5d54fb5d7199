"""Priority claims (docs/product.md §3 "Priority")."""

from __future__ import annotations

import datetime as dt

from domain.model import Actor, ClaimStatus, PriorityClaim
from persistence.repositories.base import Repository
from persistence.rows import claim_from


class SqlClaimRepository(Repository):
    async def for_application(self, application_id: int) -> list[PriorityClaim]:
        rows = await self._rows("SELECT * FROM priority_claims WHERE application_id = :a ORDER BY id", a=application_id)
        return [claim_from(r) for r in rows]

    async def add(self, claim: PriorityClaim) -> int:
        return await self._new_id(
            """INSERT INTO priority_claims (application_id, category, status, subject_iin, evidence_id, source,
                manual_deadline) VALUES (:a, :c, :s, :i, :e, :src, :d) RETURNING id""",
            a=claim.application_id,
            c=claim.category.value,
            s=claim.status.value,
            i=claim.subject_iin,
            e=claim.evidence_id,
            src=claim.source,
            d=claim.manual_deadline,
        )

    async def get(self, claim_id: int, *, for_update: bool = False) -> PriorityClaim | None:
        row = await self._one(f"SELECT * FROM priority_claims WHERE id = :i{self.lock(for_update)}", i=claim_id)
        return claim_from(row) if row else None

    async def set_status(
        self, claim_id: int, status: ClaimStatus, actor: Actor, note: str | None, at: dt.datetime
    ) -> None:
        await self._execute(
            "UPDATE priority_claims SET status = :s, decided_at = :at, decided_by = :by, note = :note WHERE id = :i",
            {
                "s": status.value,
                "at": at,
                "by": f"{actor.role or 'system'}:{actor.subject}",
                "note": note,
                "i": claim_id,
            },
        )

    async def due_manual(self, now: dt.datetime, limit: int) -> list[int]:
        return await self._ids(
            """SELECT id FROM priority_claims WHERE status = 'PENDING_MANUAL' AND manual_deadline <= :now
            ORDER BY manual_deadline LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )
