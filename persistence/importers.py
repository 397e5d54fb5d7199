"""Bulk loads of the places and sandbox files (docs/api.md §2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import school_year, seats_over_time
from domain.age import SCHOOL_AGE


async def holds_data(conn: AsyncConnection) -> bool:
    """Whether the database holds places, registries or people already: demo seeding fills only one that does not."""
    row = await conn.execute(
        text(
            """SELECT EXISTS (SELECT 1 FROM regions) OR EXISTS (SELECT 1 FROM kindergartens)
                OR EXISTS (SELECT 1 FROM sandbox_persons) OR EXISTS (SELECT 1 FROM persons)
                OR EXISTS (SELECT 1 FROM applications)"""
        )
    )
    return bool(row.scalar())


async def upsert_places(conn: AsyncConnection, places: Any) -> dict[str, int]:
    """Upserts by code / externalId, so importing the same file twice changes nothing."""
    counts = {"regions": 0, "districts": 0, "kindergartens": 0, "groups": 0}
    for region in places.regions:
        await conn.execute(
            text(
                """INSERT INTO regions (code, name_kk, name_ru) VALUES (:c, :kk, :ru)
                ON CONFLICT (code) DO UPDATE SET name_kk = EXCLUDED.name_kk, name_ru = EXCLUDED.name_ru"""
            ),
            {"c": region.code, "kk": region.name_kk, "ru": region.name_ru},
        )
        counts["regions"] += 1
        for d in region.districts:
            await conn.execute(
                text(
                    """INSERT INTO districts (code, region_code, name_kk, name_ru) VALUES (:c, :r, :kk, :ru)
                    ON CONFLICT (code) DO UPDATE SET region_code = EXCLUDED.region_code,
                        name_kk = EXCLUDED.name_kk, name_ru = EXCLUDED.name_ru"""
                ),
                {"c": d.code, "r": region.code, "kk": d.name_kk, "ru": d.name_ru},
            )
            counts["districts"] += 1
    for kg in places.kindergartens:
        row = (
            await conn.execute(
                text(
                    """INSERT INTO kindergartens (external_id, district_code, name_kk, name_ru, address, ownership,
                        state_order, latitude, longitude)
                    VALUES (:e, :d, :kk, :ru, :a, :o, :s, :lat, :lon)
                    ON CONFLICT (external_id) DO UPDATE SET district_code = EXCLUDED.district_code,
                        name_kk = EXCLUDED.name_kk, name_ru = EXCLUDED.name_ru, address = EXCLUDED.address,
                        ownership = EXCLUDED.ownership, state_order = EXCLUDED.state_order,
                        latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude
                    RETURNING id"""
                ),
                {
                    "e": kg.external_id,
                    "d": kg.district_code,
                    "kk": kg.name_kk,
                    "ru": kg.name_ru,
                    "a": kg.address,
                    "o": kg.ownership.value,
                    "s": kg.state_order,
                    "lat": kg.latitude,
                    "lon": kg.longitude,
                },
            )
        ).one()
        counts["kindergartens"] += 1
        before = {
            r.external_id: r.capacity
            for r in await conn.execute(
                text("SELECT external_id, capacity FROM groups WHERE kindergarten_id = :k"), {"k": row.id}
            )
        }
        changed = [g for g in kg.groups if before.get(g.external_id, g.capacity) != g.capacity]
        if changed:
            # A capacity changed by an import is a state change like any other: it is audited.
            await conn.execute(
                text(
                    """INSERT INTO audit_log (at, actor_role, actor_subject, channel, entity_type, entity_id, action,
                        before, after, reason)
                    SELECT now(), 'system', 'kezek import places', 'kezek-cli', 'group', g.id::text,
                        'CAPACITY_CHANGED', jsonb_build_object('capacity', CAST(:old AS int)),
                        jsonb_build_object('capacity', CAST(:new AS int)), 'places import'
                    FROM groups g WHERE g.kindergarten_id = :k AND g.external_id = :e"""
                ),
                [{"k": row.id, "e": g.external_id, "old": before[g.external_id], "new": g.capacity} for g in changed],
            )
        if kg.groups:
            await conn.execute(
                text(
                    """INSERT INTO groups (kindergarten_id, external_id, birth_year_from, birth_year_to, language,
                        group_type, capacity) VALUES (:k, :e, :f, :t, :l, :g, :c)
                    ON CONFLICT (kindergarten_id, external_id) DO UPDATE SET
                        birth_year_from = EXCLUDED.birth_year_from, birth_year_to = EXCLUDED.birth_year_to,
                        language = EXCLUDED.language, group_type = EXCLUDED.group_type, capacity = EXCLUDED.capacity"""
                ),
                [
                    {
                        "k": row.id,
                        "e": g.external_id,
                        "f": g.birth_year_from,
                        "t": g.birth_year_to,
                        "l": g.language.value,
                        "g": g.group_type.value,
                        "c": g.capacity,
                    }
                    for g in kg.groups
                ],
            )
            counts["groups"] += len(kg.groups)
    return counts


async def import_sandbox(conn: AsyncConnection, sandbox: Any) -> dict[str, int]:
    """Replaces the sandbox registries with the file's content, by COPY (national-scale files)."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await conn.execute(text("TRUNCATE sandbox_persons, sandbox_families, sandbox_benefits, sandbox_health"))
    await driver.copy_records_to_table(
        "sandbox_persons",
        records=[(p.iin, p.full_name, p.birth_date, p.sex, p.alive, p.district_code, p.phone) for p in sandbox.persons],
        columns=["iin", "full_name", "birth_date", "sex", "alive", "district_code", "phone"],
    )
    pairs = {(f.child_iin, r) for f in sandbox.families for r in f.representative_iins}
    await driver.copy_records_to_table(
        "sandbox_families", records=sorted(pairs), columns=["child_iin", "representative_iin"]
    )
    benefits = {(b.iin, b.category.value, b.evidence_id) for b in sandbox.benefits}
    await driver.copy_records_to_table(
        "sandbox_benefits", records=sorted(benefits), columns=["iin", "category", "evidence_id"]
    )
    health = {(h.child_iin, h.document_id): (h.child_iin, h.kind, h.document_id, h.issued_on) for h in sandbox.health}
    await driver.copy_records_to_table(
        "sandbox_health",
        records=list(health.values()),
        columns=["child_iin", "kind", "document_id", "issued_on"],
    )
    return {
        "persons": len(sandbox.persons),
        "families": len(pairs),
        "benefits": len(benefits),
        "health": len(health),
    }


