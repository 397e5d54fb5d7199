"""SQL behind the domain's repositories (domain/repositories.py). All statements are parameterised."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.model import (
    Actor,
    Application,
    ApplicationStatus,
    AuditRecord,
    Choice,
    ClaimStatus,
    District,
    Group,
    GroupType,
    Kindergarten,
    Language,
    OutboxMessage,
    Ownership,
    Person,
    PriorityCategory,
    PriorityClaim,
    PriorityTier,
)
from domain.repositories import QueueEvent


class Row(Protocol):
    """A result row read by column name: SQLAlchemy's RowMapping or an asyncpg Record (the read path)."""

    def __getitem__(self, key: str, /) -> Any: ...
    def get(self, key: str, /) -> Any: ...


def person_from(row: Row) -> Person:
    return Person(
        iin=row["iin"],
        full_name=row["full_name"],
        birth_date=row["birth_date"],
        sex=row["sex"],
        alive=row["alive"],
        district_code=row["district_code"],
        phone=row["phone"],
    )


def kindergarten_from(row: Row) -> Kindergarten:
    return Kindergarten(
        id=row["id"],
        external_id=row["external_id"],
        district_code=row["district_code"],
        region_code=row["region_code"],
        name_kk=row["name_kk"],
        name_ru=row["name_ru"],
        address=row["address"],
        ownership=Ownership(row["ownership"]),
        state_order=row["state_order"],
        latitude=row["latitude"],
        longitude=row["longitude"],
    )


def group_from(row: Row) -> Group:
    return Group(
        id=row["id"],
        kindergarten_id=row["kindergarten_id"],
        external_id=row["external_id"],
        birth_year_from=row["birth_year_from"],
        birth_year_to=row["birth_year_to"],
        language=Language(row["language"]),
        group_type=GroupType(row["group_type"]),
        capacity=row["capacity"],
        enrolled=row["enrolled"],
        held=row["held"],
    )


def claim_from(row: Row) -> PriorityClaim:
    return PriorityClaim(
        id=row["id"],
        application_id=row["application_id"],
        category=PriorityCategory(row["category"]),
        status=ClaimStatus(row["status"]),
        subject_iin=row["subject_iin"],
        evidence_id=row["evidence_id"],
        source=row["source"],
        manual_deadline=row["manual_deadline"],
    )


def application_from(row: Row, choices: Sequence[Row]) -> Application:
    return Application(
        id=row["id"],
        number=row["number"],
        child_iin=row["child_iin"],
        status=ApplicationStatus(row["status"]),
        queue_date=row["queue_date"],
        channel=row["channel"],
        tier=PriorityTier.from_rank(row["tier_rank"]),
        language=Language(row["language"]),
        group_type=GroupType(row["group_type"]),
        desired_start_date=row["desired_start_date"],
        phone=row["phone"],
        notification_language=Language(row["notification_language"]),
        birth_year=row["birth_year"],
        district_code=row["district_code"],
        region_code=row["region_code"],
        active=row["active"],
        restored=row["restored"],
        inactive_since=row["inactive_since"],
        sibling_group_id=row["sibling_group_id"],
        created_at=row["created_at"],
        dropped_kindergartens=list(row.get("dropped_kindergartens") or []),
        choices=[
            Choice(
                application_id=c["application_id"],
                rank=c["rank"],
                kindergarten_id=c["kindergarten_id"],
                held_here=c["held_here"],
                joined_at=c["joined_at"],
                sibling_priority=c["sibling_rank"] == 0,
            )
            for c in choices
        ],
    )


KINDERGARTEN_COLUMNS = """k.id, k.external_id, k.district_code, d.region_code, k.name_kk, k.name_ru, k.address,
    k.ownership, k.state_order, k.latitude, k.longitude"""

# Position of each choice of the given applications: 1 + an index-only count of those ahead in its queue.
POSITIONS_SQL = """
SELECT c.application_id, c.kindergarten_id,
    CASE WHEN c.app_in_queue AND NOT c.held_here THEN 1 + (
        SELECT count(*) FROM choices o
        WHERE o.kindergarten_id = c.kindergarten_id AND o.birth_year = c.birth_year
          AND o.language = c.language AND o.group_type = c.group_type
          AND o.app_in_queue AND NOT o.held_here
          AND (o.tier_rank, o.sibling_rank, o.queue_date, o.application_id)
            < (c.tier_rank, c.sibling_rank, c.queue_date, c.application_id)
    ) END AS position
FROM choices c
WHERE c.application_id = ANY(:ids)
"""


