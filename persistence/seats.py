"""SQL of stage 2: candidates, offers, contracts, enrolments, sibling groups and the event feed."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import text

from domain.allocation import Candidate
from domain.model import (
    Contract,
    Enrollment,
    FeedEvent,
    Group,
    HealthDocumentRecord,
    Language,
    Offer,
    OfferStatus,
    PriorityTier,
    QueueOrder,
)
from persistence.repositories import Row, _Repo, group_from

# One advisory lock for every transaction that may allocate seats or write feed events: allocation
# stays serial (no seat offered twice, no deadlock between chains) and feed ids follow commit order.
ALLOCATION_LOCK = 0x4B455A454B  # "KEZEK"
LIVE = "('PENDING','CONFIRMED')"


def offer_from(r: Row) -> Offer:
    return Offer(
        id=r["id"],
        application_id=r["application_id"],
        child_iin=r["child_iin"],
        kindergarten_id=r["kindergarten_id"],
        group_id=r["group_id"],
        status=OfferStatus(r["status"]),
        tier=PriorityTier.from_rank(r["tier_rank"]),
        upgrade=r["upgrade"],
        created_at=r["created_at"],
        respond_by=r["respond_by"],
        sibling_group_id=r["sibling_group_id"],
        remind_at=r["remind_at"],
    )


def contract_from(r: Row) -> Contract:
    def docs(raw: Any) -> Any:
        return json.loads(raw) if isinstance(raw, str) else raw

    return Contract(
        id=r["id"],
        offer_id=r["offer_id"],
        text=r["text"],
        document_hash=r["document_hash"],
        language=Language(r["language"]),
        issued_at=r["issued_at"],
        sign_by=r["sign_by"],
        signed_at=r["signed_at"],
        extended=r["extended"],
        health_documents=[
            HealthDocumentRecord(d["kind"], d["documentId"], dt.date.fromisoformat(d["issuedOn"]))
            for d in docs(r["health_documents"])
        ],
        missing_documents=list(docs(r["missing_documents"])),
    )


def enrollment_from(r: Row) -> Enrollment:
    return Enrollment(r["id"], r["child_iin"], r["group_id"], r["kindergarten_id"], r["application_id"], r["since"])


class SqlSeatRepository(_Repo):
    async def lock_allocation(self) -> None:
        await self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ALLOCATION_LOCK})

    # --- candidates -----------------------------------------------------------------------------

    async def candidates(
        self, group: Group, tier: PriorityTier, after: QueueOrder | None, limit: int
    ) -> list[Candidate]:
        """Applications standing in the queues this group serves, of one tier, in queue order."""
        rows = await self._rows(
            """SELECT a.id, a.child_iin, c.sibling_rank, a.queue_date, p.birth_date, a.desired_start_date,
                c.rank AS rank_here, a.sibling_group_id,
                (SELECT min(h.rank) FROM choices h WHERE h.application_id = a.id AND h.held_here) AS holding_rank
            FROM choices c
            JOIN applications a ON a.id = c.application_id
            JOIN persons p ON p.iin = a.child_iin
            WHERE c.kindergarten_id = :kg AND c.birth_year BETWEEN :y0 AND :y1 AND c.language = :lang
              AND c.group_type = :gt AND c.app_in_queue AND NOT c.held_here AND c.tier_rank = :tier AND a.active
              AND (CAST(:has_after AS boolean) IS FALSE
                   OR (c.sibling_rank, c.queue_date, c.application_id) > (:s, :q, :a))
            ORDER BY c.sibling_rank, c.queue_date, c.application_id
            LIMIT :n""",
            kg=group.kindergarten_id,
            y0=group.birth_year_from,
            y1=group.birth_year_to,
            lang=group.language.value,
            gt=group.group_type.value,
            tier=tier.rank,
            has_after=after is not None,
            s=after.sibling_rank if after else 0,
            q=after.queue_date if after else dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            a=after.application_id if after else 0,
            n=limit,
        )
        return [
            Candidate(
                application_id=r["id"],
                child_iin=r["child_iin"],
                tier=tier,
                sibling_priority=r["sibling_rank"] == 0,
                queue_date=r["queue_date"],
                birth_date=r["birth_date"],
                desired_start_date=r["desired_start_date"],
                rank_here=r["rank_here"],
                holding_rank=r["holding_rank"],
                sibling_group_id=r["sibling_group_id"],
            )
            for r in rows
        ]

    async def offers_made(self, group_id: int) -> tuple[int, int]:
        """Offers made in the group to PRIMARY and to GENERAL children (the ratio's history)."""
        row = await self._one(
            """SELECT count(*) FILTER (WHERE tier_rank = 1) AS p, count(*) FILTER (WHERE tier_rank = 2) AS g
            FROM offers WHERE group_id = :g""",
            g=group_id,
        )
        assert row is not None
        return int(row["p"]), int(row["g"])

    async def groups_with_free_seats(self, kindergarten_ids: list[int] | None = None) -> list[int]:
        rows = await self._rows(
            """SELECT id FROM groups WHERE capacity > enrolled + held
              AND (CAST(:all AS boolean) OR kindergarten_id = ANY(:kgs)) ORDER BY id""",
            all=kindergarten_ids is None,
            kgs=kindergarten_ids or [],
        )
        return [r["id"] for r in rows]

    async def fitting_groups(
        self, kindergarten_id: int, birth_year: int, language: Language, group_type: str
    ) -> list[Group]:
        rows = await self._rows(
            """SELECT * FROM groups WHERE kindergarten_id = :kg AND :y BETWEEN birth_year_from AND birth_year_to
              AND language = :l AND group_type = :t ORDER BY id""",
            kg=kindergarten_id,
            y=birth_year,
            l=language.value,
            t=group_type,
        )
        return [group_from(r) for r in rows]

    # --- offers ---------------------------------------------------------------------------------

    async def add_offer(self, o: Offer) -> int:
        row = await self._one(
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
        assert row is not None
        return int(row["id"])

    async def offer(self, offer_id: int, *, for_update: bool = False) -> Offer | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._one(f"SELECT * FROM offers WHERE id = :i{lock}", i=offer_id)
        return offer_from(row) if row else None

    async def live_offer(self, application_id: int, *, for_update: bool = False) -> Offer | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._one(
            f"SELECT * FROM offers WHERE application_id = :a AND status IN {LIVE}{lock}", a=application_id
        )
        return offer_from(row) if row else None

    async def sibling_offers(self, sibling_group_id: int, *, live_only: bool = True) -> list[Offer]:
        rows = await self._rows(
            f"""SELECT * FROM offers WHERE sibling_group_id = :sg
            {"AND status IN " + LIVE if live_only else ""} ORDER BY id FOR UPDATE""",
            sg=sibling_group_id,
        )
        return [offer_from(r) for r in rows]

    async def set_offer(self, offer: Offer, at: dt.datetime) -> None:
        await self.conn.execute(
            text(
                """UPDATE offers SET status = :s, respond_by = :by, remind_at = :remind,
                    reminded_at = CASE WHEN :reset THEN NULL ELSE reminded_at END,
                    decided_at = CASE WHEN :s IN ('PENDING','CONFIRMED') THEN decided_at ELSE :at END
                WHERE id = :i"""
            ),
            {
                "s": offer.status.value,
                "by": offer.respond_by,
                "remind": offer.remind_at,
                "reset": offer.live,
                "at": at,
                "i": offer.id,
            },
        )

    async def due_offers(self, now: dt.datetime, limit: int) -> list[int]:
        rows = await self._rows(
            f"""SELECT id FROM offers WHERE status IN {LIVE} AND respond_by < :now
            ORDER BY respond_by LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )
        return [r["id"] for r in rows]

    async def due_reminders(self, now: dt.datetime, limit: int) -> list[int]:
        rows = await self._rows(
            f"""SELECT id FROM offers WHERE status IN {LIVE} AND reminded_at IS NULL AND remind_at <= :now
              AND respond_by >= :now
            ORDER BY remind_at LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )
        return [r["id"] for r in rows]

    async def mark_reminded(self, offer_id: int, at: dt.datetime) -> None:
        await self.conn.execute(text("UPDATE offers SET reminded_at = :at WHERE id = :i"), {"at": at, "i": offer_id})

    async def live_offers_above_tier(self, application_id: int, tier: PriorityTier) -> list[Offer]:
        """Live offers made on a better tier than the application now has."""
        rows = await self._rows(
            f"""SELECT * FROM offers WHERE application_id = :a AND status IN {LIVE} AND tier_rank < :t
            FOR UPDATE""",
            a=application_id,
            t=tier.rank,
        )
        return [offer_from(r) for r in rows]

    # --- contracts ------------------------------------------------------------------------------

    async def add_contract(self, c: Contract) -> int:
        row = await self._one(
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
        assert row is not None
        return int(row["id"])

    async def contract_for_offer(self, offer_id: int) -> Contract | None:
        row = await self._one("SELECT * FROM contracts WHERE offer_id = :o", o=offer_id)
        return contract_from(row) if row else None

    async def contract(self, contract_id: int) -> Contract | None:
        row = await self._one("SELECT * FROM contracts WHERE id = :i", i=contract_id)
        return contract_from(row) if row else None

    async def save_contract(self, c: Contract) -> None:
        await self.conn.execute(
            text("UPDATE contracts SET sign_by = :by, signed_at = :signed, extended = :ext WHERE id = :i"),
            {"by": c.sign_by, "signed": c.signed_at, "ext": c.extended, "i": c.id},
        )

    # --- enrolments -----------------------------------------------------------------------------

    async def enrollment(self, child_iin: str, *, for_update: bool = False) -> Enrollment | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._one(f"SELECT * FROM enrollments WHERE child_iin = :c AND ended_at IS NULL{lock}", c=child_iin)
        return enrollment_from(row) if row else None

    async def enroll(self, e: Enrollment, offer_id: int | None) -> int:
        row = await self._one(
            """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, application_id, since, offer_id)
            VALUES (:c, :g, :k, :a, :s, :o) RETURNING id""",
            c=e.child_iin,
            g=e.group_id,
            k=e.kindergarten_id,
            a=e.application_id,
            s=e.since,
            o=offer_id,
        )
        assert row is not None
        return int(row["id"])

    async def end_enrollment(self, enrollment_id: int, at: dt.datetime, reason: str) -> None:
        await self.conn.execute(
            text("UPDATE enrollments SET ended_at = :at, end_reason = :r WHERE id = :i"),
            {"at": at, "r": reason, "i": enrollment_id},
        )

    async def set_sibling_priority(self, child_iins: list[str], kindergarten_id: int, priority: bool) -> list[int]:
        """Marks these children's choices at the kindergarten; returns the applications touched."""
        rows = await self._rows(
            """UPDATE choices c SET sibling_rank = :r FROM applications a
            WHERE a.id = c.application_id AND a.child_iin = ANY(:c) AND a.active
              AND c.kindergarten_id = :kg AND c.sibling_rank <> :r
            RETURNING c.application_id""",
            r=0 if priority else 1,
            c=child_iins,
            kg=kindergarten_id,
        )
        return [r["application_id"] for r in rows]

    # --- sibling groups -------------------------------------------------------------------------

    async def new_sibling_group(self, at: dt.datetime) -> int:
        row = await self._one("INSERT INTO sibling_groups (created_at) VALUES (:at) RETURNING id", at=at)
        assert row is not None
        return int(row["id"])

    async def sibling_group_members(self, sibling_group_id: int) -> list[int]:
        rows = await self._rows(
            "SELECT id FROM applications WHERE sibling_group_id = :g AND active ORDER BY id", g=sibling_group_id
        )
        return [r["id"] for r in rows]

    # --- the event feed -------------------------------------------------------------------------

    async def publish(self, events: list[FeedEvent], at: dt.datetime) -> None:
        if not events:
            return
        await self.lock_allocation()  # re-entrant; ids then follow commit order
        await self.conn.execute(
            text(
                """INSERT INTO events (at, stream, kind, kindergarten_id, group_id, free_seats, region_code,
                    district_code, offer_id, application_id, child_iin)
                SELECT :at, :stream, :kind, :kg, :g, :free, d.region_code, k.district_code, :offer, :app, :child
                FROM (SELECT 1) x LEFT JOIN kindergartens k ON k.id = :kg
                    LEFT JOIN districts d ON d.code = k.district_code"""
            ),
            [
                {
                    "at": at,
                    "stream": e.stream.value,
                    "kind": e.kind,
                    "kg": e.kindergarten_id,
                    "g": e.group_id,
                    "free": e.free_seats,
                    "offer": e.offer_id,
                    "app": e.application_id,
                    "child": e.child_iin,
                }
                for e in events
            ],
        )
        # Delivered at commit: every process's listener wakes and reads the new rows.
        await self.conn.execute(text("SELECT pg_notify('kezek_events', '')"))
