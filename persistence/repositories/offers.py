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
                sibling_group_id, created_at, respond_by, remind_at, starts_on, intake_run_id)
            VALUES (:app, :child, :kg, :g, :s, :t, :u, :sg, :at, :by, :remind, :starts, :run) RETURNING id""",
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
            starts=o.starts_on,
            run=o.intake_run_id,
        )

    async def add_many(self, offers: list[Offer]) -> list[int]:
        """These offers in one statement; their ids, in the same order."""
        rows = await self._rows(
            """INSERT INTO offers (application_id, child_iin, kindergarten_id, group_id, status, tier_rank, upgrade,
                sibling_group_id, created_at, respond_by, remind_at, starts_on, intake_run_id)
            SELECT u.app, u.child, u.kg, u.g, u.s, u.t, u.u, u.sg, u.at, u.by, u.remind, u.starts, u.run
            FROM unnest(CAST(:app AS bigint[]), CAST(:child AS text[]), CAST(:kg AS bigint[]), CAST(:g AS bigint[]),
                CAST(:s AS text[]), CAST(:t AS smallint[]), CAST(:u AS boolean[]), CAST(:sg AS bigint[]),
                CAST(:at AS timestamptz[]), CAST(:by AS timestamptz[]), CAST(:remind AS timestamptz[]),
                CAST(:starts AS date[]), CAST(:run AS bigint[])) WITH ORDINALITY
                AS u(app, child, kg, g, s, t, u, sg, at, by, remind, starts, run, n)
            ORDER BY u.n
            RETURNING id, application_id""",
            app=[o.application_id for o in offers],
            child=[o.child_iin for o in offers],
            kg=[o.kindergarten_id for o in offers],
            g=[o.group_id for o in offers],
            s=[o.status.value for o in offers],
            t=[o.tier.rank for o in offers],
            u=[o.upgrade for o in offers],
            sg=[o.sibling_group_id for o in offers],
            at=[o.created_at for o in offers],
            by=[o.respond_by for o in offers],
            remind=[o.remind_at for o in offers],
            starts=[o.starts_on for o in offers],
            run=[o.intake_run_id for o in offers],
        )
        ids = {int(r["application_id"]): int(r["id"]) for r in rows}  # one live offer per child
        return [ids[o.application_id] for o in offers]

    async def live_for_many(self, application_ids: list[int]) -> dict[int, Offer]:
        """The live offers of these applications, locked for update without waiting."""
        rows = await self._rows(
            f"""SELECT * FROM offers WHERE application_id = ANY(:a) AND status IN {LIVE}
            ORDER BY id FOR UPDATE NOWAIT""",
            a=application_ids,
        )
        return {int(r["application_id"]): offer_from(r) for r in rows}

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
        """The child's enrolment: the one in force, else the next to start."""
        found = await self.enrollments(child_iin, for_update=for_update)
        return found[0] if found else None

    async def enrollments(self, child_iin: str, *, for_update: bool = False) -> list[Enrollment]:
        """The child's enrolments not ended, the earliest first (two only while an upgrade waits for its start)."""
        rows = await self._rows(
            f"""SELECT * FROM enrollments WHERE child_iin = :c AND ended_at IS NULL
            ORDER BY since, id{self.lock(for_update)}""",
            c=child_iin,
        )
        return [enrollment_from(r) for r in rows]

    async def enroll(self, e: Enrollment, offer_id: int | None) -> int:
        return await self._new_id(
            """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, application_id, since, leaves_on,
                offer_id)
            VALUES (:c, :g, :k, :a, :s, :l, :o) RETURNING id""",
            c=e.child_iin,
            g=e.group_id,
            k=e.kindergarten_id,
            a=e.application_id,
            s=e.since,
            l=e.leaves_on,
            o=offer_id,
        )

    async def set_departure(self, enrollment_id: int, leaves_on: dt.date | None) -> None:
        await self._execute("UPDATE enrollments SET leaves_on = :l WHERE id = :i", {"l": leaves_on, "i": enrollment_id})

    async def departures_due(self, today: dt.date, limit: int) -> list[str]:
        """Children whose enrolment's last day has passed, with nothing else holding their row."""
        rows = await self._rows(
            """SELECT child_iin FROM enrollments WHERE ended_at IS NULL AND leaves_on < :d
            ORDER BY leaves_on, id LIMIT :n FOR UPDATE SKIP LOCKED""",
            d=today,
            n=limit,
        )
        return [r["child_iin"] for r in rows]

    async def end_enrollment(self, enrollment_id: int, at: dt.datetime, reason: str) -> None:
        await self._execute(
            "UPDATE enrollments SET ended_at = :at, end_reason = :r WHERE id = :i",
            {"at": at, "r": reason, "i": enrollment_id},
        )