class _Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _rows(self, sql: str, **params: Any) -> Sequence[RowMapping]:
        return (await self.conn.execute(text(sql), params)).mappings().all()

    async def _one(self, sql: str, **params: Any) -> RowMapping | None:
        return (await self.conn.execute(text(sql), params)).mappings().first()


class SqlPersonRepository(_Repo):
    async def upsert(self, persons: list[Person], now: dt.datetime) -> None:
        if not persons:
            return
        await self.conn.execute(
            text(
                """INSERT INTO persons (iin, full_name, birth_date, sex, alive, district_code, phone, refreshed_at)
                VALUES (:iin, :full_name, :birth_date, :sex, :alive, :district_code, :phone, :now)
                ON CONFLICT (iin) DO UPDATE SET full_name = EXCLUDED.full_name, birth_date = EXCLUDED.birth_date,
                    sex = EXCLUDED.sex, alive = EXCLUDED.alive, district_code = EXCLUDED.district_code,
                    phone = EXCLUDED.phone, refreshed_at = EXCLUDED.refreshed_at"""
            ),
            [
                {
                    "iin": p.iin,
                    "full_name": p.full_name,
                    "birth_date": p.birth_date,
                    "sex": p.sex,
                    "alive": p.alive,
                    "district_code": p.district_code,
                    "phone": p.phone,
                    "now": now,
                }
                for p in persons
            ],
        )

    async def set_representatives(self, child_iin: str, representative_iins: list[str]) -> None:
        await self.conn.execute(
            text("DELETE FROM representations WHERE child_iin = :c AND NOT (representative_iin = ANY(:r))"),
            {"c": child_iin, "r": representative_iins},
        )
        await self.conn.execute(
            text(
                """INSERT INTO representations (child_iin, representative_iin)
                SELECT :c, r FROM unnest(CAST(:r AS text[])) AS r
                WHERE EXISTS (SELECT 1 FROM persons WHERE iin = r) ON CONFLICT DO NOTHING"""
            ),
            {"c": child_iin, "r": representative_iins},
        )

    async def set_children(self, representative_iin: str, child_iins: list[str]) -> None:
        await self.conn.execute(
            text("DELETE FROM representations WHERE representative_iin = :r AND NOT (child_iin = ANY(:c))"),
            {"r": representative_iin, "c": child_iins},
        )
        await self.conn.execute(
            text(
                """INSERT INTO representations (child_iin, representative_iin)
                SELECT c, :r FROM unnest(CAST(:c AS text[])) AS c ON CONFLICT DO NOTHING"""
            ),
            {"r": representative_iin, "c": child_iins},
        )
        await self.conn.execute(
            text("UPDATE persons SET children_refreshed_at = now() WHERE iin = :r"), {"r": representative_iin}
        )

    async def representatives(self, child_iin: str) -> list[str]:
        rows = await self._rows(
            "SELECT representative_iin FROM representations WHERE child_iin = :c ORDER BY 1", c=child_iin
        )
        return [r["representative_iin"] for r in rows]

    async def children(self, representative_iin: str) -> list[str]:
        return await self.children_of_all([representative_iin])

    async def children_of_all(self, representative_iins: list[str]) -> list[str]:
        rows = await self._rows(
            "SELECT DISTINCT child_iin FROM representations WHERE representative_iin = ANY(:r) ORDER BY 1",
            r=representative_iins,
        )
        return [r["child_iin"] for r in rows]

    async def get(self, iin: str) -> Person | None:
        row = await self._one("SELECT * FROM persons WHERE iin = :i", i=iin)
        return person_from(row) if row else None

    async def refreshed_at(self, iin: str) -> dt.datetime | None:
        row = await self._one("SELECT children_refreshed_at FROM persons WHERE iin = :i", i=iin)
        return row["children_refreshed_at"] if row else None


