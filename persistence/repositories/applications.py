"""Applications with their choices and sibling groups (docs/product.md §3, §5).

Within a unit of work an application read for update is one object (an identity map): whoever reads it
again gets the same instance, and `save` writes only what changed since it was read, so the unit of work
can save every one of them before it commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from domain.model import QUEUE_STATUSES, Application
from domain.queue_order import sibling_rank
from persistence.pg import Pools
from persistence.repositories.base import Repository
from persistence.rows import application_with_choices
from persistence.sql import APPLICATIONS, POSITIONS_SQL

_UPDATE_APPLICATION = """UPDATE applications SET status = :status, active = :active, in_queue = :in_queue,
    tier_rank = :tier, restored = :restored, inactive_since = :inactive_since, sibling_group_id = :sg,
    phone = :phone, dropped_kindergartens = :dropped, updated_at = now()
    WHERE id = :id"""
_UPDATE_CHOICES = """UPDATE choices c SET rank = u.rank, held_here = u.held, sibling_rank = u.sib
    FROM unnest(CAST(:kgs AS bigint[]), CAST(:ranks AS smallint[]), CAST(:helds AS boolean[]),
        CAST(:sibs AS smallint[])) AS u(kg, rank, held, sib)
    WHERE c.application_id = :id AND c.kindergarten_id = u.kg
      AND (c.rank, c.held_here, c.sibling_rank) IS DISTINCT FROM (u.rank, u.held, u.sib)"""


# The application's choices, each a copy of its queue fields (held equal to the application's by a foreign key).
_INSERT_CHOICES = """INSERT INTO choices (application_id, rank, kindergarten_id, tier_rank, queue_date, birth_year,
    language, group_type, app_in_queue, sibling_rank, held_here, joined_at)
    SELECT :id, u.rank, u.kg, :c_tier, :c_qd, :c_by, :c_lang, :c_gt, :c_iq, u.sib, u.held, u.joined
    FROM unnest(CAST(:c_ranks AS smallint[]), CAST(:c_kgs AS bigint[]), CAST(:c_sibs AS smallint[]),
        CAST(:c_helds AS boolean[]), CAST(:c_joined AS timestamptz[])) AS u(rank, kg, sib, held, joined)"""


def _choice_columns(a: Application) -> dict[str, Any]:
    return {
        "c_tier": a.tier.rank,
        "c_qd": a.queue_date,
        "c_by": a.birth_year,
        "c_lang": a.language.value,
        "c_gt": a.group_type.value,
        "c_iq": a.in_queue,
        "c_ranks": [c.rank for c in a.choices],
        "c_kgs": [c.kindergarten_id for c in a.choices],
        "c_sibs": [sibling_rank(c.sibling_priority) for c in a.choices],
        "c_helds": [c.held_here for c in a.choices],
        "c_joined": [c.joined_at for c in a.choices],
    }


def _params(a: Application) -> dict[str, Any]:
    return {
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
        "kgs": [c.kindergarten_id for c in a.choices],
        "ranks": [c.rank for c in a.choices],
        "helds": [c.held_here for c in a.choices],
        "sibs": [sibling_rank(c.sibling_priority) for c in a.choices],
    }


def _row_state(a: Application) -> tuple[Any, ...]:
    return (
        a.status,
        a.active,
        a.tier,
        a.restored,
        a.inactive_since,
        a.sibling_group_id,
        a.phone,
        tuple(a.dropped_kindergartens),
    )


def _choice_state(a: Application) -> tuple[Any, ...]:
    return tuple(
        (c.rank, c.kindergarten_id, c.held_here, c.sibling_priority, c.joined_at)
        for c in sorted(a.choices, key=lambda c: c.rank)
    )


class SqlApplicationRepository(Repository):
    def __init__(self, conn: asyncpg.Connection, pools: Pools) -> None:
        super().__init__(conn, pools)
        # Locked applications of this unit of work: the instance, and its row and choices as last written.
        self._held: dict[int, tuple[Application, tuple[Any, ...], tuple[Any, ...]]] = {}

    async def reserve(self, child_iin: str) -> int:
        # Serialises submissions for one child across processes (released at commit or rollback); an id a failed
        # submission took is a gap in the numbers, as after any rollback.
        row = await self._one(
            "SELECT pg_advisory_xact_lock(hashtextextended(:i, 7)), nextval('application_number_seq') AS n", i=child_iin
        )
        assert row is not None
        return int(row["n"])

    async def active_for_child(self, child_iin: str) -> Application | None:
        row = await self._one("SELECT id FROM applications WHERE child_iin = :c AND active", c=child_iin)
        return await self.get(row["id"], for_update=True) if row else None

    async def add(self, application: Application, benefit_check_at: dt.datetime, benefit_failures: int) -> None:
        a = application
        await self._execute(
            f"""WITH a AS (
                INSERT INTO applications (id, number, child_iin, status, active, in_queue, queue_date, channel,
                    tier_rank, language, group_type, desired_start_date, phone, notification_language, birth_year,
                    district_code, region_code, created_at, updated_at, next_benefit_check_at, benefit_check_failures)
                VALUES (:id, :number, :child, :status, :active, :in_queue, :queue_date, :channel, :tier, :language,
                    :group_type, :start, :phone, :nl, :birth_year, :district, :region, :now, :now, :check, :failures)
                RETURNING 1
            ) {_INSERT_CHOICES}""",
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
                "check": benefit_check_at,
                "failures": benefit_failures,
                **_choice_columns(a),
            },
        )
        self._held[a.id] = (a, _row_state(a), _choice_state(a))

    async def get(
        self, application_id: int, *, for_update: bool = False, skip_locked: bool = False
    ) -> Application | None:
        held = self._held.get(application_id)
        if held is not None:
            return held[0]
        if for_update:
            # The row is locked first and read after, by a statement of its own: a read that waits for the lock
            # inside the same statement would see the row's latest version but its choices as they were when
            # the statement began, and a change of choices committed meanwhile would be lost.
            skip = " SKIP LOCKED" if skip_locked else ""
            locked = await self._one(f"SELECT id FROM applications WHERE id = :i FOR UPDATE{skip}", i=application_id)
            if locked is None:
                return None
        row = await self._one(f"{APPLICATIONS} WHERE a.id = :i", i=application_id)
        if row is None:
            return None
        app = application_with_choices(row)
        if for_update:
            self._held[app.id] = (app, _row_state(app), _choice_state(app))
        return app

    async def get_many(self, application_ids: list[int]) -> list[Application]:
        """These applications, locked for update without waiting (a row locked elsewhere raises Contention)."""
        held = await self._lock_and_read(application_ids, "NOWAIT")
        return [held[i] for i in application_ids if i in held]

    async def lock_available(self, application_ids: list[int]) -> dict[int, Application]:
        """Those of these applications not locked elsewhere, locked for update (the others are skipped)."""
        return await self._lock_and_read(application_ids, "SKIP LOCKED")

    async def _lock_and_read(self, application_ids: list[int], wait: str) -> dict[int, Application]:
        missing = [i for i in application_ids if i not in self._held]
        if missing:
            # Locked first, read after (see `get`).
            locked = await self._ids(
                f"SELECT id FROM applications WHERE id = ANY(:ids) ORDER BY id FOR UPDATE {wait}", ids=missing
            )
            if locked:
                for row in await self._rows(f"{APPLICATIONS} WHERE a.id = ANY(:ids) ORDER BY a.id", ids=locked):
                    app = application_with_choices(row)
                    self._held[app.id] = (app, _row_state(app), _choice_state(app))
        return {i: self._held[i][0] for i in application_ids if i in self._held}

    async def save(self, application: Application) -> None:
        a = application
        held = self._held.get(a.id)
        row, choices = _row_state(a), _choice_state(a)
        row_changed = held is None or held[1] != row
        choices_changed = held is None or held[2] != choices
        # Same kindergartens: ranks and flags are updated in place (one UPDATE; the rank's uniqueness is checked
        # at the statement's end); otherwise the choices are written again.
        in_place = held is not None and {c[1] for c in held[2]} == {c[1] for c in choices}
        # The choices' copies of the tier and of in_queue follow by ON UPDATE CASCADE of their foreign key: such
        # an update is its own statement, before the choices' own.
        cascades = held is None or held[1][2] != a.tier or (held[1][0] in QUEUE_STATUSES) != a.in_queue
        if row_changed and choices_changed and in_place and not cascades:
            await self._execute(f"WITH a AS ({_UPDATE_APPLICATION} RETURNING 1) {_UPDATE_CHOICES}", _params(a))
        else:
            if row_changed:
                await self._execute(_UPDATE_APPLICATION, _params(a))
            if choices_changed and in_place:
                await self._execute(_UPDATE_CHOICES, _params(a))
            elif choices_changed:
                await self._execute("DELETE FROM choices WHERE application_id = :i", {"i": a.id})
                await self._insert_choices(a)
        if held is not None:
            self._held[a.id] = (a, row, choices)

    async def save_all(self) -> None:
        """Every held application that changed: those whose row and choices change in place (an offer made,
        most often) in one statement, the others one by one."""
        simple = []
        for app, row, choices in list(self._held.values()):
            now_row, now_choices = _row_state(app), _choice_state(app)
            if (row, choices) == (now_row, now_choices):
                continue
            in_place = {c[1] for c in choices} == {c[1] for c in now_choices}
            cascades = row[2] != app.tier or (row[0] in QUEUE_STATUSES) != app.in_queue or row[7] != now_row[7]
            if in_place and not cascades:
                simple.append(app)
            else:
                await self.save(app)
        if len(simple) == 1:
            await self.save(simple[0])
        elif simple:
            await self._save_in_place(simple)

    async def _save_in_place(self, apps: list[Application]) -> None:
        rows = [_params(a) for a in apps]
        choices = [(a.id, c) for a in apps for c in a.choices]
        await self._execute(
            """WITH a AS (
                UPDATE applications x SET status = u.status, active = u.active, in_queue = u.in_queue,
                    restored = u.restored, inactive_since = u.inactive_since, sibling_group_id = u.sg, phone = u.phone,
                    updated_at = now()
                FROM unnest(CAST(:id AS bigint[]), CAST(:status AS text[]), CAST(:active AS boolean[]),
                    CAST(:in_queue AS boolean[]), CAST(:restored AS boolean[]), CAST(:inactive AS timestamptz[]),
                    CAST(:sg AS bigint[]), CAST(:phone AS text[]))
                    AS u(id, status, active, in_queue, restored, inactive_since, sg, phone)
                WHERE x.id = u.id
                RETURNING 1
            )
            UPDATE choices c SET rank = v.rank, held_here = v.held, sibling_rank = v.sib
            FROM unnest(CAST(:c_app AS bigint[]), CAST(:c_kg AS bigint[]), CAST(:c_rank AS smallint[]),
                CAST(:c_held AS boolean[]), CAST(:c_sib AS smallint[])) AS v(app, kg, rank, held, sib)
            WHERE c.application_id = v.app AND c.kindergarten_id = v.kg
              AND (c.rank, c.held_here, c.sibling_rank) IS DISTINCT FROM (v.rank, v.held, v.sib)""",
            {
                "id": [r["id"] for r in rows],
                "status": [r["status"] for r in rows],
                "active": [r["active"] for r in rows],
                "in_queue": [r["in_queue"] for r in rows],
                "restored": [r["restored"] for r in rows],
                "inactive": [r["inactive_since"] for r in rows],
                "sg": [r["sg"] for r in rows],
                "phone": [r["phone"] for r in rows],
                "c_app": [a for a, _ in choices],
                "c_kg": [c.kindergarten_id for _, c in choices],
                "c_rank": [c.rank for _, c in choices],
                "c_held": [c.held_here for _, c in choices],
                "c_sib": [sibling_rank(c.sibling_priority) for _, c in choices],
            },
        )
        for a in apps:
            self._held[a.id] = (a, _row_state(a), _choice_state(a))

    async def _insert_choices(self, a: Application) -> None:
        if a.choices:
            await self._execute(_INSERT_CHOICES, {"id": a.id, **_choice_columns(a)})

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

    async def kindergartens_of_siblings(self, child_iin: str) -> set[int]:
        rows = await self._rows(
            """SELECT DISTINCT e.kindergarten_id FROM representations a
            JOIN representations b ON b.representative_iin = a.representative_iin AND b.child_iin <> a.child_iin
            JOIN enrollments e ON e.child_iin = b.child_iin AND e.ended_at IS NULL
            WHERE a.child_iin = :c""",
            c=child_iin,
        )
        return {r["kindergarten_id"] for r in rows}

    async def set_sibling_priority(self, child_iins: list[str], kindergarten_id: int, priority: bool) -> None:
        rank = sibling_rank(priority)
        rows = await self._rows(
            """UPDATE choices c SET sibling_rank = :r FROM applications a
            WHERE a.id = c.application_id AND a.child_iin = ANY(:c) AND a.active
              AND c.kindergarten_id = :kg AND c.sibling_rank <> :r
            RETURNING c.application_id""",
            r=rank,
            c=child_iins,
            kg=kindergarten_id,
        )
        # Applications held here see the flag too, so that saving them does not write it back.
        for r in rows:
            held = self._held.get(r["application_id"])
            if held is not None:
                app = held[0]
                for c in app.choices:
                    if c.kindergarten_id == kindergarten_id:
                        c.sibling_priority = priority
                self._held[app.id] = (app, held[1], _choice_state(app))

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

    async def due_for_aging(self, born_up_to: int, limit: int) -> list[int]:
        return await self._ids(
            """SELECT id FROM applications
            WHERE active AND birth_year <= :cutoff AND status IN ('QUEUED','INACTIVE','ENROLLED')
            ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED""",
            cutoff=born_up_to,
            n=limit,
        )

    async def inactive(self, limit: int) -> list[int]:
        return await self._ids(
            """SELECT id FROM applications WHERE status = 'INACTIVE'
            ORDER BY inactive_since LIMIT :n FOR UPDATE SKIP LOCKED""",
            n=limit,
        )

    async def due_for_benefit_check(self, now: dt.datetime, limit: int) -> list[int]:
        return await self._ids(
            """SELECT id FROM applications WHERE active AND next_benefit_check_at <= :now
            ORDER BY next_benefit_check_at LIMIT :n FOR UPDATE SKIP LOCKED""",
            now=now,
            n=limit,
        )

    async def schedule_benefit_check(self, application_id: int, at: dt.datetime, failures: int) -> None:
        await self._execute(
            "UPDATE applications SET next_benefit_check_at = :at, benefit_check_failures = :f WHERE id = :i",
            {"at": at, "f": failures, "i": application_id},
        )

    async def benefit_check_failures(self, application_id: int) -> int:
        row = await self._one("SELECT benefit_check_failures FROM applications WHERE id = :i", i=application_id)
        return int(row["benefit_check_failures"]) if row else 0

    async def new_sibling_group(self, at: dt.datetime) -> int:
        return await self._new_id("INSERT INTO sibling_groups (created_at) VALUES (:at) RETURNING id", at=at)

    async def sibling_group_members(self, sibling_group_id: int) -> list[int]:
        rows = await self._rows(
            "SELECT id FROM applications WHERE sibling_group_id = :g AND active AND in_queue ORDER BY id",
            g=sibling_group_id,
        )
        return [r["id"] for r in rows]