async def fill_groups(conn: AsyncConnection, since: dt.date = dt.date(2025, 9, 1)) -> int:
    """Demo only: every group full of children enrolled before Kezek, so a seat frees only when someone
    raises a capacity or a child leaves, as in a real town. Placeholders carry no IIN."""
    result = await conn.execute(
        text(
            """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, since)
            SELECT 'enrolled-before-kezek-' || g.id || '-' || n, g.id, g.kindergarten_id, :since
            FROM groups g CROSS JOIN LATERAL generate_series(g.enrolled + g.held + 1, g.capacity) AS n
            ON CONFLICT DO NOTHING"""
        ),
        {"since": since},
    )
    return int(result.rowcount or 0)


async def plan_next_school_year(conn: AsyncConnection, today: dt.date) -> dict[str, int]:
    """Demo only: the coming school year to run an intake for (docs/product.md §10). The children enrolled
    before Kezek leave by the default departure (31 August of the year they turn 6, when that is still to
    come); nursery groups of the youngest year grow from 1 September; one new group opens then in each town."""
    year = school_year.school_year_of(today) + 1
    september = school_year.first_day(year)
    leaving = await conn.execute(
        text(
            """UPDATE enrollments e SET leaves_on = make_date(g.birth_year_to + :age, :m, :d)
            FROM groups g WHERE g.id = e.group_id AND e.ended_at IS NULL AND e.leaves_on IS NULL
              AND e.child_iin LIKE 'enrolled-before-kezek-%'
              AND make_date(g.birth_year_to + :age, :m, :d) >= :today"""
        ),
        {
            "age": SCHOOL_AGE,
            "m": seats_over_time.DEPARTURE_MONTH,
            "d": seats_over_time.DEPARTURE_DAY,
            "today": today,
        },
    )
    growing = await conn.execute(
        text(
            """UPDATE groups SET scheduled_capacity = capacity + 5, scheduled_from = :s
            WHERE birth_year_from = (SELECT max(birth_year_to) FROM groups) AND group_type = 'GENERAL'"""
        ),
        {"s": september},
    )
    opening = await conn.execute(
        text(
            """INSERT INTO groups (kindergarten_id, external_id, birth_year_from, birth_year_to, language, group_type,
                capacity, opens_on)
            SELECT DISTINCT ON (k.district_code) k.id, 'G-' || (:y - 2) || '-RU-NEW', :y - 2, :y - 2, 'RU', 'GENERAL',
                15, :s
            FROM kindergartens k WHERE k.ownership = 'STATE' ORDER BY k.district_code, k.id
            ON CONFLICT DO NOTHING"""
        ),
        {"y": year, "s": september},
    )
    return {
        "leaving": int(leaving.rowcount or 0),
        "capacities_from_september": int(growing.rowcount or 0),
        "groups_opening": int(opening.rowcount or 0),
    }