class SqlPlaceRepository(_Repo):
    async def district(self, code: str) -> District | None:
        row = await self._one("SELECT * FROM districts WHERE code = :c", c=code)
        if row is None:
            return None
        return District(row["code"], row["region_code"], row["name_kk"], row["name_ru"])

    async def kindergartens(self, ids: list[int]) -> dict[int, Kindergarten]:
        rows = await self._rows(
            f"SELECT {KINDERGARTEN_COLUMNS} FROM kindergartens k JOIN districts d ON d.code = k.district_code "
            "WHERE k.id = ANY(:ids)",
            ids=ids,
        )
        return {r["id"]: kindergarten_from(r) for r in rows}

    async def kindergarten_by_external_id(self, external_id: str) -> Kindergarten | None:
        row = await self._one(
            f"SELECT {KINDERGARTEN_COLUMNS} FROM kindergartens k JOIN districts d ON d.code = k.district_code "
            "WHERE k.external_id = :e",
            e=external_id,
        )
        return kindergarten_from(row) if row else None

    async def groups_of(self, kindergarten_ids: list[int]) -> list[Group]:
        rows = await self._rows(
            "SELECT * FROM groups WHERE kindergarten_id = ANY(:ids) ORDER BY kindergarten_id, id",
            ids=kindergarten_ids,
        )
        return [group_from(r) for r in rows]

    async def group(self, group_id: int, *, for_update: bool = False) -> Group | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._one(f"SELECT * FROM groups WHERE id = :g{lock}", g=group_id)
        return group_from(row) if row else None

    async def add_kindergarten(
        self,
        external_id: str,
        district_code: str,
        name_kk: str,
        name_ru: str,
        address: str,
        ownership: Ownership,
        state_order: bool,
    ) -> int:
        row = await self._one(
            """INSERT INTO kindergartens (external_id, district_code, name_kk, name_ru, address, ownership, state_order)
            VALUES (:e, :d, :kk, :ru, :a, :o, :s) RETURNING id""",
            e=external_id,
            d=district_code,
            kk=name_kk,
            ru=name_ru,
            a=address,
            o=ownership.value,
            s=state_order,
        )
        assert row is not None
        return int(row["id"])

    async def add_group(
        self,
        kindergarten_id: int,
        external_id: str,
        birth_year_from: int,
        birth_year_to: int,
        language: Language,
        group_type: GroupType,
        capacity: int,
    ) -> int:
        row = await self._one(
            """INSERT INTO groups (kindergarten_id, external_id, birth_year_from, birth_year_to, language,
                group_type, capacity) VALUES (:k, :e, :f, :t, :l, :g, :c) RETURNING id""",
            k=kindergarten_id,
            e=external_id,
            f=birth_year_from,
            t=birth_year_to,
            l=language.value,
            g=group_type.value,
            c=capacity,
        )
        assert row is not None
        return int(row["id"])

    async def set_capacity(self, group_id: int, capacity: int) -> bool:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    text("UPDATE groups SET capacity = :c WHERE id = :g"), {"c": capacity, "g": group_id}
                )
        except IntegrityError:
            return False
        return True


class SqlApplicationRepository(_Repo):
    async def lock_child(self, child_iin: str) -> None:
        # Serialises submissions for one child across processes; released at commit or rollback.
        await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:i, 7))"), {"i": child_iin})

    async def active_for_child(self, child_iin: str) -> Application | None:
        row = await self._one("SELECT id FROM applications WHERE child_iin = :c AND active", c=child_iin)
        return await self.get(row["id"]) if row else None

    async def next_id_and_number(self, year: int) -> tuple[int, str]:
        row = await self._one("SELECT nextval('application_number_seq') AS n")
        assert row is not None
        n = int(row["n"])
        return n, f"KZ-{year}-{n:07d}"

    async def add(self, application: Application) -> None:
        a = application
        await self.conn.execute(
            text(
                """INSERT INTO applications (id, number, child_iin, status, active, in_queue, queue_date, channel,
                    tier_rank, language, group_type, desired_start_date, phone, notification_language, birth_year,
                    district_code, region_code, created_at, updated_at)
                VALUES (:id, :number, :child, :status, :active, :in_queue, :queue_date, :channel, :tier, :language,
                    :group_type, :start, :phone, :nl, :birth_year, :district, :region, :now, :now)"""
            ),
            {
                "id": a.id,
                "number": a.number,
                "child": a.child_iin,
                "status": a.status.value,
                "active": a.active,
                "in_queue": a.in_queue,
                "queue_date": a.queue_date,
                "channel": a.channel,
                "tier": a.tier.rank,
                "language": a.language.value,
                "group_type": a.group_type.value,
                "start": a.desired_start_date,
                "phone": a.phone,
                "nl": a.notification_language.value,
                "birth_year": a.birth_year,
                "district": a.district_code,
                "region": a.region_code,
                "now": a.created_at,
            },
        )
        await self._insert_choices(a)

    async def _insert_choices(self, a: Application) -> None:
        if not a.choices:
            return
        await self.conn.execute(
            text(
                """INSERT INTO choices (application_id, rank, kindergarten_id, tier_rank, queue_date, birth_year,
                    language, group_type, app_in_queue, sibling_rank, held_here, joined_at)
                VALUES (:app, :rank, :kg, :tier, :qd, :by, :lang, :gt, :iq, :sib, :held, :joined)"""
            ),
            [
                {
                    "app": a.id,
                    "rank": c.rank,
                    "kg": c.kindergarten_id,
                    "tier": a.tier.rank,
                    "qd": a.queue_date,
                    "by": a.birth_year,
                    "lang": a.language.value,
                    "gt": a.group_type.value,
                    "iq": a.in_queue,
                    "sib": 0 if c.sibling_priority else 1,
                    "held": c.held_here,
                    "joined": c.joined_at,
                }
                for c in a.choices
            ],
        )

    async def get(self, application_id: int, *, for_update: bool = False) -> Application | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._one(f"SELECT * FROM applications WHERE id = :i{lock}", i=application_id)
        if row is None:
            return None
        choices = await self._rows("SELECT * FROM choices WHERE application_id = :i ORDER BY rank", i=application_id)
        return application_from(row, choices)

    async def save(self, application: Application) -> None:
        a = application
        # The choices' copies of tier and status follow by ON UPDATE CASCADE of their foreign key.
        await self.conn.execute(
            text(
                """UPDATE applications SET status = :status, active = :active, in_queue = :in_queue,
                    tier_rank = :tier, restored = :restored, inactive_since = :inactive_since,
                    sibling_group_id = :sg, phone = :phone, dropped_kindergartens = :dropped,
                    updated_at = now()
                WHERE id = :id"""
            ),
            {
                "status": a.status.value,
                "active": a.active,
                "in_queue": a.in_queue,
                "tier": a.tier.rank,
                "restored": a.restored,
                "inactive_since": a.inactive_since,
                "sg": a.sibling_group_id,
                "phone": a.phone,
                "dropped": a.dropped_kindergartens,
                "id": a.id,
            },
        )
        current = await self._rows(
            """SELECT rank, kindergarten_id, held_here, sibling_rank FROM choices
            WHERE application_id = :i ORDER BY rank""",
            i=a.id,
        )
        wanted = [(c.rank, c.kindergarten_id, c.held_here, 0 if c.sibling_priority else 1) for c in a.choices]
        if [(r["rank"], r["kindergarten_id"], r["held_here"], r["sibling_rank"]) for r in current] != wanted:
            await self.conn.execute(text("DELETE FROM choices WHERE application_id = :i"), {"i": a.id})
            await self._insert_choices(a)

    async def positions(self, application_id: int) -> dict[int, int | None]:
        rows = await self._rows(POSITIONS_SQL, ids=[application_id])
        return {r["kindergarten_id"]: r["position"] for r in rows}

    async def sibling_kindergartens(self, child_iins: list[str]) -> set[int]:
        if not child_iins:
            return set()
        rows = await self._rows(
            "SELECT DISTINCT kindergarten_id FROM enrollments WHERE child_iin = ANY(:c) AND ended_at IS NULL",
            c=child_iins,
        )
        return {r["kindergarten_id"] for r in rows}

    async def areas(self, application_id: int) -> list[tuple[str | None, str | None]]:
        rows = await self._rows(
            """SELECT region_code, district_code FROM applications WHERE id = :i
            UNION SELECT d.region_code, k.district_code FROM choices c
                JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts d ON d.code = k.district_code
                WHERE c.application_id = :i
            UNION SELECT d.region_code, k.district_code FROM enrollments e
                JOIN kindergartens k ON k.id = e.kindergarten_id JOIN districts d ON d.code = k.district_code
                WHERE e.application_id = :i AND e.ended_at IS NULL""",
            i=application_id,
        )
        return [(r["region_code"], r["district_code"]) for r in rows]

    async def due_for_aging(self, today: dt.date, limit: int) -> list[int]:
        # A child born in year Y ages out on 1 September of Y + 6.
        cutoff = today.year - 6 if today >= dt.date(today.year, 9, 1) else today.year - 7
        rows = await self._rows(
            """SELECT id FROM applications
            WHERE active AND birth_year <= :cutoff AND status IN ('QUEUED','INACTIVE','ENROLLED')
            ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED""",
            cutoff=cutoff,
            n=limit,
        )
        return [r["id"] for r in rows]

    async def inactive(self, limit: int) -> list[int]:
        rows = await self._rows(
            """SELECT id FROM applications WHERE status = 'INACTIVE'
            ORDER BY inactive_since LIMIT :n FOR UPDATE SKIP LOCKED""",
            n=limit,
        )
        return [r["id"] for r in rows]

    async def due_for_benefit_check(self, now: dt.datetime, limit: int) -> list[int]:
        rows = await self._rows(
            """SELECT id FROM applications WHERE active AND next_benefit_check_at <= :now
            ORDER BY next_benefit_check_at LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )
        return [r["id"] for r in rows]

    async def schedule_benefit_check(self, application_id: int, at: dt.datetime, failures: int) -> None:
        await self.conn.execute(
            text("UPDATE applications SET next_benefit_check_at = :at, benefit_check_failures = :f WHERE id = :i"),
            {"at": at, "f": failures, "i": application_id},
        )

    async def benefit_check_failures(self, application_id: int) -> int:
        row = await self._one("SELECT benefit_check_failures FROM applications WHERE id = :i", i=application_id)
        return int(row["benefit_check_failures"]) if row else 0


class SqlClaimRepository(_Repo):
    async def for_application(self, application_id: int) -> list[PriorityClaim]:
        rows = await self._rows("SELECT * FROM priority_claims WHERE application_id = :a ORDER BY id", a=application_id)
        return [claim_from(r) for r in rows]

    async def add(self, claim: PriorityClaim) -> int:
        row = await self._one(
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
        assert row is not None
        return int(row["id"])

    async def get(self, claim_id: int, *, for_update: bool = False) -> PriorityClaim | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._one(f"SELECT * FROM priority_claims WHERE id = :i{lock}", i=claim_id)
        return claim_from(row) if row else None

    async def set_status(
        self, claim_id: int, status: ClaimStatus, actor: Actor, note: str | None, at: dt.datetime
    ) -> None:
        await self.conn.execute(
            text(
                """UPDATE priority_claims SET status = :s, decided_at = :at, decided_by = :by, note = :note
                WHERE id = :i"""
            ),
            {
                "s": status.value,
                "at": at,
                "by": f"{actor.role or 'system'}:{actor.subject}",
                "note": note,
                "i": claim_id,
            },
        )

    async def due_manual(self, now: dt.datetime, limit: int) -> list[int]:
        rows = await self._rows(
            """SELECT id FROM priority_claims WHERE status = 'PENDING_MANUAL' AND manual_deadline <= :now
            ORDER BY manual_deadline LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )
        return [r["id"] for r in rows]


class SqlJournalRepository(_Repo):
    async def audit(self, actor: Actor, record: AuditRecord, at: dt.datetime) -> None:
        await self.conn.execute(
            text(
                """INSERT INTO audit_log (at, actor_role, actor_subject, channel, entity_type, entity_id, action,
                    before, after, reason, application_id)
                VALUES (:at, :role, :subject, :channel, :et, :eid, :action, CAST(:before AS jsonb),
                    CAST(:after AS jsonb), :reason, :app)"""
            ),
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
            },
        )

    async def message(self, message: OutboxMessage, at: dt.datetime) -> None:
        await self.conn.execute(
            text(
                """INSERT INTO outbox (message_id, created_at, recipient, text, language, kind, application_id,
                    next_attempt_at) VALUES (:mid, :at, :to, :text, :lang, :kind, :app, :at)"""
            ),
            {
                "mid": str(uuid.uuid4()),
                "at": at,
                "to": message.phone,
                "text": message.text,
                "lang": message.language.value,
                "kind": message.kind,
                "app": message.application_id,
            },
        )

    async def queue_events(self, application_id: int, events: list[QueueEvent]) -> None:
        if not events:
            return
        await self.conn.execute(
            text(
                """INSERT INTO queue_events (at, kindergarten_id, birth_year, language, group_type, tier_rank,
                    sibling_rank, queue_date, application_id, delta, own_delta, reason)
                VALUES (:at, :kg, :by, :lang, :gt, :tier, :sib, :qd, :app, :delta, :own, :reason)"""
            ),
            [
                {
                    "at": e.at,
                    "kg": e.queue.kindergarten_id,
                    "by": e.queue.birth_year,
                    "lang": e.queue.language.value,
                    "gt": e.queue.group_type.value,
                    "tier": e.order.tier_rank,
                    "sib": e.order.sibling_rank,
                    "qd": e.order.queue_date,
                    "app": application_id,
                    "delta": e.delta,
                    "own": e.own_delta,
                    "reason": e.reason,
                }
                for e in events
            ],
        )
